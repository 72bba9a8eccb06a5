"""`pywsgi-embed serve --reload`: an edit of the app's file reloads the
server gracefully (nginx -s reload, Apache's graceful restart) with no
request lost; an edit that does not import keeps the old code serving."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests import harness
from tests.recycle.load import Load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
APP = os.path.join(harness.APPS, "recycle_app.py")


class Serve:
    """`pywsgi-embed serve --reload APP` with its output in a file."""

    def __init__(self, tmp_path, app, *args):
        self.port = harness.free_port()
        self.host = "127.0.0.1"
        self.log = tmp_path / "serve.out"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pywsgi_embed", "serve", str(app)]
                + ["--reload", "--port", str(self.port)]
                + list(args),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if not harness.wait_for_port(self.port, self.proc, timeout=60):
            pytest.fail("serve did not start:\n" + self.output())

    def url(self, path="/"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def output(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def app_copy(tmp_path):
    path = tmp_path / "app.py"
    shutil.copy(APP, path)
    return path


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_serve_reload_loads_the_edit_and_loses_no_request(
    server, app_copy, tmp_path
):
    srv = Serve(tmp_path, app_copy, "--server", server, "--workers", "2")
    try:
        with Load(srv, "/version") as load:
            assert load.until(lambda: len(load.results) >= 20)
            # another length: the .pyc check is mtime (seconds) and size
            harness.set_app_version(app_copy, "v2-reloaded")
            # (a child Apache starts meanwhile imports v2 by itself)
            assert load.until(
                lambda: "reloading %s gracefully" % server in srv.output()
            ), srv.output()
            assert load.until(
                lambda: any(
                    b.startswith(b"v2-reloaded ") for b in load.bodies()
                )
            ), srv.output()
            done = len(load.results)
            assert load.until(lambda: len(load.results) >= done + 20)
    finally:
        srv.stop()
    lost = load.lost()
    print(
        "serve --reload on %s: %d requests, %d lost"
        % (server, len(load.results), len(lost))
    )
    assert not lost, lost[:3]
    assert {b.split()[0] for b in load.bodies()} == {b"v1", b"v2-reloaded"}
    assert "reloading %s gracefully" % server in srv.output()


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_serve_reload_of_a_broken_edit_keeps_the_old_code(
    server, app_copy, tmp_path
):
    srv = Serve(tmp_path, app_copy, "--server", server)
    try:
        status, before = harness.fetch(srv.url("/version"))
        assert before.startswith(b"v1 ")
        app_copy.write_text(
            app_copy.read_text().replace('VERSION = "v1"', 'VERSION = "v2"')
            + "\nraise ImportError('broken on purpose')\n"
        )
        assert harness.wait_until(
            lambda: "no longer imports" in srv.output(), timeout=60
        )
        # the traceback as Python wrote it, one line a frame (Apache's
        # config test escapes the newlines of its log)
        assert "\nImportError: broken on purpose" in srv.output()
        assert harness.fetch(srv.url("/version")) == (200, before)
    finally:
        srv.stop()
    assert "reloading" not in srv.output()


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_serve_reload_checks_the_app_with_its_environment(
    server, app_copy, tmp_path
):
    # the app imports only with serve's --env: the check before a reload
    # is the workers' own (the config test), which has it
    app_copy.write_text(
        'import os\nos.environ["PYWSGI_TEST_NEEDED"]\n' + app_copy.read_text()
    )
    srv = Serve(
        tmp_path, app_copy, "--server", server, "--env", "PYWSGI_TEST_NEEDED=1"
    )
    try:
        assert harness.fetch(srv.url("/version"))[1].startswith(b"v1 ")
        harness.set_app_version(app_copy, "v2-reloaded")
        assert harness.wait_until(
            lambda: harness.fetch(srv.url("/version"))[1].startswith(
                b"v2-reloaded "
            ),
            timeout=60,
        ), srv.output()
    finally:
        srv.stop()
    assert "reloading %s gracefully" % server in srv.output()


LAZY_APP = '''
def application(environ, start_response):
    import lazy_views  # at the first request, as Django imports its views

    body = lazy_views.VERSION.encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
'''


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_serve_reload_watches_the_modules_an_app_imports_late(
    server, tmp_path
):
    # lazy_views is not imported when serve starts, only by a request:
    # its edit reloads all the same (a .py file beside the app's own)
    app = tmp_path / "lazy_app.py"
    app.write_text(LAZY_APP)
    views = tmp_path / "lazy_views.py"
    views.write_text('VERSION = "v1"\n')
    srv = Serve(tmp_path, app, "--server", server)
    try:
        assert harness.fetch(srv.url("/")) == (200, b"v1")
        views.write_text('VERSION = "v2-late"\n')  # another size and mtime
        assert harness.wait_until(
            lambda: harness.fetch(srv.url("/")) == (200, b"v2-late"),
            timeout=60,
        ), srv.output()
    finally:
        srv.stop()
    assert "lazy_views.py changed" in srv.output()
