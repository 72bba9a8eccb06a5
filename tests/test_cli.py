"""The pywsgi-embed command, run as a user runs it."""

import os
import pathlib
import pwd
import re
import signal
import socket
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


def wait_serving(proc, port):
    """Wait for serve's "serving" line, then for the port: serve's check of
    the config (nginx -t) listens on the port for a moment before, and a
    connection that lands there is reset.  What serve printed so far is
    kept in proc.early_output."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("pywsgi-embed: serving"):
            break
    proc.early_output = "".join(seen)
    if not harness.wait_for_port(port, proc, timeout=30):
        out = proc.early_output + proc.communicate(timeout=30)[0]
        pytest.fail("serve did not start:\n" + out)


def wait_serving_file(proc, port, out_path):
    """wait_serving() of a serve whose output goes to out_path."""
    if not harness.wait_until(
        lambda: (
            "pywsgi-embed: serving" in out_path.read_text()
            or proc.poll() is not None
        ),
        60,
    ) or not harness.wait_for_port(port, proc, timeout=30):
        if proc.poll() is None:
            proc.kill()
        pytest.fail("serve did not start:\n" + out_path.read_text())


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
    wait_serving(proc, port)
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
        early = getattr(self.proc, "early_output", "")
        return early + self.proc.communicate(timeout=30)[0]

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
    wait_serving(proc, port)
    with Serving(proc, port):
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


# -- stopping with a request stuck in the app ---------------------------------


def server_pgid(proc):
    """The process group of the server that `serve` (proc) started: the
    server runs in its own session, its master is serve's only child."""
    with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
        return int(f.read().split()[0])


def live_members(pgid):
    """PIDs of the processes of group pgid that are not zombies."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


class StuckServe:
    """`pywsgi-embed serve` of tests/apps/stuck_app.py with one request
    stuck inside the app; its output goes to a file the test can read
    while it runs."""

    def __init__(self, tmp_path, server, *args):
        app = tmp_path / "stuck_app.py"
        app.write_text(
            open(os.path.join(ROOT, "tests", "apps", "stuck_app.py")).read()
        )
        self.marker = tmp_path / "entered"
        self.out_path = tmp_path / "serve.out"
        self.port = harness.free_port()
        with open(self.out_path, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pywsgi_embed", "serve", str(app)]
                + ["--server", server, "--port", str(self.port)]
                + list(args),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_serving_file(self.proc, self.port, self.out_path)
        self.pgid = server_pgid(self.proc)
        self.client = socket.create_connection(("127.0.0.1", self.port))
        self.client.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert harness.wait_until(self.marker.exists, 30), self.output()

    def output(self):
        return self.out_path.read_text()

    def wait(self):
        """serve's exit status; fails the test if it is still running
        after a bound far above the stop's own."""
        try:
            return self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.pgid, signal.SIGKILL)
            self.proc.kill()
            pytest.fail("serve did not stop:\n" + self.output())
        finally:
            self.client.close()


@pytest.mark.parametrize("server", ["nginx", "apache"])
@pytest.mark.parametrize(
    "stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_a_stuck_request_does_not_stop_the_stop(tmp_path, server, stop):
    serving = StuckServe(tmp_path, server, "--graceful-timeout", "1")
    serving.proc.send_signal(stop)
    code = serving.wait()
    out = serving.output()
    assert code == 0, out
    assert "stopping %s" % server in out
    # nginx's graceful stop waits for the stuck thread for ever: the fast
    # stop ends it; Apache's own graceful bound may end it before ours
    if server == "nginx":
        assert "fast stop of nginx" in out, out
    assert live_members(serving.pgid) == [], out
    assert no_server_left(serving.port)


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_a_second_ctrl_c_stops_at_once(tmp_path, server):
    # a graceful stop bound far beyond the test's own: only the second
    # Ctrl-C can end this stop in time
    serving = StuckServe(tmp_path, server, "--graceful-timeout", "3600")
    serving.proc.send_signal(signal.SIGINT)
    assert harness.wait_until(
        lambda: "Ctrl-C again" in serving.output(), 30
    ), serving.output()
    serving.proc.send_signal(signal.SIGINT)
    code = serving.wait()
    out = serving.output()
    assert code == 0, out
    assert "SIGINT: fast stop of %s" % server in out, out
    assert live_members(serving.pgid) == [], out


@pytest.mark.parametrize(
    "option, value",
    [
        ("--workers", "0"),
        ("--workers", "-1"),
        ("--threads", "0"),
        ("--port", "0"),
        ("--port", "70000"),
        ("--graceful-timeout", "-1"),
        ("--graceful-timeout", "nan"),
    ],
)
def test_serve_refuses_nonsense_numbers(option, value):
    proc = cli("serve", "examples/hello.py", option, value)
    assert proc.returncode == 2
    assert option in proc.stderr and value in proc.stderr
    assert "serving" not in proc.stderr


IGNORES_STOPS = """
import signal, sys
signal.signal(signal.SIGQUIT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").close()
signal.pause()
"""


class DeafServer:
    """A process that ignores both of a server's stop signals, in the place
    of the server: the last step of a stop, SIGKILL, must end it."""

    name = "deaf"
    stop_signal = signal.SIGQUIT
    hard_stop_signal = signal.SIGTERM


def test_a_server_deaf_to_its_stops_is_killed(tmp_path):
    marker = tmp_path / "ready"
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pywsgi_embed import foreground; "
            "from tests.test_cli import DeafServer; "
            "sys.exit(foreground.run(DeafServer(), sys.argv[1:], 0.5))",
            sys.executable,
            "-c",
            IGNORES_STOPS,
            str(marker),
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert harness.wait_until(marker.exists, 30)
    runner.send_signal(signal.SIGTERM)
    err = runner.communicate(timeout=60)[1]
    assert runner.returncode == 0, err
    steps = ["stopping deaf", "fast stop of deaf", "killing deaf"]
    assert all(step in err for step in steps), err
    assert sorted(steps, key=err.index) == steps, err


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_serve_on_a_port_in_use_says_so_before_serving(server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = cli("serve", HELLO, "--server", server, "--port", str(port))
    assert proc.returncode == 1
    assert "127.0.0.1:%d is in use" % port in proc.stderr
    assert "--port" in proc.stderr
    assert "serving" not in proc.stderr
    assert "AH00015" not in proc.stderr  # Apache's misleading "logs"


# -- logs ---------------------------------------------------------------------


def serve_to_file(tmp_path, *args):
    """serve with its stdout and stderr redirected to one file, as
    `pywsgi-embed serve ... > out 2>&1` does; (proc, port, out path)."""
    out_path = tmp_path / "serve.out"
    port = harness.free_port()
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pywsgi_embed", "serve"]
            + list(args)
            + ["--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_serving_file(proc, port, out_path)
    return proc, port, out_path


def stop_and_read(proc, out_path):
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    return out_path.read_text()


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_access_log_to_the_terminal(tmp_path, server):
    proc, port, out_path = serve_to_file(
        tmp_path, HELLO, "--server", server, "--access-log", "-"
    )
    assert get(port, "/logged-path")[0] == 200
    assert harness.wait_until(
        lambda: "GET /logged-path HTTP/1.1" in out_path.read_text(), 10
    ), out_path.read_text()
    stop_and_read(proc, out_path)


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_access_log_and_error_log_to_files(tmp_path, server):
    access, error = tmp_path / "access.log", tmp_path / "error.log"
    proc, port, out_path = serve_to_file(
        tmp_path,
        HELLO,
        "--server",
        server,
        "--access-log",
        str(access),
        "--error-log",
        str(error),
    )
    assert get(port, "/to-a-file")[0] == 200
    assert harness.wait_until(
        lambda: access.exists() and "GET /to-a-file" in access.read_text(),
        10,
    )
    out = stop_and_read(proc, out_path)
    assert error.read_text().strip(), "nothing in the error log"
    # the terminal has serve's own lines only
    assert all(line.startswith("pywsgi-embed: ") for line in out.splitlines())


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_output_redirected_to_a_file_keeps_every_line_whole(tmp_path, server):
    proc, port, out_path = serve_to_file(tmp_path, HELLO, "--server", server)
    for _ in range(3):  # closed keep-alive connections are not logged
        assert get(port)[0] == 200
    out = stop_and_read(proc, out_path)
    server_line = (
        re.compile(r"^\[\w{3} \w{3} [ \d]\d ")  # Apache
        if server == "apache"
        else re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[")  # nginx
    )
    lines = out.splitlines()
    assert lines[0].startswith("pywsgi-embed: serving"), out
    assert "stopping %s" % server in out
    bad = [
        line
        for line in lines
        if not line.startswith("pywsgi-embed: ")
        and not server_line.match(line)
    ]
    assert bad == [], out
    assert "[info]" not in out and ":info]" not in out, out


# -- help and config ----------------------------------------------------------


def test_serve_help_shows_defaults_app_forms_examples_environment():
    # one line per option: no default is wrapped apart
    out = cli("serve", "--help", env=dict(os.environ, COLUMNS="500")).stdout
    for default in ("(default: 8000)", "(default: 127.0.0.1)", "(default: 1)"):
        assert default in out
    assert "(default: nginx)" in out and "web server" in out  # --server
    assert "'mysite.web:create_app()'" in out and "app.py:api" in out
    assert "examples:" in out and "pywsgi-embed serve app.py" in out
    assert "environment:" in out and "PATH" in out
    assert "(default: None)" not in out


def test_main_help_has_examples():
    out = cli("--help").stdout
    assert "examples:" in out and "pywsgi-embed serve app.py" in out


@pytest.mark.parametrize(
    "option, value",
    [("--port", "9000"), ("--workers", "4"), ("--mpm", "worker")],
)
def test_config_refuses_what_the_system_server_decides(option, value):
    proc = cli("config", "nginx", "examples/hello.py", option, value)
    assert proc.returncode == 2
    assert "%s is not for config" % option in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "option, value", [("--threads", "4"), ("--mode", "inline")]
)
def test_config_apache_refuses_what_only_nginx_takes(option, value):
    proc = cli("config", "apache", "examples/hello.py", option, value)
    assert proc.returncode == 1
    assert option in proc.stderr and proc.stdout == ""


def test_config_refuses_an_app_file_that_does_not_exist():
    proc = cli("config", "apache", "examples/no_such_file.py")
    assert proc.returncode == 1
    assert "no such file" in proc.stderr and "no_such_file.py" in proc.stderr
    assert proc.stdout == ""


def test_make_run_takes_the_port_and_the_server():
    proc = subprocess.run(
        ["make", "-n", "run", "PORT=8123", "SERVER=apache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "serve examples/hello.py --server apache --port 8123" in proc.stdout


# -- the options a site needs -------------------------------------------------


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid in /proc/%d/status" % pid)


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_static_and_pid_file(tmp_path, server):
    public = tmp_path / "public"
    public.mkdir()
    (public / "style.css").write_text("body { color: teal }\n")
    pid_file = tmp_path / "server.pid"
    proc, port = serve(
        HELLO,
        "--server",
        server,
        "--static",
        "/assets=%s" % public,
        "--pid-file",
        str(pid_file),
    )
    with Serving(proc, port):
        # the file, not the app's greeting: the server served it
        assert get(port, "/assets/style.css") == (
            200,
            b"body { color: teal }\n",
        )
        assert get(port, "/")[1].startswith(b"Hello from Python")
        assert int(pid_file.read_text()) == server_pgid(proc)


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_user_runs_the_workers_or_says_what_it_cannot_read(server):
    from pywsgi_embed import cli as cli_module
    from pywsgi_embed.servers import Mount, Options

    needed = cli_module.what_workers_read(Options(mounts=[Mount("/", HELLO)]))
    unreadable = cli_module.unreadable_by("nobody", "nogroup", needed)
    if unreadable:
        # this machine's Python (pyenv under /root) is not nobody's to
        # read: a worker would load another libpython, or fail
        proc = cli("serve", HELLO, "--server", server, "--user", "nobody")
        assert proc.returncode == 1
        assert "--user nobody cannot read %s" % unreadable in proc.stderr
        assert "serving" not in proc.stderr
        return
    proc, port = serve(HELLO, "--server", server, "--user", "nobody")
    with Serving(proc, port):
        assert get(port, "/")[1].startswith(b"Hello from Python")
        master = server_pgid(proc)
        with open("/proc/%d/task/%d/children" % (master, master)) as f:
            children = [int(p) for p in f.read().split()]
        nobody = pwd.getpwnam("nobody").pw_uid
        assert children and all(uid_of(p) == nobody for p in children)


def test_unreadable_by_asks_the_kernel(tmp_path):
    from pywsgi_embed import cli as cli_module

    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0o600)  # root's alone
    public = pathlib.Path("/etc/hostname")
    assert cli_module.unreadable_by("nobody", "nogroup", [public]) is None
    assert cli_module.unreadable_by(
        "nobody", "nogroup", [public, secret]
    ) == str(secret)


@pytest.mark.parametrize(
    "args, reason",
    [
        (["--user", "no_such_user_xyz"], "no such user"),
        (["--group", "nogroup"], "--group needs --user"),
        (
            ["--user", "nobody", "--group", "no_such_group_xyz"],
            "no such group",
        ),
        (["--static", "/s=/no/such/dir"], "no such directory"),
        (["--static", "static=."], "is not URL=DIR"),
        (["--static", "/=.", "--mount", "/"], "the app is mounted there"),
    ],
)
def test_serve_refuses_bad_site_options(args, reason):
    proc = cli("serve", "examples/hello.py", *args)
    assert proc.returncode in (1, 2)
    assert reason in proc.stderr
    assert "serving" not in proc.stderr


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_server_root_setup_only_for_a_supervisor(tmp_path, server):
    root = tmp_path / "root"
    port = harness.free_port()
    proc = cli(
        "serve",
        HELLO,
        "--server",
        server,
        "--port",
        str(port),
        "--server-root",
        str(root),
        "--setup-only",
    )
    assert proc.returncode == 0, proc.stderr
    assert "serving" not in proc.stderr and no_server_left(port)
    for name in ("start", "stop", "reload"):
        assert os.access(root / name, os.X_OK), name
    assert subprocess.run([str(root / "stop")]).returncode == 1  # not up

    # what a supervisor does: start in the foreground, reload, stop
    with open(tmp_path / "server.out", "w") as out:
        started = subprocess.Popen(
            [str(root / "start")],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert harness.wait_for_port(port, started, timeout=30)
        assert get(port)[0] == 200
        master = started.pid  # start execs the server
        assert subprocess.run([str(root / "reload")]).returncode == 0
        assert get(port)[0] == 200
        assert started.poll() is None and started.pid == master
        assert subprocess.run([str(root / "stop")]).returncode == 0
        assert started.wait(timeout=60) == 0
        assert no_server_left(port)
    finally:
        if started.poll() is None:
            os.killpg(started.pid, signal.SIGKILL)
            started.wait()


def test_setup_only_needs_a_server_root():
    proc = cli("serve", "examples/hello.py", "--setup-only")
    assert proc.returncode == 1
    assert "--setup-only needs --server-root" in proc.stderr


# -- --config FILE ------------------------------------------------------------


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_config_file_sets_the_options(tmp_path, server):
    public = tmp_path / "public"
    public.mkdir()
    (public / "a.txt").write_text("from the file\n")
    port = harness.free_port()
    site = tmp_path / "site.toml"
    site.write_text(
        'app = "%s"\n'
        'server = "%s"\n'
        "port = %d\n"
        'mount = ["/hello"]\n'
        'static = ["/files=%s"]\n'
        'access-log = "-"\n' % (HELLO, server, port, public)
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pywsgi_embed", "serve", "--config", str(site)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_serving(proc, port)
    with Serving(proc, port) as running:
        assert get(port, "/hello/")[1].startswith(b"Hello from Python")
        assert get(port, "/files/a.txt") == (200, b"from the file\n")
        out = running.stop()
    assert "on %s" % server in out and "GET /files/a.txt" in out


def test_command_line_wins_over_the_config_file(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text("port = 1\n")  # below 1024: refused if it were used
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    with taken:
        proc = cli("serve", HELLO, "--config", str(site), "--port", str(port))
    assert "127.0.0.1:%d is in use" % port in proc.stderr  # ours, not 1


@pytest.mark.parametrize(
    "text, reason",
    [
        ('port = "x"\n', "port: 'x' is not a whole number"),
        ("workers = 0\n", "workers: 0 is not a positive number"),
        ("prot = 8000\n", "prot is not an option of pywsgi-embed serve"),
        ('server = "lighttpd"\n', "server: 'lighttpd' is not one of"),
        ("setup-only = 1\n", "setup-only: true or false"),
        ("port = [8000\n", "not TOML"),
    ],
)
def test_config_file_refuses_bad_values_with_the_file_and_key(
    tmp_path, text, reason
):
    site = tmp_path / "site.toml"
    site.write_text(text)
    proc = cli("serve", HELLO, "--config", str(site))
    assert proc.returncode == 2
    assert "%s: %s" % (site, reason) in proc.stderr, proc.stderr


def test_config_command_refuses_a_config_file_port(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text("port = 8000\n")
    proc = cli("config", "nginx", HELLO, "--config", str(site))
    assert proc.returncode == 2
    assert "your server's own config sets it" in proc.stderr


def test_serve_without_an_app_says_how_to_give_one():
    proc = cli("serve")
    assert proc.returncode == 2
    assert "APP is required" in proc.stderr


# -- cgi ----------------------------------------------------------------------

CGI_ENV = {
    "GATEWAY_INTERFACE": "CGI/1.1",
    "REQUEST_METHOD": "POST",
    "SCRIPT_NAME": "/site",
    "PATH_INFO": "/echo",
    "QUERY_STRING": "a=1",
    "SERVER_NAME": "localhost",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "CONTENT_LENGTH": "5",
    "CONTENT_TYPE": "text/plain",
    "HTTP_PROXY": "http://attacker.example/",
}

ECHO_APP = """\
def application(environ, start_response):
    print("to the host's error log, not the response")
    body = environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Type", "text/plain")])
    return [b"%s %s %s %r " % (
        environ["SCRIPT_NAME"].encode(), environ["PATH_INFO"].encode(),
        body, environ.get("HTTP_PROXY"),
    ), repr(environ["wsgi.run_once"]).encode()]
"""


def run_cgi(argv):
    env = dict(CGI_ENV, PATH=os.environ["PATH"])
    return subprocess.run(
        argv, input=b"hello", env=env, capture_output=True, timeout=60
    )


def test_cgi_serves_one_request_from_the_environment_and_stdin(tmp_path):
    app = tmp_path / "echo.py"
    app.write_text(ECHO_APP)
    proc = run_cgi([sys.executable, "-m", "pywsgi_embed", "cgi", str(app)])
    assert proc.returncode == 0, proc.stderr
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"Status: 201 Created"
    assert b"Content-Type: text/plain" in head.split(b"\r\n")
    assert body == b"/site /echo hello None True"  # httpoxy: no HTTP_PROXY
    assert b"not the response" in proc.stderr


def test_cgi_script_form_with_a_shebang(tmp_path):
    script = tmp_path / "echo.cgi"
    pywsgi_embed = os.path.join(
        os.path.dirname(sys.executable), "pywsgi-embed"
    )
    script.write_text("#!%s cgi\n%s" % (pywsgi_embed, ECHO_APP))
    script.chmod(0o755)
    proc = run_cgi([str(script)])  # the kernel runs `pywsgi-embed cgi FILE`
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"Status: 201 Created\r\n")
    assert proc.stdout.endswith(b"hello None True")


def test_cgi_app_that_does_not_load_is_a_500_with_the_reason(tmp_path):
    proc = run_cgi(
        [sys.executable, "-m", "pywsgi_embed", "cgi", str(tmp_path / "no.py")]
    )
    assert proc.returncode == 1
    assert proc.stdout.startswith(b"Status: 500 Internal Server Error\r\n")
    assert b"no such file" in proc.stderr


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
