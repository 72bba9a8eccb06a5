"""The Python a worker gets is the one the gateway was built for, or the
server refuses to start, naming both: the config-time check
(csrc/pywsgi_check.c) and each worker run the same checks
(csrc/python_identity.c), on nginx and Apache alike."""

import os
import socket
import subprocess
import sys

import pytest

from pywsgi_embed import system
from tests import harness

SERVERS = ["nginx", "apache"]
BUILD_PREFIX = os.path.realpath(sys.base_prefix)
DEBIAN_PYTHON = "/usr/bin/python3"

APP = "def application(environ, start_response):\n    pass\n"


def runner(server, workdir, app, **options):
    options = harness.servers.Options(
        mounts=[harness.Mount("/", str(app))],
        port=harness.free_port(),
        **options,
    )
    return harness.servers.get(server)(options, str(workdir))


def refusal(server, workdir, app, edit=None, **options):
    """(what `-t` says, what a start says) for a config that must fail;
    edit(text) may rewrite the rendered config."""
    srv = runner(server, workdir, app, **options)
    path = srv.write_config()
    if edit is not None:
        with open(path) as f:
            text = edit(f.read())
        with open(path, "w") as f:
            f.write(text)
    said = srv.check_config(path)
    assert said is not None, "%s -t accepted %s" % (server, path)
    started = subprocess.run(
        srv.argv(path), capture_output=True, text=True, timeout=60
    )
    assert started.returncode != 0, "%s started" % server
    # the server exited: no master holds the port with no worker behind it
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", srv.options.port)) != 0
    return said, started.stdout + started.stderr


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "app.py"
    path.write_text(APP)
    return path


def debian_venv(path):
    subprocess.run(
        [DEBIAN_PYTHON, "-m", "venv", "--without-pip", str(path)], check=True
    )
    return path


@pytest.mark.skipif(
    os.path.realpath(DEBIAN_PYTHON).startswith(BUILD_PREFIX),
    reason="the gateway was built with Debian's own Python",
)
@pytest.mark.parametrize("server", SERVERS)
def test_a_venv_of_another_build_is_refused(tmp_path, app, server):
    venv = debian_venv(tmp_path / "venv")
    for said in refusal(server, tmp_path / "w", app, python_home=str(venv)):
        assert "the venv %s was made by the Python in /usr" % venv in said
        assert "built for the Python in %s" % BUILD_PREFIX in said
        assert "No module named" not in said


@pytest.mark.parametrize("server", SERVERS)
def test_a_home_of_another_installation_is_refused(tmp_path, app, server):
    for said in refusal(server, tmp_path / "w", app, python_home="/usr"):
        assert "the Python home /usr is another Python installation" in said
        assert BUILD_PREFIX in said


@pytest.mark.parametrize("server", SERVERS)
def test_a_home_that_is_not_a_python_is_refused(tmp_path, app, server):
    home = tmp_path / "not-a-python"
    home.mkdir()
    for said in refusal(server, tmp_path / "w", app, python_home=str(home)):
        assert (
            "Python cannot start: the Python home %s is neither a venv" % home
            in said
        )
        assert "cannot be loaded" not in said  # the app is not blamed


def as_www_data(server):
    """The config with the workers as www-data, not root."""
    return lambda text: system.as_workers_user(
        server, text, "www-data", "www-data"
    )


def readable_by_www_data(tmp_path):
    """An app directory every user can read (pytest's are root-only)."""
    os.chmod(tmp_path, 0o755)
    path = tmp_path / "app.py"
    path.write_text(APP)
    os.chmod(path, 0o644)
    return path


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to set a user")
@pytest.mark.parametrize("server", SERVERS)
def test_a_libpython_the_workers_cannot_read_is_refused(tmp_path, server):
    """As root, -t checks as the workers' user: www-data cannot read the
    build's libpython (under /root, mode 700), so the loader would take
    another of the same soname, or none."""
    lib = system.libpython()
    if not system.unreadable("www-data", "www-data", [lib]):
        pytest.skip("www-data can read %s here" % lib)
    app = readable_by_www_data(tmp_path)
    for said in refusal(server, tmp_path / "w", app, edit=as_www_data(server)):
        assert "user www-data (uid 33) cannot read %s" % lib in said or (
            "the workers' user www-data" in said and lib in said
        ), said
