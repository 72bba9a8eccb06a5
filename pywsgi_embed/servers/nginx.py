"""nginx: a standalone nginx.conf that loads the module and mounts the apps,
run in the foreground (`daemon off`) with its own prefix, pid file and temp
directories in the work directory, so it needs nothing of /etc/nginx."""

import os
import shutil
import subprocess

from pywsgi_embed.servers import base, module_path

# the site snippet's upload limit (serve has none)
MAX_BODY = "100m"

# the config test's listening socket (NginxServer.check_config), and the
# longest path a unix socket takes (sun_path, with its NUL)
CHECK_SOCKET = "check.sock"
UNIX_PATH_MAX = 107


def _quote(value):
    """A value as an nginx config token."""
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


def access_log_path(access_log):
    """nginx's access_log argument: "-" is the terminal (stdout)."""
    if access_log == "-":
        return "/dev/stdout"
    return _quote(access_log) if access_log else "off"


def static_location(prefix, directory):
    """nginx serves prefix/ from directory itself (alias, sendfile)."""
    prefix = "/" + prefix.strip("/")
    return [
        "location %s/ {" % prefix.rstrip("/"),
        "    alias %s;" % _quote(directory.rstrip("/") + "/"),
        "}",
    ]


def user_line(options):
    """Whom the workers run as: --user/--group; a root master without
    them keeps root (its default, nobody, could not read a Python under
    /root); nothing for another user, who cannot switch."""
    if options.user:
        return "user %s%s;" % (
            _quote(options.user),
            " " + _quote(options.group) if options.group else "",
        )
    return "user root;" if os.geteuid() == 0 else ""


# names nginx keeps for itself: TZ reaches the workers anyway, NGINX and
# NGINX_BPF_MAPS carry the listening sockets of a binary upgrade
OWN_ENV = frozenset(("TZ", "NGINX", "NGINX_BPF_MAPS"))


def env_lines(names):
    """Main-context "env NAME;" lines: nginx clears its workers'
    environment except for the variables named so."""
    return [
        "env %s;" % _quote(name)
        for name in names
        if name not in OWN_ENV and name and "=" not in name
    ]


def process_lines(options):
    """http-context lines of the workers' environment and directory."""
    lines = [
        "pywsgi_process_env %s %s;" % (_quote(k), _quote(v))
        for k, v in options.process_env.items()
    ]
    if options.chdir:
        lines.append("pywsgi_chdir %s;" % _quote(options.chdir))
    return lines


class NginxServer(base.Server):
    name = "nginx"
    pid_name = "nginx.pid"
    stop_signal = base.signal.SIGQUIT  # graceful: in-flight requests finish

    def module_path(self):
        path = module_path("nginx")
        if not os.path.exists(path):
            raise base.ServerError(
                "the nginx module is not built (%s): install nginx-dev and "
                "run `pip install .` (or `make build` in a checkout)" % path
            )
        return path

    def install_hint(self):
        return "apt-get install nginx nginx-dev"

    def binary(self):
        path = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(path):
            raise base.ServerError(
                "nginx is not installed (%s)" % self.install_hint()
            )
        return path

    def version(self):
        out = subprocess.run(
            [self.binary(), "-v"], capture_output=True, text=True
        )
        return (out.stderr or out.stdout).strip().split("/")[-1]

    def render(self):
        o = self.options
        lines = [
            "# written by pywsgi-embed for %s"
            % ", ".join(m.app for m in o.mounts),
            "load_module %s;" % self.module_path(),
            "daemon off;",
            "master_process on;",
            "worker_processes %d;" % o.workers,
            "pid %s;" % _quote(self.pid_path()),
            "error_log %s %s;" % (o.error_log or "stderr", o.log_level),
            # the app and its venv must be readable by the workers' user
            user_line(o),
            "thread_pool pywsgi threads=%d;" % o.threads,
        ]
        lines += env_lines(o.pass_env)
        lines += [
            "",
            "events {",
            "    worker_connections 1024;",
            "}",
            "",
            "http {",
        ]
        lines += ["    " + line for line in self._http_lines()]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _http_lines(self):
        o = self.options
        temp = os.path.join(self.workdir, "temp")
        os.makedirs(temp, exist_ok=True)
        lines = [
            "access_log %s;" % access_log_path(o.access_log),
            "client_body_temp_path %s;" % temp,
            "client_max_body_size %d;" % o.max_body,
            "default_type application/octet-stream;",
            "sendfile on;",
            "pywsgi_python_home %s;" % _quote(o.home()),
        ]
        lines += ["pywsgi_python_path %s;" % _quote(p) for p in o.python_path]
        lines += process_lines(o)
        lines += self._recycle_lines()
        lines += ["", "server {", self._listen_line()]
        lines += [
            "    pywsgi_param %s %s;" % (k, _quote(v))
            for k, v in o.environ.items()
        ]
        lines += ["    " + line for line in self._timeout_lines()]
        for mount in o.mounts:
            lines += ["    " + line for line in self._location(mount)]
        for prefix, directory in o.static:
            lines += [
                "    " + line for line in static_location(prefix, directory)
            ]
        if o.extra_config:
            lines += ["    " + line for line in o.extra_config.splitlines()]
        lines.append("}")
        return lines

    def _listen_line(self):
        return "    listen %s:%d;" % (self.options.host, self.options.port)

    def _recycle_lines(self):
        o = self.options
        lines = []
        if o.max_requests:
            lines.append(
                "pywsgi_max_requests %d %d;"
                % (o.max_requests, o.max_requests_jitter)
            )
        if o.max_lifetime:
            lines.append("pywsgi_max_lifetime %ds;" % o.max_lifetime)
        if o.max_rss:
            lines.append("pywsgi_max_rss %d;" % o.max_rss)
        if o.reload_file:
            lines.append("pywsgi_reload_file %s;" % _quote(o.reload_file))
        return lines

    def _timeout_lines(self):
        o = self.options
        lines = []
        if o.timeout:
            lines.append("pywsgi_timeout %dms;" % round(o.timeout * 1000))
        if o.queue_timeout:
            lines.append(
                "pywsgi_queue_timeout %dms;" % round(o.queue_timeout * 1000)
            )
        if o.queue_max:
            lines.append("pywsgi_queue_max %d;" % o.queue_max)
        return lines

    def _location(self, mount):
        prefix = "/" + mount.prefix.strip("/")
        return [
            "location %s {" % (prefix if prefix == "/" else prefix + "/"),
            "    pywsgi_app %s;" % _quote(mount.app),
            "    pywsgi_mode %s;" % (mount.mode or self.options.mode),
            "}",
        ] + (
            []
            if prefix == "/"
            else [
                # /app itself, without the slash, is the app's root too
                "location = %s {" % prefix,
                "    pywsgi_app %s;" % _quote(mount.app),
                "    pywsgi_mode %s;" % (mount.mode or self.options.mode),
                "}",
            ]
        )

    def snippet(self):
        o = self.options
        lines = [
            "# nginx: in the main context, the module and the threads that",
            "# run Python (Debian: /etc/nginx/modules-enabled/, which",
            "# `pywsgi-embed install nginx` writes):",
            "load_module %s;" % self.module_path(),
            "thread_pool pywsgi threads=%d;" % o.threads,
            "# nginx clears its workers' environment: pass a variable of the",
            "# environment nginx starts in with env NAME; here, or set one",
            "# with pywsgi_process_env NAME VALUE; in http { }",
            "",
            "# in http { } (Debian: /etc/nginx/conf.d/pywsgi.conf, also",
            "# written by `pywsgi-embed install nginx`):",
            "pywsgi_python_home %s;" % _quote(o.home()),
            "client_max_body_size %d;  # 413 above, before the body is read"
            % o.max_body,
        ]
        lines += ["pywsgi_python_path %s;" % _quote(p) for p in o.python_path]
        lines += process_lines(o)
        lines += self._recycle_lines()
        lines += ["", self.site_snippet()]
        return "\n".join(lines)

    def site_snippet(self):
        """The part of a site's server { } that serves the apps."""
        o = self.options
        lines = [
            "# in your site's server { } (Debian: /etc/nginx/sites-available/",
            "# default); a `location /` here replaces the default site's own:",
            "client_max_body_size %s;  # nginx's default 1m refuses larger "
            "uploads" % MAX_BODY,
        ]
        lines += [
            "pywsgi_param %s %s;" % (k, _quote(v))
            for k, v in o.environ.items()
        ]
        lines += self._timeout_lines()
        for mount in o.mounts:
            lines += self._location(mount)
        for prefix, directory in o.static:
            lines += static_location(prefix, directory)
        lines += [
            "",
            "# The workers' user (`user` in nginx.conf, www-data on Debian)",
            "# must be able to read the app, the Python home and",
            "# pywsgi-embed, and to write what the app writes; errors go to",
            "# /var/log/nginx/error.log.  Then: nginx -t && systemctl reload",
            "# nginx",
        ]
        return "\n".join(lines) + "\n"

    def load_test(self):
        """nginx -t on a config that only loads the module."""
        os.makedirs(self.workdir, exist_ok=True)
        conf = os.path.join(self.workdir, "load-test.conf")
        with open(conf, "w") as f:
            f.write(
                "load_module %s;\nerror_log stderr;\npid %s;\n"
                "events {}\nhttp {}\n"
                % (self.module_path(), os.path.join(self.workdir, "t.pid"))
            )
        proc = subprocess.run(
            [
                self.binary(),
                "-p",
                self.workdir,
                "-c",
                conf,
                "-e",
                "stderr",
                "-t",
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode == 0:
            return None
        return (proc.stdout + proc.stderr).strip()

    def argv(self, config_path):
        return [
            self.binary(),
            "-p",
            self.workdir,
            "-c",
            config_path,
            "-e",
            self.options.error_log or "stderr",
        ]

    def test_argv(self, config_path):
        return self.argv(config_path) + ["-t"]

    def check_config(self, config_path):
        """nginx -t binds and listens on its config's ports once it has
        read it (the apps imported): a client that connects then, a
        readiness probe or a port wait, is taken in by a process about to
        exit, before the server that answers runs.  The test reads a copy
        of the config whose own listen (--host, --port) is a socket file
        of the work directory; every other line is tested as written."""
        copy = self._check_copy(config_path)
        if copy is None:
            return super().check_config(config_path)
        try:
            problem = super().check_config(copy)
        finally:  # the copy and the socket nginx -t left: none is kept
            shutil.rmtree(os.path.dirname(copy), ignore_errors=True)
        return problem and problem.replace(copy, config_path)

    def _check_copy(self, config_path):
        """The copy in check/ of the work directory, under the config's
        own name (nginx's messages name file and line); None: the config
        is not one of ours (no listen line of ours), or the socket's path
        would be too long for a unix socket."""
        with open(config_path) as f:
            text = f.read()
        ours = self._listen_line() + "\n"
        folder = os.path.join(self.workdir, "check")
        socket_path = os.path.join(folder, CHECK_SOCKET)
        if ours not in text or len(socket_path) > UNIX_PATH_MAX:
            return None
        os.makedirs(folder, exist_ok=True)
        copy = os.path.join(folder, os.path.basename(config_path))
        with open(copy, "w") as f:
            f.write(text.replace(ours, "    listen unix:%s;\n" % socket_path))
        return copy


SERVER = NginxServer
