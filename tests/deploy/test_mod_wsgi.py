"""Debian's mod_wsgi beside ours shares the one libpython and its GIL
state (children abort at every stop): the module refuses to start with
it, and install/doctor find it enabled in /etc/apache2."""

import os

import pytest

from pywsgi_embed import system
from tests import harness

MOD_WSGI = "/usr/lib/apache2/modules/mod_wsgi.so"


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "app.py"
    path.write_text("def application(environ, start_response):\n    pass\n")
    return path


def test_apache_refuses_mod_wsgi_beside_it(tmp_path, app):
    assert os.path.exists(MOD_WSGI), "libapache2-mod-wsgi-py3 is missing"
    options = harness.servers.Options(
        mounts=[harness.Mount("/", str(app))],
        port=harness.free_port(),
        extra_config="LoadModule wsgi_module %s" % MOD_WSGI,
    )
    server = harness.servers.get("apache")(options, str(tmp_path / "w"))
    problem = server.check_config(server.write_config())
    assert problem and "mod_wsgi (mod_wsgi.c) is loaded" in problem
    assert "a2dismod wsgi" in problem


def test_the_check_finds_mod_wsgi_enabled(tmp_path):
    etc = tmp_path / "apache2"
    (etc / "mods-enabled").mkdir(parents=True)
    assert system.check_no_mod_wsgi(str(etc)) == []
    (etc / "mods-enabled" / "wsgi.load").write_text("LoadModule ...\n")
    (problem,) = system.check_no_mod_wsgi(str(etc))
    assert "Debian's mod_wsgi is enabled" in problem
    assert "a2dismod wsgi" in problem
