"""What every server runner offers: `pywsgi-embed serve`, `pywsgi-embed
config` and the test fixtures all go through this, so a server is started
the same way by a user and by the tests.

A runner turns Options into a config file in a work directory and into
the argv that runs the server in the foreground on that config, with its
error log on stderr (serve) or in a file (tests).
"""

import dataclasses
import os
import signal
import subprocess
import sys
from typing import Optional

# Apache's own default LimitRequestBody: an upload above it is answered 413
# before its body is read (nginx would write it all to a temp file first)
DEFAULT_MAX_BODY = 1 << 30


@dataclasses.dataclass
class Mount:
    """One app at one URL prefix ("/" for the root): the prefix becomes
    SCRIPT_NAME."""

    prefix: str
    app: str  # "file.py[:name]" or "module:name"
    mode: Optional[str] = None  # nginx only: "threads" or "inline"


@dataclasses.dataclass
class Options:
    mounts: list[Mount]
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # nginx worker_processes / Apache children
    threads: int = 16  # nginx pool threads / Apache threads per child
    mode: str = "threads"  # nginx default mode of mounts without one
    mpm: str = "event"  # Apache: event, worker or prefork
    python_home: Optional[str] = None  # venv or prefix; None: sys.prefix
    python_path: list[str] = dataclasses.field(default_factory=list)
    environ: dict[str, str] = dataclasses.field(default_factory=dict)
    # the workers' process environment: variables set to these values, and
    # (nginx, which clears the rest) names passed on from the environment
    # the server starts in; the working directory (None: the folder of a
    # file app)
    process_env: dict[str, str] = dataclasses.field(default_factory=dict)
    pass_env: list[str] = dataclasses.field(default_factory=list)
    chdir: Optional[str] = None
    error_log: Optional[str] = None  # None: stderr (the terminal)
    access_log: Optional[str] = None  # a file, "-" stdout, None: off
    log_level: str = "info"
    timeout: float = 0  # seconds a step may take, 0: none (watchdog.py)
    queue_timeout: float = 0  # nginx threads mode: seconds in the queue
    queue_max: int = 0  # nginx threads mode: requests waiting, at most
    graceful_timeout: float = 10.0  # seconds a graceful stop waits
    extra_config: str = ""  # raw lines for the server block (tests add
    # a static location this way)
    # recycling (0: no limit): a worker retires gracefully after
    # max_requests plus up to max_requests_jitter requests, max_lifetime
    # seconds, or once its resident memory passes max_rss bytes
    max_requests: int = 0
    max_requests_jitter: int = 0
    max_lifetime: int = 0
    max_rss: int = 0
    reload_file: Optional[str] = None  # its new mtime retires the workers
    max_body: int = DEFAULT_MAX_BODY  # request body limit, bytes; 0: none

    # the site's options of `serve`
    static: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # (URL prefix, directory) pairs the server serves itself
    user: Optional[str] = None  # the workers' user and group (as root)
    group: Optional[str] = None
    pid_file: Optional[str] = None  # None: in the work directory

    def home(self):
        return self.python_home or sys.prefix


class ServerError(Exception):
    """The server cannot run: not installed, module missing, bad config."""


class Server:
    """Base of servers/nginx.py and servers/apache.py."""

    name = None

    def __init__(self, options, workdir):
        self.options = options
        self.workdir = os.path.abspath(workdir)

    # -- to implement -------------------------------------------------------

    def module_path(self):
        """Absolute path of the built module; ServerError if missing."""
        raise NotImplementedError

    def render(self):
        """The config file text for self.options."""
        raise NotImplementedError

    def argv(self, config_path):
        """Run the server in the foreground on config_path."""
        raise NotImplementedError

    def test_argv(self, config_path):
        """Check config_path (nginx -t, apache2 -t)."""
        raise NotImplementedError

    def install_hint(self):
        """How to install the server and its dev files on Debian."""
        raise NotImplementedError

    def snippet(self):
        """What a user adds to a system server's own config to serve
        self.options (`pywsgi-embed config`)."""
        raise NotImplementedError

    def version(self):
        """The installed server's version; ServerError if not installed."""
        raise NotImplementedError

    def load_test(self):
        """None if the installed server loads the built module, else why."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------

    reload_signal = signal.SIGHUP
    stop_signal = signal.SIGQUIT  # graceful: finish in-flight requests
    hard_stop_signal = signal.SIGTERM  # fast: drop in-flight requests

    pid_name = "server.pid"  # the pid file's name in the work directory

    def pid_path(self):
        return self.options.pid_file or os.path.join(
            self.workdir, self.pid_name
        )

    def write_config(self):
        os.makedirs(self.workdir, exist_ok=True)
        path = os.path.join(self.workdir, self.name + ".conf")
        with open(path, "w") as f:
            f.write(self.render())
        return path

    def check_config(self, config_path):
        """None if the server accepts config_path, else its message."""
        proc = subprocess.run(
            self.test_argv(config_path), capture_output=True, text=True
        )
        if proc.returncode == 0:
            return None
        return (proc.stdout + proc.stderr).strip()
