"""Apache httpd: a standalone config that loads the MPM, the few modules it
needs and mod_pywsgi, and mounts the apps; run in the foreground
(-DFOREGROUND) with its ServerRoot, pid file, runtime directory and mutex
files in the work directory.  It needs nothing of /etc/apache2 and none of
Debian's APACHE_* environment variables.

Children's user: Apache started as root switches its children to User
(www-data), and refuses "User root".  When we run as root the config says
"PyWSGIRunAsRoot On", the counterpart of nginx's "user root;": a Python
installed under /root (pyenv) and apps in root-only directories (pytest's
tmp_path) stay readable.  For a server facing a network, use
`pywsgi-embed config apache` and a system Apache whose User can read the
app and the venv instead.

Signals (Apache's own): SIGUSR1 graceful restart (new children load the
new code, old ones finish their requests), SIGWINCH graceful stop (bounded
by GracefulShutdownTimeout), SIGTERM stop.
"""

import math
import os
import re
import shutil
import signal
import subprocess

from pywsgi_embed.servers import base, module_path

MODULES_DIR = "/usr/lib/apache2/modules"
MPMS = ("event", "worker", "prefork")
# headers within 10 s, up to 20 s while they come at 500 bytes/s at least;
# a body at 500 bytes/s at least after its first 20 s
REQUEST_READ_TIMEOUT = (
    "RequestReadTimeout header=10-20,MinRate=500 body=20,MinRate=500"
)


_ESCAPES = {"b": "\b", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def unescape_log(text):
    """A message of Apache's error log as it was logged: Apache escapes its
    control characters (ap_escape_errorlog_item), so that a traceback comes
    on one line, its newlines as \\n."""

    def one(match):
        code = match.group(1)
        return _ESCAPES.get(code) or chr(int(code[1:], 16))

    return re.sub(r"\\(x[0-9a-fA-F]{2}|[bnrtv\\])", one, text)


def quote(value):
    """A value as one Apache config argument."""
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


def process_lines(options):
    """Main-server lines of the children's environment and directory (the
    children inherit Apache's own environment too)."""
    lines = [
        "PyWSGIProcessEnv %s %s" % (quote(k), quote(v))
        for k, v in options.process_env.items()
    ]
    if options.chdir:
        lines.append("PyWSGIChdir %s" % quote(options.chdir))
    return lines


def load(name, filename=None):
    """LoadModule unless the module is compiled in (Debian builds a few,
    log_config among them, into apache2)."""
    path = os.path.join(
        MODULES_DIR, filename or "mod_%s.so" % name.split("_module")[0]
    )
    return [
        "<IfModule !%s>" % name,
        "    LoadModule %s %s" % (name, path),
        "</IfModule>",
    ]


def mpm_lines(mpm, workers, threads):
    """A fixed set of children: `workers` processes of `threads` threads
    each (prefork: one thread), none started or stopped on load.

    ServerLimit counts scoreboard slots, and a child finishing its requests
    after a graceful restart keeps its slot: with ServerLimit = workers a
    running request (forever, if stuck) leaves no slot for the new
    children.  event and worker get a slot per child twice over; their
    MaxRequestWorkers still allows `workers` serving children.  prefork's
    children are its MaxRequestWorkers, so it keeps a fixed set."""
    if mpm not in MPMS:
        raise base.ServerError(
            "unknown MPM %r (one of: %s)" % (mpm, ", ".join(MPMS))
        )
    path = os.path.join(MODULES_DIR, "mod_mpm_%s.so" % mpm)
    lines = [
        "LoadModule mpm_%s_module %s" % (mpm, path),
        "StartServers %d" % workers,
        "ServerLimit %d" % (workers if mpm == "prefork" else 2 * workers),
        "MaxConnectionsPerChild 0",
    ]
    if mpm == "prefork":
        return lines + [
            "MinSpareServers 1",
            "MaxSpareServers %d" % workers,
            "MaxRequestWorkers %d" % workers,
        ]
    total = workers * threads
    return lines + [
        "ThreadLimit %d" % threads,
        "ThreadsPerChild %d" % threads,
        "MinSpareThreads 1",
        "MaxSpareThreads %d" % total,
        "MaxRequestWorkers %d" % total,
    ]


def static_lines(static):
    """Apache serves each URL prefix from its directory itself (mod_alias
    maps it before the handlers run)."""
    lines = []
    for prefix, directory in static:
        prefix = "/" + prefix.strip("/")
        lines += [
            "Alias %s %s" % (quote(prefix), quote(directory)),
            "<Directory %s>" % quote(directory),
            "    Require all granted",
            "</Directory>",
        ]
    return lines


def user_lines(options):
    """--user/--group: the children's identity (Apache started as root)."""
    lines = []
    if options.user:
        lines.append("User %s" % quote(options.user))
    if options.group:
        lines.append("Group %s" % quote(options.group))
    return lines


class ApacheServer(base.Server):
    name = "apache"
    pid_name = "apache2.pid"
    reload_signal = signal.SIGUSR1  # graceful restart
    stop_signal = signal.SIGWINCH  # graceful stop: requests finish
    hard_stop_signal = signal.SIGTERM  # stop now
    with_module = True  # False: the same config without
    # mod_pywsgi (the benchmark's peers)

    def module_path(self):
        path = module_path("apache")
        if not os.path.exists(path):
            raise base.ServerError(
                "the Apache module is not built (%s): install apache2-dev and "
                "run `pip install .` (or `make build` in a checkout)" % path
            )
        return path

    def install_hint(self):
        return "apt-get install apache2 apache2-dev"

    def binary(self):
        for path in (
            shutil.which("apache2"),
            "/usr/sbin/apache2",
            shutil.which("httpd"),
        ):
            if path and os.path.exists(path):
                return path
        raise base.ServerError(
            "Apache httpd is not installed (%s)" % self.install_hint()
        )

    def version(self):
        out = subprocess.run(
            [self.binary(), "-v"], capture_output=True, text=True
        )
        for line in out.stdout.splitlines():
            if line.startswith("Server version:"):
                return line.split("/", 1)[-1].split()[0]
        raise base.ServerError(
            "cannot tell the Apache version: %s" % (out.stdout + out.stderr)
        )

    # -- the config -----------------------------------------------------------

    def _paths(self):
        run = os.path.join(self.workdir, "run")
        docroot = os.path.join(self.workdir, "htdocs")
        os.makedirs(run, exist_ok=True)
        os.makedirs(docroot, exist_ok=True)
        return run, docroot

    def render(self):
        o = self.options
        run, docroot = self._paths()
        lines = [
            "# written by pywsgi-embed for %s"
            % ", ".join(m.app for m in o.mounts),
            "ServerRoot %s" % quote(self.workdir),
            "PidFile %s" % quote(self.pid_path()),
            "DefaultRuntimeDir %s" % quote(run),
            "Mutex file:%s default" % run,
            "ErrorLog %s" % quote(o.error_log or "/dev/stderr"),
            "LogLevel %s" % o.log_level,
            "",
        ]
        lines += mpm_lines(o.mpm, o.workers, o.threads)
        # Apache's own bound of a graceful stop (0 would be no bound)
        lines += [
            "GracefulShutdownTimeout %d"
            % max(1, math.ceil(o.graceful_timeout)),
            "",
        ]
        lines += load("authz_core_module") + load("mime_module")
        if o.static:
            lines += load("alias_module")
        lines += load("reqtimeout_module")
        if o.access_log:
            lines += load("log_config_module")
        if self.with_module:
            lines += ["LoadModule pywsgi_module %s" % self.module_path(), ""]
            if os.geteuid() == 0 and not o.user:
                lines.append("PyWSGIRunAsRoot On")
        lines += [
            # with the port: a request without Host (HTTP/1.0) gets its
            # SERVER_PORT from here, 80 when it is missing
            "ServerName %s:%d" % (o.host, o.port),
            "Listen %s:%d" % (o.host, o.port),
            "DocumentRoot %s" % quote(docroot),
            "TypesConfig /etc/mime.types",
            "EnableSendfile On",
            # %2F decoded in PATH_INFO, as nginx does
            "AllowEncodedSlashes On",
            "KeepAliveTimeout 5",
            "LimitRequestBody %d" % o.max_body,
            # slowloris: a thread reads a request's headers blocking, so
            # a client too slow to send them is dropped (408)
            REQUEST_READ_TIMEOUT,
        ]
        if o.access_log:
            lines.append(
                'CustomLog %s "%%h %%l %%u %%t \\"%%r\\" %%>s %%b %%D"'
                % quote("/dev/stdout" if o.access_log == "-" else o.access_log)
            )
        lines += user_lines(o)
        lines += static_lines(o.static)
        if self.with_module:
            lines += self._pywsgi_lines()
        if o.extra_config:
            lines += ["", "# extra"] + o.extra_config.splitlines()
        return "\n".join(lines) + "\n"

    def _pywsgi_lines(self):
        o = self.options
        lines = ["", "PyWSGIPythonHome %s" % quote(o.home())]
        if o.python_path:
            lines.append(
                "PyWSGIPythonPath %s"
                % " ".join(quote(p) for p in o.python_path)
            )
        lines += process_lines(o)
        lines += self._recycle_lines()
        lines += [
            "PyWSGIEnv %s %s" % (quote(k), quote(v))
            for k, v in o.environ.items()
        ]
        if o.timeout:
            lines.append("PyWSGITimeout %g" % o.timeout)
        lines += [
            "PyWSGIApp %s %s" % (quote(m.prefix), quote(m.app))
            for m in o.mounts
        ]
        return lines

    def _recycle_lines(self):
        o = self.options
        lines = []
        if o.max_requests:
            lines.append(
                "PyWSGIMaxRequests %d %d"
                % (o.max_requests, o.max_requests_jitter)
            )
        if o.max_lifetime:
            lines.append("PyWSGIMaxLifetime %d" % o.max_lifetime)
        if o.max_rss:
            lines.append("PyWSGIMaxRSS %d" % o.max_rss)
        if o.reload_file:
            lines.append("PyWSGIReloadFile %s" % quote(o.reload_file))
        return lines

    def snippet(self):
        o = self.options
        lines = [
            "# Apache: the module (Debian: /etc/apache2/mods-available/",
            "# pywsgi.load, then a2enmod pywsgi; `pywsgi-embed install",
            "# apache` does both):",
            "LoadModule pywsgi_module %s" % self.module_path(),
            "",
            "# the Python, server wide (Debian: mods-available/pywsgi.conf,",
            "# beside pywsgi.load, so that a2enmod enables both):",
        ]
        lines.append("PyWSGIPythonHome %s" % quote(o.home()))
        if o.python_path:
            lines.append(
                "PyWSGIPythonPath %s"
                % " ".join(quote(p) for p in o.python_path)
            )
        lines += process_lines(o)
        lines += self._recycle_lines()
        lines += ["", self.site_snippet()]
        return "\n".join(lines)

    def site_snippet(self):
        """The part of a site's <VirtualHost> that serves the apps."""
        o = self.options
        lines = [
            "# in your site's <VirtualHost> (Debian: /etc/apache2/",
            "# sites-available/000-default.conf) or the server config:",
            "LimitRequestBody %d" % o.max_body,
        ]
        lines += [
            "PyWSGIEnv %s %s" % (quote(k), quote(v))
            for k, v in o.environ.items()
        ]
        lines += [
            "PyWSGIApp %s %s" % (quote(m.prefix), quote(m.app))
            for m in o.mounts
        ]
        lines += static_lines(o.static)
        lines += [
            "",
            "# The children's user (User, www-data on Debian) must be able",
            "# to read the app, the Python home and pywsgi-embed.  Any MPM",
            "# works; with event or worker, ThreadsPerChild threads share",
            "# one Python.  Debian's mod_wsgi must not be enabled beside it",
            "# (a2dismod wsgi).  Errors go to /var/log/apache2/error.log.",
            "# Then: apache2ctl configtest && systemctl restart apache2",
        ]
        return "\n".join(lines) + "\n"

    def load_test(self):
        """apache2 -t on a config that only loads the module."""
        run, _ = self._paths()
        conf = os.path.join(self.workdir, "load-test.conf")
        with open(conf, "w") as f:
            f.write(
                "\n".join(
                    [
                        "ServerRoot %s" % quote(self.workdir),
                        "DefaultRuntimeDir %s" % quote(run),
                        "PidFile %s"
                        % quote(os.path.join(self.workdir, "t.pid")),
                        "ErrorLog /dev/stderr",
                        "ServerName localhost",
                    ]
                    + mpm_lines("event", 1, 1)
                    + ["LoadModule pywsgi_module %s" % self.module_path()]
                )
                + "\n"
            )
        proc = subprocess.run(
            self.test_argv(conf), capture_output=True, text=True
        )
        if proc.returncode == 0:
            return None
        return (proc.stdout + proc.stderr).strip()

    def argv(self, config_path):
        return [
            self.binary(),
            "-d",
            self.workdir,
            "-f",
            config_path,
            "-DFOREGROUND",
        ]

    def test_argv(self, config_path):
        return [self.binary(), "-d", self.workdir, "-f", config_path, "-t"]

    def check_config(self, config_path):
        """The config test's message with the app's traceback on its lines
        (serve's output)."""
        problem = super().check_config(config_path)
        return unescape_log(problem) if problem else None


SERVER = ApacheServer
