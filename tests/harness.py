"""Starting real servers for the tests: the same runners (pywsgi_embed.servers)
that `pywsgi-embed serve` uses, on 127.0.0.1 and a free port, with the error
log in a file the tests can read.
"""

import concurrent.futures
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from pywsgi_embed import servers
from pywsgi_embed.servers import Mount, Options

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=30.0):
    """True once 127.0.0.1:port accepts; False if proc died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class ServerFailed(Exception):
    pass


class Running:
    """A server process started by start()."""

    def __init__(self, server, proc, config_path, workdir):
        self.server = server
        self.proc = proc
        self.config_path = config_path
        self.workdir = workdir
        self.port = server.options.port
        self.host = server.options.host

    @property
    def error_log_path(self):
        return self.server.options.error_log

    def error_log(self):
        try:
            with open(self.error_log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def output(self):
        """What the server printed on stdout/stderr."""
        with open(
            os.path.join(self.workdir, "server.out"), errors="replace"
        ) as f:
            return f.read()

    def url(self, path="/"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def reload(self):
        self.proc.send_signal(self.server.reload_signal)

    def stop(self, timeout=15.0):
        """Graceful stop; returns the seconds it took (kill after timeout)."""
        if self.proc.poll() is not None:
            return 0.0
        start = time.monotonic()
        self.proc.send_signal(self.server.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerFailed(
                "%s did not stop within %.0f s" % (self.server.name, timeout)
            ) from None
        return time.monotonic() - start

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


def server_env():
    """The servers' environment: ours, with PYWSGI_SERVER_PRELOAD (the
    sanitizer runtimes of make test-asan) as their LD_PRELOAD."""
    preload = os.environ.get("PYWSGI_SERVER_PRELOAD")
    if not preload:
        return None
    return dict(os.environ, LD_PRELOAD=preload)


def start(name, mounts, workdir, **options):
    """Write a config for `name` (nginx or apache) serving mounts, start the
    server in the foreground and wait until it accepts connections.

    mounts: list of Mount, or a dict {prefix: app spec}.  options: fields of
    pywsgi_embed.servers.Options (port defaults to a free one)."""
    if isinstance(mounts, dict):
        mounts = [Mount(prefix, app) for prefix, app in mounts.items()]
    os.makedirs(workdir, exist_ok=True)
    options.setdefault("port", free_port())
    options.setdefault("error_log", os.path.join(workdir, "error.log"))
    server = servers.get(name)(Options(mounts=mounts, **options), workdir)
    config_path = server.write_config()
    out = open(os.path.join(workdir, "server.out"), "w")
    proc = subprocess.Popen(
        server.argv(config_path),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=server_env(),
    )
    out.close()
    running = Running(server, proc, config_path, workdir)
    if not wait_for_port(running.port, proc):
        running.kill()
        raise ServerFailed(
            "%s did not start on port %d:\n%s\n%s"
            % (name, running.port, running.output(), running.error_log())
        )
    wait_until_configured(running)
    return running


def wait_until_configured(running):
    """Apache opens its ports on the first of its two config readings and
    checks the apps (a child process) on the second: it is up, with only
    its own children, once it logs AH00489 (a notice)."""
    if running.server.name != "apache" or running.server.options.log_level in (
        "warn",
        "error",
        "crit",
        "alert",
        "emerg",
    ):
        return
    if (
        not wait_until(
            lambda: (
                "resuming normal operations" in running.error_log()
                or running.proc.poll() is not None
            ),
            timeout=30,
        )
        or running.proc.poll() is not None
    ):
        running.kill()
        raise ServerFailed(
            "apache did not start:\n%s\n%s"
            % (running.output(), running.error_log())
        )


# -- helpers of the server-specific tests (tests/nginx, tests/apache) --------


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def child_pids(running):
    """PIDs of the server's master (parent) process's children, now;
    running is a Running or a subprocess.Popen."""
    pids = []
    task_dir = "/proc/%d/task" % getattr(running, "proc", running).pid
    for task in os.listdir(task_dir):
        with open(os.path.join(task_dir, task, "children")) as f:
            pids += [int(p) for p in f.read().split()]
    return pids


def children(running, count=1, timeout=10.0):
    """The children's PIDs once there are at least `count`: the port
    accepts before the master has forked its workers."""
    wait_until(lambda: len(child_pids(running)) >= count, timeout)
    return child_pids(running)


def read_to_close(sock):
    """Everything the server sends on a socket until it closes it."""
    return b"".join(iter(lambda: sock.recv(65536), b""))


def fetch(url, timeout=30, data=None, headers=None):
    """(status, body) of a request; an HTTP error status is a result too."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def set_app_version(app_path, version):
    """Rewrite the VERSION = "..." line of a test app (reload tests)."""
    text = app_path.read_text()
    start = text.index('VERSION = "') + len('VERSION = "')
    end = text.index('"', start)
    app_path.write_text(text[:start] + version + text[end:])


def request_loop(running, stop, results, path="/version"):
    """Request path until stop is set; a lost request is a result too."""
    while not stop.is_set():
        try:
            results.append(fetch(running.url(path), timeout=10))
        except Exception as exc:
            results.append((None, repr(exc).encode()))


# what each server logs once it has taken a graceful stop (notice level)
GRACEFUL_STOP_LOGGED = {
    "nginx": "gracefully shutting down",
    "apache": "shutting down gracefully",
}


def stop_while_held(running, gate, path, count):
    """Send `count` requests of path through gate (tests/apps/gate.py),
    stop the server gracefully once all are in the app, and release them
    only once the server has logged that it is stopping: their (status,
    body) results, and the seconds the stop took."""
    url = running.url(path + ("&" if "?" in path else "?") + gate.query)
    with concurrent.futures.ThreadPoolExecutor(count + 1) as pool:
        held = [pool.submit(fetch, url) for _ in range(count)]
        assert gate.wait_entered(count)
        stopping = pool.submit(running.stop, 15)
        logged = GRACEFUL_STOP_LOGGED[running.server.name]
        assert wait_until(lambda: logged in running.error_log()), (
            running.error_log()
        )
        assert not any(f.done() for f in held)
        gate.release()
        return [f.result() for f in held], stopping.result()
