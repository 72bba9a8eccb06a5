"""A `django-admin startproject` layout served as users write it:
`serve mysite/wsgi.py` and `serve mysite.wsgi` from the project folder
put the folder that holds the package on sys.path, and say so."""

import subprocess
import sys

import pytest

from tests import harness
from tests.deploy.system import serve_in
from tests.test_cli import Serving, get

WORKS = b"The install worked successfully"


@pytest.fixture
def project(tmp_path):
    """tmp_path/mysite: manage.py beside the package mysite/."""
    folder = tmp_path / "mysite"
    folder.mkdir()
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", folder],
        check=True,
    )
    assert (folder / "mysite" / "wsgi.py").is_file()
    return folder


@pytest.mark.parametrize("server", ["nginx", "apache"])
@pytest.mark.parametrize(
    "where, spec",
    [("parent", "mysite/mysite/wsgi.py"), ("project", "mysite.wsgi")],
)
def test_a_django_project_serves_as_written(project, server, where, spec):
    cwd = project.parent if where == "parent" else project
    proc, port = serve_in(cwd, spec, "--server", server)
    with Serving(proc, port) as serving:
        assert harness.wait_for_port(port, proc, timeout=60)
        status, body = get(port, "/")
        out = serving.stop()
    assert status == 200 and WORKS in body
    assert "%s on sys.path" % project in out


def test_config_puts_the_project_folder_on_the_path(project):
    proc = subprocess.run(
        [sys.executable, "-m", "pywsgi_embed", "config", "nginx"]
        + ["mysite/mysite/wsgi.py"],
        cwd=str(project.parent),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'pywsgi_python_path "%s";' % project in proc.stdout
    assert "the folder that holds the package mysite" in proc.stderr
