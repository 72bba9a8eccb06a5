"""`doctor` runs the checks of `install` on the system's own servers and
says what their workers' user will see, and finds mod_wsgi beside ours."""

import os
import subprocess

import pytest

from pywsgi_embed import system
from tests.deploy.system import ROOT

DOCTOR = [os.path.join(ROOT, ".venv", "bin", "pywsgi-embed"), "doctor"]
WSGI_LOAD = "/etc/apache2/mods-enabled/wsgi.load"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.isdir("/etc/apache2"),
    reason="needs root and Debian's nginx and apache2 packages",
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
    lib = system.libpython()
    unreadable = system.unreadable("www-data", "www-data", [lib])
    proc = subprocess.run(DOCTOR, capture_output=True, text=True, timeout=120)
    out = proc.stdout
    assert proc.returncode == 1
    assert "Debian's mod_wsgi is enabled in this Apache" in out
    if unreadable:
        assert "the nginx workers' user www-data cannot read %s" % lib in out
        # the workers' own words: the config-time check run as www-data
        assert "the nginx workers (user www-data) cannot start Python" in out
        assert "this process loaded Python" in out or "cannot load" in out
