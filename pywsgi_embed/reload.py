"""Reloading apps without refusing a request: watching files, and checking
that the apps still import before any worker lets go of the old code.

Two users, one check: the modules' config-time check (csrc/pywsgi_check.c,
what `nginx -t`, `apache2 -t` and a server's start and reload run), which
loads the gateway library and imports every app in a child process exactly
as a worker does (Python home, venv, sys.path, environment, working
directory):
  - the reload file of a system server (pywsgi_reload_file PATH; /
    PyWSGIReloadFile PATH): a thread in each worker watches PATH; when its
    mtime changes, the worker runs that check as a command, pywsgi-check
    (csrc/pywsgi_check_main.c, beside the library), with the configs of
    its own apps; if they import, the worker retires gracefully
    (pywsgi_embed.retire), and the fresh worker the server starts imports
    the new code;
  - `pywsgi-embed serve --reload`: the command watches the app's Python
    files (and --reload-extra FILEs) and, when they change, runs the
    server's own config test (nginx -t, apache2 -t) on its config: if that
    passes it asks the server for its graceful reload (nginx -s reload,
    apachectl graceful).
A change that does not import leaves the old workers serving; the
traceback goes to the log (the worker's) or to serve's output.

A worker runs a command rather than forking itself: a fork of a process
whose Python threads run would deadlock the child, fork+exec is safe.  The
command's answer is its output, not its exit status: nginx workers reap
their children themselves (SIGCHLD), so Python may never see the status.
"""

import os
import signal
import subprocess
import sys
import threading

POLL = 1.0  # seconds between two looks at the watched files
CHECK_TIMEOUT = 120  # seconds an import may take
OK = "ok\n"  # pywsgi-check's answer when every app loaded
CHECK = "pywsgi-check"  # its file, beside the gateway library


def app_arguments(app, python_home, python_path, chdir, process_env):
    """pywsgi-check's arguments for one app: the fields of its
    pywsgi_config (process_env: (name, value) pairs)."""
    args = []
    if python_home:
        args += ["--home", python_home]
    if python_path:
        args += ["--path", python_path]
    if chdir:
        args += ["--chdir", chdir]
    for name, value in process_env:
        args += ["--env", "%s=%s" % (name, value)]
    return args + ["--app", app]


def check(gateway, arguments, env=None):
    """None if every app of arguments (app_arguments() of each, joined)
    loads through the gateway library at path gateway, else what went
    wrong (the traceback).  env: the check's environment (None: ours)."""
    argv = [
        os.path.join(os.path.dirname(gateway), CHECK),
        "--gateway",
        gateway,
    ] + list(arguments)
    try:
        # a session of its own: a timeout kills the check's child too
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        return "cannot check the apps: %s: %s" % (argv[0], exc.strerror)
    with proc:
        try:
            out = proc.communicate(timeout=CHECK_TIMEOUT)[0]
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            return "cannot check the apps: no answer in %d s" % CHECK_TIMEOUT
    text = out.decode("utf-8", "replace")
    if text == OK:
        return None
    return text.rstrip("\n") or "%s answered nothing" % CHECK


def app_files():
    """The Python files of the modules imported so far that are the app's
    own: not the standard library's, an installed package's or ours.
    serve --reload watches them."""
    ours = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")
    prefixes = (sys.prefix, sys.base_prefix, ours)
    files = []
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None) or ""
        if (
            name.endswith(".py")
            and "-packages" not in name
            and not name.startswith(prefixes)
        ):
            files.append(os.path.abspath(name))
    return sorted(set(files))


def _mtime(path):
    """What says a file changed: its mtime, and its size for an edit
    within the file system's timestamp granularity; None: no file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def python_files_in(folders):
    """The .py files directly in each folder (a folder gone: none)."""
    found = []
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        found.extend(os.path.join(folder, n) for n in names if n[-3:] == ".py")
    return found


class Watcher:
    """The mtimes of a set of files, and of the .py files in a set of
    folders; changed() says which moved since the last call (a file
    created or removed counts, also a .py file new in a folder)."""

    def __init__(self, paths, folders=()):
        self.folders = sorted(set(folders))
        self.paths = sorted(set(paths) | set(python_files_in(self.folders)))
        self.seen = {p: _mtime(p) for p in self.paths}

    def changed(self):
        for path in python_files_in(self.folders):
            if path not in self.seen:
                self.seen[path] = None  # so that it counts as moved
                self.paths.append(path)
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

    def __init__(self, path, gateway, env, retire, log):
        self.path = path
        self.gateway = gateway
        self.env = env  # the worker's environment as it started
        self.arguments = []  # app_arguments() of each app, appended
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
            why = check(self.gateway, self.arguments, self.env)
            if why is None:
                self.retire("%s changed: the new code imports" % self.path)
                return
            self.log(
                "pywsgi: %s changed, but the apps no longer import: the "
                "worker keeps serving the code it has\n%s" % (self.path, why)
            )


class ServeWatch:
    """serve --reload: the app's Python files and --reload-extra FILEs; on
    a change, the server's own graceful reload if its config test (which
    imports the apps) passes.

    The app's files are those its import read, and every .py file beside
    them: an app imports some of its modules only at its first request
    (Django's views and URLconf, a Flask blueprint's view module), and
    an edit of those must reload too."""

    interval = POLL  # seconds between two polls (foreground.py)

    def __init__(self, config, app_files, extra_files=()):
        self.config = config  # the server's config file
        folders = {os.path.dirname(f) for f in app_files}
        self.watcher = Watcher(list(app_files) + list(extra_files), folders)

    def poll(self, server, proc):
        moved = self.watcher.changed()
        if not moved:
            return
        why = server.check_config(self.config)
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
