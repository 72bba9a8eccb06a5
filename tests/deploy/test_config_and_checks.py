"""`config` says where each part goes; install's check finds a module
built for another nginx."""

import shutil
import subprocess
import sys

from pywsgi_embed import servers, system
from pywsgi_embed.servers import nginx as nginx_runner
from tests.test_cli import HELLO, ROOT


def config(server):
    proc = subprocess.run(
        [sys.executable, "-m", "pywsgi_embed", "config", server, HELLO],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_config_nginx_says_where_each_part_goes():
    out = config("nginx")
    assert "/etc/nginx/modules-enabled/" in out
    assert "/etc/nginx/conf.d/pywsgi.conf" in out
    assert "/etc/nginx/sites-available/" in out
    assert "replaces the default site's own" in out
    assert "client_max_body_size 100m;" in out
    assert "www-data" in out and "pywsgi-embed install nginx" in out


def test_config_apache_says_where_each_part_goes():
    out = config("apache")
    assert "/etc/apache2/mods-available/" in out and "pywsgi.load" in out
    assert "mods-available/pywsgi.conf" in out and "a2enmod pywsgi" in out
    assert "sites-available/000-default.conf" in out
    assert "a2dismod wsgi" in out


def test_a_module_built_for_another_nginx_is_found(tmp_path, monkeypatch):
    """nginx compares the module's signature (its configure flags) with
    its own: one flag changed is what a module of another build has."""
    copy = tmp_path / "ngx_http_pywsgi_module.so"
    shutil.copy(servers.module_path("nginx"), copy)
    data = copy.read_bytes()
    at = data.index(b"8,4,8,") + 6
    flipped = b"1" if data[at : at + 1] == b"0" else b"0"
    copy.write_bytes(data[:at] + flipped + data[at + 1 :])
    monkeypatch.setattr(nginx_runner, "module_path", lambda name: str(copy))
    (problem,) = system.check_module_loads("nginx")
    assert "does not load the module built here" in problem
    assert "not binary compatible" in problem
    assert "Reinstall pywsgi-embed" in problem
