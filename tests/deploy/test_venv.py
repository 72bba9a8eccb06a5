"""A --python-home venv needs only the app's own packages: cffi comes from
pywsgi-embed's side (the site-packages the package is installed in, or
the _cffi_backend the gateway was built with), on both servers."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests import harness

APP = """\
import sys
import _cffi_backend


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s\\n%s\\n" % (sys.prefix, _cffi_backend.__file__)).encode()]
"""


def make_venv(path):
    """A venv of the Python that built the gateway, without pip or cffi."""
    subprocess.run(
        [sys._base_executable, "-m", "venv", "--without-pip", str(path)],
        check=True,
    )
    probe = subprocess.run(
        [str(path / "bin" / "python"), "-c", "import _cffi_backend"],
        capture_output=True,
    )
    assert probe.returncode != 0, "the new venv has cffi"
    return path


def serve(server, tmp_path, **options):
    app = tmp_path / "app.py"
    app.write_text(APP)
    return harness.start(
        server, {"/": str(app)}, str(tmp_path / "srv"), **options
    )


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_a_venv_without_cffi_serves(tmp_path, server):
    venv = make_venv(tmp_path / "venv")
    running = serve(server, tmp_path, python_home=str(venv))
    try:
        status, body = harness.fetch(running.url("/"))
    finally:
        running.kill()
    assert status == 200, body
    prefix, backend = body.decode().split("\n")[:2]
    assert prefix == str(venv)
    assert os.path.isfile(backend)


def installed_copy(site):
    """The package laid out as pip installs it: site/pywsgi_embed with its
    gateway and modules, and cffi's backend beside it in site."""
    import _cffi_backend

    import pywsgi_embed

    pkg = os.path.dirname(pywsgi_embed.__file__)
    shutil.copytree(
        pkg,
        site / "pywsgi_embed",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(_cffi_backend.__file__, site)
    return site / "pywsgi_embed"


def test_the_installed_package_site_packages_is_reached(tmp_path):
    """The module loads <pkg>/modules/../_gateway.so: the gateway puts
    <site> (not <pkg>/modules) on sys.path, so cffi comes from there."""
    site = tmp_path / "site-packages"
    site.mkdir()
    pkg = installed_copy(site)
    venv = make_venv(tmp_path / "venv")
    app = tmp_path / "app.py"
    app.write_text(APP)
    port = harness.free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        """\
load_module %(pkg)s/modules/ngx_http_pywsgi_module.so;
daemon off;
master_process on;
worker_processes 1;
user root;
thread_pool pywsgi threads=2;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    pywsgi_python_home %(venv)s;
    server {
        listen 127.0.0.1:%(port)d;
        location / { pywsgi_app %(app)s; }
    }
}
"""
        % dict(pkg=pkg, tmp=tmp_path, venv=venv, port=port, app=app)
    )
    proc = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert harness.wait_for_port(port, proc), (
            tmp_path / "error.log"
        ).read_text()
        status, body = harness.fetch("http://127.0.0.1:%d/" % port)
    finally:
        # the whole group: a master killed alone leaves its worker running,
        # holding its port, after the test
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert status == 200, body
    backend = body.decode().split("\n")[1]
    assert backend == str(site / os.path.basename(backend))
