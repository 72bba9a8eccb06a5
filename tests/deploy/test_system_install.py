"""`pywsgi-embed install nginx|apache` against the real /etc/nginx and
/etc/apache2, as a user does it: pip install into a venv of Debian's
python3, install, add the printed site snippet, serve a Django project as
www-data with a 5 MB upload, uninstall.  Every test puts back exactly what
it changed (compared file by file); the servers run on free ports with a
test main config that includes the system's own module and conf.d files,
so that the default site's port 80 is never taken."""

import os
import shutil
import subprocess
import tempfile

import pytest

from pywsgi_embed import system
from tests import harness
from tests.deploy import system as sysutil

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.isdir("/etc/nginx"),
    reason="needs root and Debian's nginx and apache2 packages",
)

UPLOAD = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def venv():
    return sysutil.debian_venv()


@pytest.fixture
def site():
    """A folder www-data can read: the Django project, the test config."""
    folder = tempfile.mkdtemp(prefix="pywsgi-deploy-", dir="/tmp")
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def site_part(out):
    """The printed site snippet: from its first comment to the end."""
    return out[out.index("# in your site's") :]


def serve_django(running, project):
    status, body = harness.fetch(running.url("/admin/login/"))
    assert status == 200 and b"csrfmiddlewaretoken" in body
    data = os.urandom(UPLOAD)
    form, ctype = sysutil.multipart("blob", data)
    status, body = harness.fetch(
        running.url("/upload/"), data=form, headers={"Content-Type": ctype}
    )
    assert (status, body) == (200, b"%d" % UPLOAD)


class Started:
    """A server process on a test config, as harness.Running wants it."""

    def __init__(self, argv, port, log):
        self.host, self.port, self.log = "127.0.0.1", port, log
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if not harness.wait_for_port(port, self.proc):
            self.stop()
            with open(log, errors="replace") as f:
                raise AssertionError("the server did not start:\n" + f.read())

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
        self.proc.wait()


def start_on(template, site, installed, argv):
    """The server on a test main config: template filled with the site
    folder, a free port and the site snippet `install` printed."""
    port = harness.free_port()
    conf = os.path.join(site, "test-main.conf")
    with open(conf, "w") as f:
        f.write(
            template.format(site=site, port=port, snippet=site_part(installed))
        )
    return Started(
        [arg.replace("{conf}", conf) for arg in argv],
        port,
        os.path.join(site, "error.log"),
    )


NGINX_MAIN = """\
include /etc/nginx/modules-enabled/*.conf;
user www-data;
daemon off;
worker_processes 1;
pid {site}/nginx.pid;
error_log {site}/error.log info;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {site}/body;
    include /etc/nginx/conf.d/*.conf;
    server {{
        listen 127.0.0.1:{port};
{snippet}
    }}
}}
"""


def test_nginx_install_serves_django_and_uninstall_restores(venv, site):
    before = sysutil.snapshot("/etc/nginx")
    project = sysutil.django_project(site)
    wsgi = os.path.join(project, "mysite", "wsgi.py")

    dry = sysutil.run_cli("install", "nginx", "--dry-run", "--app", wsgi)
    assert dry.returncode == 0, dry.stderr
    assert "/etc/nginx/modules-enabled/50-mod-http-pywsgi.conf" in dry.stdout
    assert "client_max_body_size" in dry.stdout
    assert "replaces the default site's" in dry.stdout
    assert sysutil.snapshot("/etc/nginx") == before

    done = sysutil.run_cli("install", "nginx", "--app", wsgi)
    running = None
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "%s on sys.path" % project in done.stderr
        assert subprocess.run(["nginx", "-t"]).returncode == 0
        body = os.path.join(site, "body")
        os.mkdir(body)
        shutil.chown(body, "www-data", "www-data")
        running = start_on(
            NGINX_MAIN,
            site,
            done.stdout,
            ["nginx", "-p", site, "-c", "{conf}", "-e", site + "/error.log"],
        )
        serve_django(running, project)
    finally:
        if running:
            running.stop()
        gone = sysutil.run_cli("uninstall", "nginx")
    assert gone.returncode == 0
    assert sysutil.snapshot("/etc/nginx") == before


APACHE_MAIN = """\
ServerRoot /etc/apache2
DefaultRuntimeDir {site}/run
PidFile {site}/apache2.pid
Mutex file:{site}/run default
ErrorLog {site}/error.log
LogLevel info
User www-data
Group www-data
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Listen 127.0.0.1:{port}
ServerName 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
{snippet}
</VirtualHost>
"""

MOD_WSGI = [
    "/etc/apache2/mods-enabled/wsgi.load",
    "/etc/apache2/mods-enabled/wsgi.conf",
]


@pytest.fixture
def without_mod_wsgi(site):
    """Debian's mod_wsgi, if enabled, moved aside and put back."""
    aside = os.path.join(site, "mod_wsgi-links")
    os.mkdir(aside)
    moved = []

    def disable():
        for path in MOD_WSGI:
            if os.path.lexists(path):
                shutil.move(path, os.path.join(aside, os.path.basename(path)))
                moved.append(path)

    def restore():
        while moved:
            path = moved.pop()
            shutil.move(os.path.join(aside, os.path.basename(path)), path)

    disable.restore = restore
    yield disable
    restore()


def test_apache_install_serves_django_and_uninstall_restores(
    venv, site, without_mod_wsgi
):
    before = sysutil.snapshot("/etc/apache2")
    project = sysutil.django_project(site)
    wsgi = os.path.join(project, "mysite", "wsgi.py")

    if os.path.lexists(MOD_WSGI[0]):
        refused = sysutil.run_cli("install", "apache", "--app", wsgi)
        assert refused.returncode == 1
        assert "Debian's mod_wsgi is enabled" in refused.stderr
        assert "a2dismod wsgi" in refused.stderr
        assert sysutil.snapshot("/etc/apache2") == before
    without_mod_wsgi()
    dry = sysutil.run_cli("install", "apache", "--dry-run", "--app", wsgi)
    assert dry.returncode == 0, dry.stderr
    assert "/etc/apache2/mods-available/pywsgi.conf" in dry.stdout

    done = sysutil.run_cli("install", "apache", "--app", wsgi)
    running = None
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        assert os.path.islink("/etc/apache2/mods-enabled/pywsgi.load")
        os.mkdir(os.path.join(site, "run"))
        running = start_on(
            APACHE_MAIN,
            site,
            done.stdout,
            ["apache2", "-f", "{conf}", "-DFOREGROUND"],
        )
        harness.wait_until(
            lambda: "resuming normal" in open(running.log).read(), 30
        )
        serve_django(running, project)
    finally:
        if running:
            running.stop()
        gone = sysutil.run_cli("uninstall", "apache")
    assert gone.returncode == 0
    assert "/etc/apache2/mods-enabled/pywsgi.load" in gone.stdout
    without_mod_wsgi.restore()
    assert sysutil.snapshot("/etc/apache2") == before


def test_install_refuses_a_python_the_workers_cannot_read():
    """This checkout's own venv runs on a pyenv under /root (mode 700)."""
    lib = system.libpython()
    if not system.unreadable("www-data", "www-data", [lib]):
        pytest.skip("www-data can read %s here" % lib)
    before = sysutil.snapshot("/etc/nginx")
    proc = subprocess.run(
        [os.path.join(sysutil.ROOT, ".venv", "bin", "pywsgi-embed")]
        + ["install", "nginx"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "the nginx workers' user www-data cannot read %s" % lib in (
        proc.stderr
    )
    assert "(mode 700)" in proc.stderr
    assert sysutil.snapshot("/etc/nginx") == before
