"""The `pywsgi-embed` command.

    pywsgi-embed serve APP [options]        serve APP on a real server, now
    pywsgi-embed config nginx|apache APP    print a system server's config
    pywsgi-embed module-path nginx|apache   where the built module is
    pywsgi-embed doctor                     check this installation

APP is path/to/file.py, path/to/file.py:callable, package.module:callable or
package.module:factory() (the default callable is `application`).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile

from pywsgi_embed import __version__, install, layout, loader, reload, servers
from pywsgi_embed.servers import Mount, Options, ServerError

STOP_TIMEOUT = 30.0


class CliError(Exception):
    """A problem to report in one message, exit status 1."""


# -- arguments ----------------------------------------------------------------


def add_app_arguments(parser):
    parser.add_argument(
        "app",
        metavar="APP",
        help="file.py[:callable], module:callable or module:factory()",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--workers", type=int, default=1, help="processes (default 1)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=16,
        help="nginx: the pool that runs the app; Apache: threads per process",
    )
    parser.add_argument(
        "--mode",
        choices=("threads", "inline"),
        default="threads",
        help="nginx: run the app on threads (default) or on the event loop",
    )
    parser.add_argument(
        "--mpm",
        choices=("event", "worker", "prefork"),
        default="event",
        help="Apache's MPM (default event)",
    )
    parser.add_argument(
        "--mount",
        action="append",
        metavar="/PREFIX",
        help="the URL prefix of the app, its SCRIPT_NAME (default /); "
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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="pywsgi-embed",
        description="Run a WSGI app inside nginx or Apache, in-process.",
    )
    parser.add_argument(
        "--version", action="version", version="%(prog)s " + __version__
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND"
    )

    serve = sub.add_parser(
        "serve", help="serve APP on a real server, in the foreground"
    )
    add_app_arguments(serve)
    serve.add_argument("--server", choices=servers.NAMES, default="nginx")
    serve.add_argument(
        "--log-level",
        default="info",
        help="the server's error log level (default info)",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log requests (to the work directory)",
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
        "config", help="print what to add to a system server's config"
    )
    config.add_argument("server", choices=servers.NAMES)
    add_app_arguments(config)
    add_recycle_arguments(config)

    path = sub.add_parser(
        "module-path", help="print the path of the built module"
    )
    path.add_argument("server", choices=servers.NAMES)

    install.add_commands(sub)

    sub.add_parser(
        "doctor",
        help="check Python, cffi, the gateway, the servers and modules",
    )
    return parser


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
    return Options(
        mounts=[
            Mount(prefix, absolute_app(args.app))
            for prefix in args.mount or ["/"]
        ],
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        mode=args.mode,
        mpm=args.mpm,
        python_home=os.path.abspath(args.python_home)
        if args.python_home
        else None,
        python_path=python_path_of(args),
        max_body=args.max_body,
        process_env=process_env_of(args),
        chdir=os.path.abspath(args.chdir) if args.chdir else None,
        **extra,
    )


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
from pywsgi_embed import loader
try:
    loader.enter_working_directory(sys.argv[1], sys.argv[2])
    loader.load(sys.argv[1], sys.argv[3:])
except loader.LoadError as exc:
    sys.stderr.write(str(exc) + "\\n")
    sys.exit(3)
"""


def check_app(options):
    """Import the app once, in the configured Python, before any server
    starts: a bad path or an import error stops here with the reason."""
    spec = options.mounts[0].app
    env = dict(os.environ, **options.process_env)
    package_parent = os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))
    )
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [env.get("PYTHONPATH"), package_parent])
    )
    proc = subprocess.run(
        [python_of(options), "-c", CHECK_APP, spec, options.chdir or ""]
        + options.python_path,
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode == 3:
        raise CliError("cannot load the app: " + proc.stderr.strip())
    if proc.returncode != 0:
        raise CliError(
            "cannot load the app %s:\n%s"
            % (spec, (proc.stderr or proc.stdout).strip())
        )


# -- commands -----------------------------------------------------------------


def cmd_serve(args):
    options = options_of(
        args,
        log_level=args.log_level,
        access_log=args.access_log,
        pass_env=sorted(os.environ),  # the app sees serve's environment
        **recycle_options(args),
    )
    workdir = tempfile.mkdtemp(prefix="pywsgi-embed-")
    try:
        server = servers.get(args.server)(options, workdir)
        server.module_path()
        check_app(options)
        config = server.write_config()
        problem = server.check_config(config)
        if problem:
            raise CliError(
                "%s refuses the configuration:\n%s" % (server.name, problem)
            )
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
        watch = reload_watch(args, options) if args.reload else None
        return run_foreground(server, config, watch)
    finally:
        subprocess.run(["rm", "-rf", workdir])


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


def reload_watch(args, options):
    why, files = reload.check_and_list(
        [m.app for m in options.mounts],
        options.python_path,
        python_of(options),
    )
    if why is not None:
        raise CliError("cannot load the app: " + why)
    return reload.ServeWatch(
        [m.app for m in options.mounts],
        options.python_path,
        python_of(options),
        files + [os.path.abspath(f) for f in args.reload_extra],
    )


def run_foreground(server, config, watch=None):
    """Run the server until it exits; SIGINT/SIGTERM stop it gracefully.
    It runs in its own process group, so the terminal's Ctrl-C reaches only
    us, and we ask for the graceful stop.  With a reload.ServeWatch, look at
    the watched files every reload.POLL seconds meanwhile."""
    proc = subprocess.Popen(server.argv(config), start_new_session=True)
    stopping = []

    def stop(signum, frame):
        if not stopping and proc.poll() is None:
            stopping.append(signum)
            print(
                "pywsgi-embed: stopping %s" % server.name,
                file=sys.stderr,
                flush=True,
            )
            proc.send_signal(server.stop_signal)

    previous = {
        s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while True:
            try:
                code = proc.wait(
                    STOP_TIMEOUT
                    if stopping
                    else (reload.POLL if watch else None)
                )
                break
            except subprocess.TimeoutExpired:
                if not stopping:
                    watch.poll(server, proc)
                    continue
                print(
                    "pywsgi-embed: %s did not stop in %.0f s, killing it"
                    % (server.name, STOP_TIMEOUT),
                    file=sys.stderr,
                )
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0 if stopping else code


def cmd_config(args):
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


def cmd_doctor(args):
    from pywsgi_embed import doctor

    return doctor.run()


COMMANDS = {
    "serve": cmd_serve,
    "config": cmd_config,
    "module-path": cmd_module_path,
    "doctor": cmd_doctor,
    "install": install.cmd_install,
    "uninstall": install.cmd_uninstall,
}


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (CliError, ServerError) as exc:
        print("pywsgi-embed: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
