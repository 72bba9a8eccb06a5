"""The `pywsgi-embed` command.

    pywsgi-embed serve APP [options]        serve APP on a real server, now
    pywsgi-embed config nginx|apache APP    print a system server's config
    pywsgi-embed module-path nginx|apache   where the built module is
    pywsgi-embed doctor                     check this installation

APP is path/to/file.py, path/to/file.py:callable, package.module:callable or
package.module:factory() (the default callable is `application`).
"""

import argparse
import errno
import grp
import os
import pwd
import socket
import subprocess
import sys
import sysconfig
import tempfile

from pywsgi_embed import (
    __version__,
    config_file,
    foreground,
    install,
    layout,
    loader,
    metrics,
    reload,
    server_root,
    servers,
)
from pywsgi_embed.servers import Mount, Options, ServerError

GRACEFUL_TIMEOUT = 10.0
DEFAULT_THREADS = 16
# the levels nginx and Apache both have, most verbose first
LOG_LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert")


class CliError(Exception):
    """A problem to report in one message, exit status 1."""


STATUS_APP = "pywsgi_embed.status:application"


# -- value types (argparse reports their ValueError with the option) ----------


def integer(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "%r is not a whole number" % text
        ) from None


def positive_int(text):
    value = integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError("%s is not a positive number" % text)
    return value


def port_number(text):
    value = integer(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            "%s is not a TCP port (1 to 65535)" % text
        )
    return value


def static_pair(text):
    """URL=DIR of --static: (URL prefix, absolute directory)."""
    prefix, sep, directory = text.partition("=")
    if not sep or not prefix.startswith("/") or not directory:
        raise argparse.ArgumentTypeError(
            "%r is not URL=DIR (e.g. /static=./public)" % text
        )
    if not os.path.isdir(directory):
        raise argparse.ArgumentTypeError(
            "%s: no such directory" % os.path.abspath(directory)
        )
    return "/" + prefix.strip("/"), os.path.abspath(directory)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's default in its help, as gunicorn shows them, except
    where there is none to show; descriptions and epilogs as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            action.option_strings
            and "%(default)" not in text
            and "(default" not in text  # it says its own
            and action.default not in (None, False, [], argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


APP_FORMS = """\
APP is one of
  app.py                    the callable `application` in that file
  app.py:api                another callable in that file
  mysite.web:app            a callable of an importable module (the current
                            directory comes first on sys.path)
  'mysite.web:create_app()' a factory, called once in each worker process
                            (quote the parentheses from the shell)
"""


def add_app_arguments(parser):
    """What both serve and config take: the app and how it runs."""
    parser.add_argument(
        "app",
        metavar="APP",
        nargs="?",  # or `app = ...` in --config FILE
        help="file.py[:callable], module:callable or 'module:factory()'",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a TOML file of options, keyed as the long options "
        "(port = 8080, static = [\"/static=public\"], app = \"app.py\"); "
        "the command line wins over it",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=DEFAULT_THREADS,
        help="nginx: the pool that runs the app; Apache: threads per process",
    )
    parser.add_argument(
        "--mode",
        choices=("threads", "inline"),
        default="threads",
        help="nginx: run the app on a thread pool or on the event loop "
        "(fastest for short CPU-only apps; a slow call stalls the worker)",
    )
    parser.add_argument(
        "--mount",
        action="append",
        metavar="/PREFIX",
        help="the URL prefix of the app, its SCRIPT_NAME (default: /); "
        "repeat it to serve the app at several prefixes",
    )
    parser.add_argument(
        "--python-path",
        action="append",
        default=[],
        metavar="DIR",
        help="put DIR on sys.path (repeatable)",
    )
    parser.add_argument(
        "--python-home",
        metavar="DIR",
        help="a venv or Python prefix (default: this Python, %s)" % sys.prefix,
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable of the app's processes (repeatable); "
        "serve also passes on its own environment",
    )
    parser.add_argument(
        "--chdir",
        metavar="DIR",
        help="the working directory of the app's processes (default: the "
        "folder of a file app; for a module app, where serve runs)",
    )
    parser.add_argument(
        "--max-body",
        type=size_of,
        default=servers.base.DEFAULT_MAX_BODY,
        metavar="SIZE",
        help="the largest request body, e.g. 10m or 2g; larger ones get "
        "413 before they are read; 0: no limit (default 1g)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=0,
        metavar="SECONDS",
        help="a step of a request (the app up to its first chunk, or one "
        "more chunk) that takes longer gets a 504 or a cut connection, its "
        "stack logged (default 0: none)",
    )
    parser.add_argument(
        "--status",
        type=url_path,
        metavar="/PATH",
        help="serve the status handler there: JSON, or Prometheus with "
        "?format=prometheus, the stacks dump with ?stacks",
    )
    parser.add_argument(
        "--queue-timeout",
        type=seconds,
        default=0,
        metavar="SECONDS",
        help="nginx threads mode: a request that waited longer for a "
        "thread gets a 503 without entering the app (default 0: none)",
    )
    parser.add_argument(
        "--queue-max",
        type=count,
        default=0,
        metavar="N",
        help="nginx threads mode: a request that finds N requests waiting "
        "for a thread gets a 503 at once (default 0: no bound)",
    )
    parser.add_argument(
        "--static",
        action="append",
        default=[],
        type=static_pair,
        metavar="URL=DIR",
        help="the server itself serves the files of DIR at URL, e.g. "
        "/static=./public (repeatable; mod_wsgi-express's --url-alias)",
    )


def url_path(text):
    if not text.startswith("/") or text.rstrip("/") == "":
        raise argparse.ArgumentTypeError(
            "%r is not a URL path such as /status" % text
        )
    return text.rstrip("/")


def seconds(text):
    """A timeout: a number of seconds from 0 (none) to a day."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(
            "%r is not a number of seconds from 0 (none) to 86400" % text
        )
    return value


def size(text):
    """Bytes of "512M", "2G", "100000" (K, M, G: powers of 1024)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    unit = units.get(text[-1:].lower(), 1)
    digits = text[:-1] if unit > 1 else text
    if not digits.isdigit():
        raise argparse.ArgumentTypeError(
            "%r is not a size: a whole number of bytes, or with K, M, G" % text
        )
    return int(digits) * unit


def count(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError(
            "%r is not a whole number (0 for no limit)" % text
        )
    return int(text)


def add_recycle_arguments(parser):
    """Recycling: a worker retires gracefully (finishes its requests, a
    fresh one takes its place) past any of these; 0: no limit."""
    parser.add_argument(
        "--max-requests",
        type=count,
        default=0,
        metavar="N",
        help="a worker retires after N requests",
    )
    parser.add_argument(
        "--max-requests-jitter",
        type=count,
        default=0,
        metavar="N",
        help="... plus up to N more, drawn per worker",
    )
    parser.add_argument(
        "--max-lifetime",
        type=count,
        default=0,
        metavar="SECONDS",
        help="a worker retires once it has lived SECONDS",
    )
    parser.add_argument(
        "--max-rss",
        type=size,
        default=0,
        metavar="SIZE",
        help="a worker retires once its resident memory passes SIZE "
        "(e.g. 512M)",
    )


def recycle_options(args):
    return dict(
        max_requests=args.max_requests,
        max_requests_jitter=args.max_requests_jitter,
        max_lifetime=args.max_lifetime,
        max_rss=args.max_rss,
    )


def add_server_arguments(parser):
    """What only serve takes: the server it runs and where it listens."""
    parser.add_argument(
        "--server",
        choices=servers.NAMES,
        default="nginx",
        help="the web server that runs the app: nginx (threads or inline "
        "mode, --mode) or Apache httpd (--mpm)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address")
    parser.add_argument(
        "--port", type=port_number, default=8000, help="the TCP port"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="processes: nginx workers, Apache children",
    )
    parser.add_argument(
        "--mpm",
        choices=("event", "worker", "prefork"),
        default="event",
        help="Apache's MPM",
    )


class NotForConfig(argparse.Action):
    """An option of serve that `config` cannot honour: the system server's
    own config decides it."""

    WHERE = {
        "--host": "nginx: listen; Apache: Listen",
        "--port": "nginx: listen; Apache: Listen",
        "--workers": "nginx: worker_processes; Apache: the MPM's settings",
        "--mpm": "Apache: a2enmod mpm_event (or worker, prefork)",
    }

    def __init__(self, option_strings, dest, **kwargs):
        kwargs["help"] = argparse.SUPPRESS
        kwargs["default"] = argparse.SUPPRESS
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(
            "%s is not for config: your server's own config sets it (%s)"
            % (option_string, self.WHERE[option_string])
        )


SERVE_EPILOG = (
    APP_FORMS
    + """
examples:
  pywsgi-embed serve app.py
  pywsgi-embed serve app.py:api --port 8080 --access-log -
  pywsgi-embed serve 'mysite.web:create_app()' --server apache --workers 2
  pywsgi-embed serve app.py --mount /api --mode inline

stopping: Ctrl-C or SIGTERM is the server's graceful stop for at most
--graceful-timeout seconds, then its fast stop, then SIGKILL %g s later;
a second Ctrl-C goes to the fast stop at once.

environment: PATH finds nginx (else /usr/sbin/nginx) and apache2.  The app
gets serve's environment, on both servers, and --env adds to it.
"""
    % foreground.FAST_STOP_TIMEOUT
)

CONFIG_EPILOG = (
    APP_FORMS
    + """
examples:
  pywsgi-embed config nginx app.py --mount /api
  pywsgi-embed config apache 'mysite.web:create_app()' --python-home ./venv

The lines go into your own server's config (where is said in them); its
listen address, workers and MPM stay as that config sets them.
"""
)

MAIN_EPILOG = """\
examples:
  pywsgi-embed serve app.py                 serve app.py on nginx, port 8000
  pywsgi-embed serve app.py --server apache on Apache httpd
  pywsgi-embed config nginx app.py          lines for your own nginx.conf
  pywsgi-embed doctor                       what works, what to fix

`pywsgi-embed COMMAND --help` tells more about each command.
"""


def size_of(text):
    """A size as nginx writes them: bytes, or a number with k, m or g."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    number, unit = text, 1
    if text[-1:].lower() in units:
        number, unit = text[:-1], units[text[-1].lower()]
    if not number.isdigit() or not number.isascii():
        raise argparse.ArgumentTypeError(
            "%r is not a size (bytes, or a number with k, m or g)" % text
        )
    return int(number) * unit


def build_parser():
    parser = argparse.ArgumentParser(
        prog="pywsgi-embed",
        description="Run a WSGI app inside nginx or Apache, in-process.",
        epilog=MAIN_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version="%(prog)s " + __version__
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND"
    )

    serve = sub.add_parser(
        "serve",
        help="serve APP on a real server, in the foreground",
        description="Serve APP on nginx or Apache, in the foreground, with\n"
        "the server's log on the terminal.",
        epilog=SERVE_EPILOG,
        formatter_class=HelpFormatter,
    )
    add_app_arguments(serve)
    add_server_arguments(serve)
    serve.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="notice",
        help="the server's error log level; info adds a line per closed "
        "connection and the app's logging.info records",
    )
    serve.add_argument(
        "--access-log",
        metavar="FILE",
        help="log each request to FILE; - is the terminal (stdout), as "
        "gunicorn's --access-logfile - (default: none)",
    )
    serve.add_argument(
        "--error-log",
        metavar="FILE",
        help="the server's error log, the app's tracebacks, wsgi.errors and "
        "logging (default: the terminal, stderr)",
    )
    serve.add_argument(
        "--user",
        help="started as root: the user the workers run as; it must be "
        "able to read the app and the Python home (default: root stays "
        "root)",
    )
    serve.add_argument(
        "--group", help="with --user: the workers' group (default: its own)"
    )
    serve.add_argument(
        "--pid-file",
        metavar="FILE",
        help="where the server writes its master's PID (default: in its "
        "work directory)",
    )
    serve.add_argument(
        "--server-root",
        metavar="DIR",
        help="keep the server's config and files in DIR (default: a "
        "temporary directory, deleted at exit)",
    )
    serve.add_argument(
        "--setup-only",
        action="store_true",
        help="with --server-root: write the config and start, stop and "
        "reload scripts there for a process supervisor, and start nothing",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=seconds,
        default=GRACEFUL_TIMEOUT,
        metavar="SECONDS",
        help="on Ctrl-C or SIGTERM, how long requests in flight may take "
        "to finish before the server's fast stop, which has %g s more "
        "before it is killed; a second Ctrl-C stops at once"
        % foreground.FAST_STOP_TIMEOUT,
    )
    add_recycle_arguments(serve)
    serve.add_argument(
        "--reload",
        action="store_true",
        help="reload gracefully when the app's Python files change "
        "(if the new code imports)",
    )
    serve.add_argument(
        "--reload-extra",
        action="append",
        default=[],
        metavar="FILE",
        help="with --reload: watch FILE too (repeatable)",
    )

    config = sub.add_parser(
        "config",
        help="print what to add to a system server's config",
        description="Print the lines that serve APP from a system nginx or\n"
        "Apache (their own config, their own service).",
        epilog=CONFIG_EPILOG,
        formatter_class=HelpFormatter,
    )
    config.add_argument("server", choices=servers.NAMES)
    add_app_arguments(config)
    add_recycle_arguments(config)
    for option in NotForConfig.WHERE:
        config.add_argument(option, action=NotForConfig)

    path = sub.add_parser(
        "module-path", help="print the path of the built module"
    )
    path.add_argument("server", choices=servers.NAMES)

    cgi = sub.add_parser(
        "cgi",
        help="serve one request as a CGI script (for CGI-only hosts)",
        description="Serve the one request of a CGI process (RFC 3875): "
        "the CGI variables\nand stdin in, `Status:`, headers and body on "
        "stdout; the app's output and\nerrors on stderr (the host's error "
        "log).",
        epilog=APP_FORMS
        + """
as a CGI script (Apache: ScriptAlias /app /srv/site/app.cgi):
  #!/bin/sh
  exec /srv/venv/bin/pywsgi-embed cgi /srv/site/wsgi.py

or the app file itself, starting with  #!/srv/venv/bin/pywsgi-embed cgi
""",
        formatter_class=HelpFormatter,
    )
    cgi.add_argument(
        "app",
        metavar="APP",
        help="file.py[:callable], module:callable or 'module:factory()'",
    )
    cgi.add_argument(
        "--python-path",
        action="append",
        default=[],
        metavar="DIR",
        help="put DIR on sys.path (repeatable)",
    )
    install.add_commands(sub)

    sub.add_parser(
        "doctor",
        help="check Python, cffi, the gateway, the servers and modules",
    )
    parser.commands = {"serve": serve, "config": config}  # take --config
    return parser


def parse(argv):
    """The arguments, with the values of --config FILE as defaults."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command = parser.commands.get(args.command)
    if command is None:
        return args
    if args.config:
        try:
            command.set_defaults(**config_file.defaults(args.config, command))
        except config_file.ConfigFileError as exc:
            command.error(str(exc))
        args = parser.parse_args(argv)
    if not args.app:
        command.error("APP is required (or app = ... in --config FILE)")
    return args


# -- shared steps -------------------------------------------------------------


def absolute_app(spec):
    """The spec with a file path made absolute: the server's workers do not
    run in this directory."""
    try:
        return loader.absolute_spec(spec)
    except loader.LoadError as exc:
        raise CliError("APP: %s" % exc) from None


def python_path_of(args):
    """--python-path entries, absolute; for a module spec the current
    directory after them (the app's own folder, as `python -m` and
    gunicorn have it, comes after the configured path, as a file app's
    folder does)."""
    paths = [os.path.abspath(p) for p in args.python_path]
    target = loader.parse_spec(args.app)[0]
    if not loader.is_file_spec(target) and os.getcwd() not in paths:
        paths.append(os.getcwd())
    return paths + project_path(target, paths)


def project_path(target, paths):
    """[the project folder] when the app needs it on sys.path and it is
    not there yet (layout.py: a Django project's wsgi.py), said on
    stderr."""
    folder, why = layout.project_folder(target, os.getcwd())
    if folder is None:
        return []
    print(
        "pywsgi-embed: %s on sys.path (%s)" % (folder, why),
        file=sys.stderr,
    )
    return [] if folder in paths else [folder]


def static_of(args):
    """--static pairs; a URL that is also an app's mount is refused."""
    mounts = {"/" + m.strip("/") for m in args.mount or ["/"]}
    for prefix, _ in args.static:
        if prefix in mounts:
            raise CliError(
                "--static %s: the app is mounted there (--mount)" % prefix
            )
    return list(args.static)


SERVER_ONLY = ("host", "port", "workers", "mpm")  # add_server_arguments


def process_env_of(args):
    """{NAME: VALUE} of the --env options."""
    env = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CliError("--env %r: give NAME=VALUE" % item)
        if "\n" in value or "\0" in value:
            raise CliError(
                "--env %s: a value cannot hold a newline or NUL" % name
            )
        env[name] = value
    return env


def options_of(args, **extra):
    # config has no server arguments: Options' defaults stand in
    for name in SERVER_ONLY:
        if getattr(args, name, None) is not None:
            extra.setdefault(name, getattr(args, name))
    return Options(
        mounts=[
            Mount(prefix, absolute_app(args.app))
            for prefix in args.mount or ["/"]
        ]
        + ([Mount(args.status, STATUS_APP)] if args.status else []),
        threads=args.threads,
        mode=args.mode,
        static=static_of(args),
        python_home=os.path.abspath(args.python_home)
        if args.python_home
        else None,
        python_path=python_path_of(args),
        timeout=args.timeout,
        queue_timeout=args.queue_timeout,
        queue_max=args.queue_max,
        max_body=args.max_body,
        process_env=process_env_of(args),
        chdir=os.path.abspath(args.chdir) if args.chdir else None,
        **extra,
    )


def check_app_file(spec):
    """A file spec names a file that exists: config does not import the
    app (the system server will, as its own user), but a wrong path is
    caught here."""
    try:
        target = loader.parse_spec(spec)[0]
    except loader.LoadError as exc:
        raise CliError(str(exc)) from None
    if loader.is_file_spec(target) and not os.path.isfile(target):
        raise CliError("no such file: %s" % os.path.abspath(target))


def python_of(options):
    """The interpreter of the configured Python home (this one by default)."""
    home = options.python_home
    if not home:
        return sys.executable
    for name in ("python3", "python"):
        path = os.path.join(home, "bin", name)
        if os.path.exists(path):
            return path
    raise CliError("no bin/python3 in the Python home %s" % home)


CHECK_APP = """
import sys
from pywsgi_embed import loader, reload
try:
    loader.enter_working_directory(sys.argv[1], sys.argv[2])
    loader.load(sys.argv[1], sys.argv[4:])
except loader.LoadError as exc:
    sys.stderr.write(str(exc) + "\\n")
    sys.exit(3)
if sys.argv[3]:
    with open(sys.argv[3], "w") as f:
        f.writelines(name + "\\n" for name in reload.app_files())
"""


def check_app(options, list_files=False):
    """Import the app once, in the configured Python, before any server
    starts: a bad path or an import error stops here with the reason.
    With list_files, the app's own Python files that the import read
    (what serve --reload watches)."""
    spec = options.mounts[0].app
    env = dict(os.environ, **options.process_env)
    package_parent = os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))
    )
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [env.get("PYTHONPATH"), package_parent])
    )
    with tempfile.NamedTemporaryFile("r", prefix="pywsgi-files-") as listing:
        proc = subprocess.run(
            [python_of(options), "-c", CHECK_APP, spec, options.chdir or ""]
            + [listing.name if list_files else ""]
            + options.python_path,
            capture_output=True,
            text=True,
            env=env,
        )
        files = listing.read().splitlines()
    if proc.returncode == 3:
        raise CliError("cannot load the app: " + proc.stderr.strip())
    if proc.returncode != 0:
        raise CliError(
            "cannot load the app %s:\n%s"
            % (spec, (proc.stderr or proc.stdout).strip())
        )
    return files


def identity_of(args):
    """user and group of the workers (--user/--group): only root can
    switch to them.  nginx takes a group named as the user when none is
    given, which may not exist: the user's own group is named instead."""
    if not args.user and not args.group:
        return {}
    if os.geteuid() != 0:
        raise CliError(
            "--user and --group need serve to start as root (the server "
            "switches its workers to them); as another user, leave them out"
        )
    if not args.user:
        raise CliError("--group needs --user")
    try:
        entry = pwd.getpwnam(args.user)
    except KeyError:
        raise CliError("--user %s: no such user" % args.user) from None
    group = args.group
    try:
        if group:
            grp.getgrnam(group)
        else:
            group = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        raise CliError("--group %s: no such group" % group) from None
    return {"user": args.user, "group": group}


READABLE = 'for p; do [ -r "$p" ] || { printf %s "$p"; exit 1; }; done'


def unreadable_by(user, group, paths):
    """The first of paths that user (in group only) cannot read, or None.
    Asked of a shell run as that user: the kernel's answer, ACLs and all."""
    proc = subprocess.run(
        ["/bin/sh", "-c", READABLE, "sh"] + list(paths),
        user=user,
        group=group,
        extra_groups=[],
        capture_output=True,
        text=True,
        cwd="/",
    )
    return proc.stdout if proc.returncode != 0 else None


def what_workers_read(options):
    """The files the workers open as --user: the app, this package, and
    the Python (its home, its standard library, its libpython)."""
    paths = [m.app.rpartition(":")[0] or m.app for m in options.mounts]
    paths = [p for p in paths if loader.is_file_spec(p)]
    paths.append(os.path.dirname(os.path.abspath(__file__)))
    paths.append(options.home())
    if not options.python_home:
        paths.append(os.path.dirname(os.__file__))  # the stdlib
        library = sysconfig.get_config_var("LDLIBRARY")
        libdir = sysconfig.get_config_var("LIBDIR")
        if library and libdir:
            paths.append(os.path.join(libdir, library))
    return paths


def check_identity(options):
    """--user must read the app and the Python: a worker that cannot read
    its libpython may load another of the same name, and run another
    Python than the one the app was checked with."""
    if not options.user:
        return
    path = unreadable_by(
        options.user, options.group, what_workers_read(options)
    )
    if path:
        raise CliError(
            "--user %s cannot read %s, which its workers need (the app, "
            "pywsgi_embed, the Python home and library): give that user "
            "read access, or use a Python and an app it can read "
            "(--python-home)" % (options.user, path)
        )


def log_file(path):
    """A log path for the server, whose working directory is not ours;
    "-" (the terminal) and None (the default) stay as they are."""
    if path is None or path == "-":
        return path
    return os.path.abspath(path)


def check_port(host, port):
    """Bind host:port once, as the server will (SO_REUSEADDR, so a port in
    TIME_WAIT is free): a port in use is reported here, before anything
    says "serving", rather than as the server's bind errors."""
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise CliError("cannot listen on %s: %s" % (host, exc)) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(
                    "%s:%d is in use (another server listens there): "
                    "choose another port with --port" % (host, port)
                ) from None
            if exc.errno == errno.EACCES:
                raise CliError(
                    "no permission to listen on port %d (below 1024 only "
                    "root may): choose another with --port" % port
                ) from None
            raise CliError(
                "cannot listen on %s:%d: %s (--host, --port)"
                % (host, port, exc.strerror)
            ) from None


# -- commands -----------------------------------------------------------------


def cmd_serve(args):
    options = options_of(
        args,
        log_level=args.log_level,
        access_log=log_file(args.access_log),
        error_log=log_file(args.error_log),
        graceful_timeout=args.graceful_timeout,
        pid_file=log_file(args.pid_file),
        pass_env=sorted(os.environ),  # the app sees serve's environment
        **recycle_options(args),
        **identity_of(args),
    )
    if args.setup_only and not args.server_root:
        raise CliError("--setup-only needs --server-root DIR")
    if args.server_root:
        workdir = os.path.abspath(args.server_root)
        os.makedirs(workdir, exist_ok=True)
    else:
        workdir = tempfile.mkdtemp(prefix="pywsgi-embed-")
    try:
        server = servers.get(args.server)(options, workdir)
        server.module_path()
        check_identity(options)
        if not args.setup_only:  # the port may be the running server's
            check_port(options.host, options.port)
        files = check_app(options, list_files=args.reload)
        config = server.write_config()
        problem = server.check_config(config)
        if problem:
            raise CliError(
                "%s refuses the configuration:\n%s" % (server.name, problem)
            )
        if args.setup_only:
            return setup_only(server, config)
        print(
            "pywsgi-embed: serving %s at %s on %s (%s); Ctrl-C stops"
            % (
                options.mounts[0].app,
                ", ".join(
                    "http://%s:%d%s" % (options.host, options.port, m.prefix)
                    for m in options.mounts
                ),
                server.name,
                describe(args),
            ),
            file=sys.stderr,
            flush=True,
        )
        watch = reload_watch(args, config, files) if args.reload else None
        return foreground.run(
            server,
            server.argv(config),
            args.graceful_timeout,
            watch,
            metrics_cleanup,
        )
    finally:
        if not args.server_root:
            subprocess.run(["rm", "-rf", workdir])


def setup_only(server, config):
    scripts = server_root.write(server, config)
    print(
        "pywsgi-embed: wrote the %s server root %s: %s and %s\n"
        "pywsgi-embed: %s runs it in the foreground (for a supervisor); "
        "stop and reload signal it"
        % (
            server.name,
            server.workdir,
            os.path.basename(config),
            ", ".join(os.path.basename(p) for p in scripts),
            scripts[0],
        ),
        file=sys.stderr,
    )
    return 0


def describe(args):
    if args.server == "nginx":
        return "%d worker(s), %s mode, %d threads" % (
            args.workers,
            args.mode,
            args.threads,
        )
    return "%s MPM, %d process(es) x %d threads" % (
        args.mpm,
        args.workers,
        args.threads,
    )


def reload_watch(args, config, files):
    """serve --reload's watch of the files the app's import read (listed
    by check_app) and the --reload-extra FILEs."""
    return reload.ServeWatch(
        config, files, [os.path.abspath(f) for f in args.reload_extra]
    )


def metrics_cleanup(proc):
    """The status handler's shared file of a server just started (if it
    makes one): removed once the server has ended."""
    counters = metrics.path_of(proc.pid)

    def remove():
        if os.path.exists(counters):
            os.unlink(counters)

    return remove


def cmd_config(args):
    check_app_file(args.app)
    if args.server == "apache" and args.mode != "threads":
        raise CliError(
            "--mode is nginx's: Apache runs the app on its MPM's threads"
        )
    if args.server == "apache" and args.threads != DEFAULT_THREADS:
        raise CliError(
            "--threads is not for config apache: your Apache's MPM config "
            "sets it (ThreadsPerChild)"
        )
    options = options_of(args, **recycle_options(args))
    with tempfile.TemporaryDirectory(prefix="pywsgi-embed-") as workdir:
        server = servers.get(args.server)(options, workdir)
        sys.stdout.write(server.snippet())
    return 0


def cmd_module_path(args):
    path = servers.module_path(args.server)
    if not os.path.exists(path):
        raise CliError(
            "the %s module is not built (expected at %s): install %s's "
            "dev files and reinstall pywsgi-embed (`pip install .`, or "
            "`make build` in a checkout)" % (args.server, path, args.server)
        )
    print(path)
    return 0


def cmd_cgi(args):
    from pywsgi_embed import cgi

    paths = [os.path.abspath(p) for p in args.python_path]
    return cgi.run(absolute_app(args.app), paths)


def cmd_doctor(args):
    from pywsgi_embed import doctor

    return doctor.run()


COMMANDS = {
    "serve": cmd_serve,
    "config": cmd_config,
    "module-path": cmd_module_path,
    "doctor": cmd_doctor,
    "cgi": cmd_cgi,
    "install": install.cmd_install,
    "uninstall": install.cmd_uninstall,
}


def main(argv=None):
    args = parse(argv)
    try:
        return COMMANDS[args.command](args)
    except (CliError, ServerError) as exc:
        print("pywsgi-embed: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
