"""Reloading apps without refusing a request: watching files, and checking
that the apps still import before any worker lets go of the old code.

Two users, one check:
  - the reload file of a system server (pywsgi_reload_file PATH; /
    PyWSGIReloadFile PATH): a thread in each worker watches PATH; when its
    mtime changes and the apps import in a fresh interpreter, the worker
    retires gracefully (pywsgi_embed.retire), and the fresh worker the
    server starts imports the new code;
  - `pywsgi-embed serve --reload`: the command watches the app's Python
    files (and --reload-extra FILEs) and, when they change and the apps
    import, asks the server for its own graceful reload (nginx -s reload,
    apachectl graceful).
A change that does not import leaves the old workers serving; the
traceback goes to the log.

The check runs in a child interpreter: importing the new code in the
worker would run it next to the old one.  Its result is read from its
output, not its exit status: nginx workers reap their children themselves
(SIGCHLD), so Python may never see the status.
"""

import os
import signal
import subprocess
import sys
import threading

POLL = 1.0  # seconds between two looks at the watched files
CHECK_TIMEOUT = 120  # seconds an import may take
OK = "pywsgi-embed: the apps import"

_CHECK_CODE = r"""
import os
import sys
pkg_parent, path, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, pkg_parent)
from pywsgi_embed import loader
try:
    for spec in specs:
        loader.load(spec, [p for p in path.split(":") if p])
except loader.LoadError as exc:
    print(exc)
except BaseException:
    import traceback
    traceback.print_exc(file=sys.stdout)
else:
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None) or ""
        ours = os.path.join(pkg_parent, "pywsgi_embed", "")
        if name.endswith(".py") and "-packages" not in name and not any(
            name.startswith(p) for p in (sys.prefix, sys.base_prefix, ours)
        ):
            print("file:", name)
    print(%r)
""" % (OK,)


def python_executable():
    """The interpreter of this Python (a worker's sys.executable is the
    venv's python, or the one the gateway was built with)."""
    if sys.executable and os.path.exists(sys.executable):
        return sys.executable
    return os.path.join(sys.base_prefix, "bin", "python3")


def check_apps(specs, python_path=(), executable=None):
    """None if every app spec imports in a fresh interpreter, else what
    went wrong (the traceback)."""
    return check_and_list(specs, python_path, executable)[0]


def check_and_list(specs, python_path=(), executable=None):
    """(None, the app's own Python files) if every app spec imports in a
    fresh interpreter, else (what went wrong, [])."""
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    argv = [
        executable or python_executable(),
        "-c",
        _CHECK_CODE,
        pkg_parent,
        ":".join(python_path),
        *specs,
    ]
    try:
        proc = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=CHECK_TIMEOUT,
            text=True,
            errors="replace",
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "cannot check the apps: %s" % exc, []
    out = proc.stdout.rstrip("\n")
    if out.endswith(OK):
        lines = out.splitlines()
        return None, [x[6:] for x in lines if x.startswith("file: ")]
    why = out or "the check printed nothing (status %s)" % proc.returncode
    return why, []


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class Watcher:
    """The mtimes of a set of files; changed() says which moved since the
    last call (a file created or removed counts)."""

    def __init__(self, paths):
        self.paths = sorted(set(paths))
        self.seen = {p: _mtime(p) for p in self.paths}

    def changed(self):
        moved = []
        for path in self.paths:
            now = _mtime(path)
            if now != self.seen[path]:
                self.seen[path] = now
                moved.append(path)
        return moved


def start_thread(target, name):
    """A daemon thread that never takes the server's signals: a signal the
    server's master sends (nginx -s quit) must reach the thread that waits
    for it, not this one."""
    every = set(signal.Signals)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, every)
    try:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return thread


class ReloadFile:
    """A worker's watch of its reload file (pywsgi_config.reload_file)."""

    def __init__(self, path, specs, python_path, retire, log):
        self.path = path
        self.specs = specs  # the list the worker's loads append to
        self.python_path = python_path
        self.retire = retire
        self.log = log
        self.stop = threading.Event()
        self.watcher = Watcher([path])

    def start(self):
        start_thread(self.run, "pywsgi-reload-file")

    def run(self):
        while not self.stop.wait(POLL):
            if not self.watcher.changed():
                continue
            why = check_apps(list(self.specs), self.python_path)
            if why is None:
                self.retire("%s changed: the new code imports" % self.path)
                return
            self.log(
                "pywsgi: %s changed, but the apps no longer import: the "
                "worker keeps serving the code it has\n%s" % (self.path, why)
            )


class ServeWatch:
    """serve --reload: the app's Python files and --reload-extra FILEs; on
    a change, the server's own graceful reload if the apps import."""

    interval = POLL  # seconds between two polls (foreground.py)

    def __init__(self, specs, python_path, executable, files):
        self.specs = specs
        self.python_path = python_path
        self.executable = executable
        self.watcher = Watcher(files)

    def poll(self, server, proc):
        moved = self.watcher.changed()
        if not moved:
            return
        why = check_apps(self.specs, self.python_path, self.executable)
        if why is not None:
            say(
                "%s changed, but the app no longer imports; the server "
                "keeps serving the old code:\n%s" % (", ".join(moved), why)
            )
            return
        say(
            "%s changed: reloading %s gracefully"
            % (", ".join(moved), server.name)
        )
        proc.send_signal(server.reload_signal)


def say(text):
    print("pywsgi-embed: " + text, file=sys.stderr, flush=True)
