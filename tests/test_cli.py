"""The pywsgi-embed command, run as a user runs it."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests import harness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELLO = os.path.join(ROOT, "examples", "hello.py")


def cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "pywsgi_embed"] + list(args),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        **kwargs,
    )


def serve(*args):
    port = harness.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pywsgi_embed", "serve"]
        + list(args)
        + ["--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if not harness.wait_for_port(port, proc, timeout=30):
        out = proc.communicate(timeout=30)[0]
        pytest.fail("serve did not start:\n" + out)
    return proc, port


class Serving:
    """A running `pywsgi-embed serve`; a failure inside the with block
    carries the command's output (its server's log)."""

    def __init__(self, proc, port):
        self.proc, self.port = proc, port

    def __enter__(self):
        return self

    def stop(self, signum=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.communicate(timeout=30)[0]

    def __exit__(self, kind, exc, tb):
        if exc is not None:
            out = self.stop()
            raise AssertionError(
                "%r; pywsgi-embed serve said:\n%s" % (exc, out)
            ) from exc
        if self.proc.poll() is None:
            self.stop()


def get(port, path="/"):
    with urllib.request.urlopen(
        "http://127.0.0.1:%d%s" % (port, path), timeout=10
    ) as r:
        return r.status, r.read()


def no_server_left(port):
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


@pytest.mark.parametrize("server", ["nginx", "apache"])
@pytest.mark.parametrize(
    "stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_serve_serves_then_stops_cleanly(server, stop):
    proc, port = serve(HELLO, "--server", server, "--mount", "/hello")
    with Serving(proc, port) as running:
        status, body = get(port, "/hello/")
        assert status == 200
        assert body.startswith(b"Hello from Python inside")
        out = running.stop(stop)
    assert proc.returncode == 0, out
    assert "stopping %s" % server in out
    assert no_server_left(port)


def test_serve_inline_mode_and_several_mounts():
    proc, port = serve(
        HELLO, "--mode", "inline", "--mount", "/a", "--mount", "/b"
    )
    with Serving(proc, port):
        assert get(port, "/a/")[0] == 200
        assert get(port, "/b/x")[0] == 200


@pytest.mark.parametrize(
    "app, reason",
    [
        ("examples/no_such_file.py", "no such file"),
        ("examples/hello.py:nothere", "has no 'nothere'"),
        ("no_such_package_xyz.web:app", "no such module"),
    ],
)
def test_serve_refuses_an_app_that_does_not_load(app, reason):
    started = time.monotonic()
    proc = cli("serve", app, "--port", str(harness.free_port()))
    assert proc.returncode == 1
    assert reason in proc.stderr
    assert "serving" not in proc.stderr  # no server was started
    assert time.monotonic() - started < 30


def test_serve_reports_the_traceback_of_an_import_error(tmp_path):
    app = tmp_path / "broken.py"
    app.write_text("import os\n\nraise KeyError('missing setting')\n")
    proc = cli("serve", str(app), "--port", str(harness.free_port()))
    assert proc.returncode == 1
    assert str(app) in proc.stderr
    assert (
        "line 3" in proc.stderr
        and "KeyError: 'missing setting'" in proc.stderr
    )


def test_serve_a_module_spec_from_the_current_directory(tmp_path):
    (tmp_path / "mysite.py").write_text(
        "def make():\n"
        "    def app(environ, start_response):\n"
        "        start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "        return [b'factory made']\n"
        "    return app\n"
    )
    port = harness.free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pywsgi_embed",
            "serve",
            "mysite:make()",
            "--port",
            str(port),
        ],
        cwd=str(tmp_path),
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with Serving(proc, port):
        assert harness.wait_for_port(port, proc, timeout=30)
        assert get(port) == (200, b"factory made")


@pytest.mark.parametrize(
    "server, module, directive",
    [
        ("nginx", "ngx_http_pywsgi_module.so", "pywsgi_app"),
        ("apache", "mod_pywsgi.so", "PyWSGIApp"),
    ],
)
def test_config_prints_the_module_and_the_app(server, module, directive):
    proc = cli("config", server, "examples/hello.py", "--mount", "/hi")
    assert proc.returncode == 0, proc.stderr
    assert os.path.join(ROOT, "pywsgi_embed", "modules", module) in proc.stdout
    assert (
        directive in proc.stdout
        and HELLO in proc.stdout
        and "/hi" in proc.stdout
    )


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_module_path(server):
    proc = cli("module-path", server)
    assert proc.returncode == 0, proc.stderr
    assert os.path.isfile(proc.stdout.strip())


def test_doctor_reports_each_part():
    proc = cli("doctor")
    out = proc.stdout
    for part in ("python", "cffi", "gateway", "nginx", "apache"):
        assert part in out
    with open(os.path.join(ROOT, "csrc", "pywsgi.h")) as f:
        abi = re.search(r"#define PYWSGI_ABI_VERSION (\d+)", f.read()).group(1)
    assert "loads" in out and "(ABI %s)" % abi in out
    # this checkout is healthy except perhaps for the cffi version; the
    # system servers' workers may not reach it (tests/deploy/test_doctor.py)
    problems = [
        line
        for line in out.splitlines()
        if line.startswith("[problem]")
        and not line.startswith("[problem] /etc")
    ]
    assert all("cffi" in line for line in problems), problems


PROCESS_APP = """
import os
SHELL = os.environ["PYWSGI_T_SHELL"]   # read at import time
DATA = open("data.txt").read()         # relative to --chdir

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s|%s|%s|%s" % (SHELL, os.environ.get("PYWSGI_T_FLAG"),
             os.environ.get("PYWSGI_T_OVER"), DATA)).encode()]
"""


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_serve_passes_its_environment_env_and_chdir(tmp_path, server):
    site, work = tmp_path / "site", tmp_path / "work"
    site.mkdir()
    work.mkdir()
    (site / "wsgi.py").write_text(PROCESS_APP)
    (work / "data.txt").write_text("work data")
    port = harness.free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pywsgi_embed",
            "serve",
            "site/wsgi.py",
            "--server",
            server,
            "--port",
            str(port),
            "--env",
            "PYWSGI_T_FLAG=a=b c",
            "--env",
            "PYWSGI_T_OVER=from --env",
            "--chdir",
            "work",
        ],
        cwd=str(tmp_path),
        env=dict(
            os.environ,
            PYTHONPATH=ROOT,
            PYWSGI_T_SHELL="from the shell",
            PYWSGI_T_OVER="from the shell",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with Serving(proc, port):
        # serve's "nginx -t" listens on the port for a moment too: wait for
        # the answer of the running server, not for the port
        answers = []

        def answered():
            try:
                answers.append(get(port))
                return True
            except OSError:
                return proc.poll() is not None

        assert harness.wait_until(answered, timeout=60) and answers
        assert answers[-1] == (
            200,
            b"from the shell|a=b c|from --env|work data",
        )


def test_serve_refuses_a_bad_env():
    proc = cli("serve", HELLO, "--env", "NOVALUE")
    assert proc.returncode == 1
    assert "--env 'NOVALUE': give NAME=VALUE" in proc.stderr


@pytest.mark.parametrize(
    "server, env, chdir",
    [
        ("nginx", 'pywsgi_process_env "A" "1 2";', 'pywsgi_chdir "/srv";'),
        ("apache", 'PyWSGIProcessEnv "A" "1 2"', 'PyWSGIChdir "/srv"'),
    ],
)
def test_config_prints_the_process_settings(server, env, chdir):
    proc = cli(
        "config",
        server,
        "examples/hello.py",
        "--env",
        "A=1 2",
        "--chdir",
        "/srv",
    )
    assert proc.returncode == 0, proc.stderr
    assert env in proc.stdout.splitlines()
    assert chdir in proc.stdout.splitlines()


def test_nginx_passes_the_environment_but_its_own_variables():
    from pywsgi_embed.servers import nginx

    lines = nginx.env_lines(["HOME", "TZ", "NGINX", "DATABASE_URL", "X Y"])
    assert lines == ['env "HOME";', 'env "DATABASE_URL";', 'env "X Y";']
