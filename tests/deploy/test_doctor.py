"""`doctor` runs the checks of `install` on the system's own servers and
says what their workers' user will see, and finds mod_wsgi beside ours."""

import os
import subprocess
import sysconfig

import pytest

from tests.deploy.system import ROOT

DOCTOR = [os.path.join(ROOT, ".venv", "bin", "pywsgi-embed"), "doctor"]
WSGI_LOAD = "/etc/apache2/mods-enabled/wsgi.load"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.isdir("/etc/apache2"),
    reason="needs root and Debian's nginx and apache2 packages",
)


def build_libpython():
    return os.path.realpath(
        os.path.join(
            sysconfig.get_config_var("LIBDIR"),
            sysconfig.get_config_var("INSTSONAME"),
        )
    )


@pytest.fixture
def mod_wsgi_enabled():
    """Debian's mod_wsgi enabled, as a2enmod wsgi does, for the test."""
    made = not os.path.lexists(WSGI_LOAD)
    if made:
        os.symlink("../mods-available/wsgi.load", WSGI_LOAD)
    yield
    if made:
        os.remove(WSGI_LOAD)


def test_doctor_says_what_the_workers_see(mod_wsgi_enabled):
    lib = build_libpython()
    readable = subprocess.run(
        ["setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups"]
        + ["test", "-r", lib]
    )
    proc = subprocess.run(DOCTOR, capture_output=True, text=True, timeout=120)
    out = proc.stdout
    assert proc.returncode == 1
    assert "Debian's mod_wsgi is enabled in this Apache" in out
    if readable.returncode != 0:
        assert "the nginx workers' user www-data cannot read %s" % lib in out
        # the workers' own words: the config-time check run as www-data
        assert "the nginx workers (user www-data) cannot start Python" in out
        assert "this process loaded Python" in out or "cannot load" in out
