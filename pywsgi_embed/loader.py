"""Finding and importing the WSGI app a server was configured with.

An app spec is one of
    path/to/file.py              the callable `application` in that file
    path/to/file.py:name         another callable
    package.module:name          an importable module (default `application`)
    package.module:factory()     a factory called without arguments
as gunicorn and mod_wsgi users write them.  Every failure raises LoadError
with the file and the reason (the app's own traceback if it raised), so that
the server can refuse to start instead of answering 500 forever.
"""

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import traceback

DEFAULT_CALLABLE = "application"


class LoadError(Exception):
    """The app cannot be loaded; str() says where and why."""


def parse_spec(spec):
    """(target, name, call) of an app spec; target is a path or a module.

    The syntax is csrc/pywsgi_spec.c's, which the server modules parse at
    config time: the last ':' splits target and name unless what follows
    holds a '/' or ends in ".py"; tests/unit/test_spec.py's table holds
    both to the same cases."""
    spec = spec.strip()
    if not spec:
        raise LoadError("no app given")
    target, sep, name = spec.rpartition(":")
    if not sep or "/" in name or name.endswith(".py"):
        target, name = spec, DEFAULT_CALLABLE
    call = name.endswith("()")
    if call:
        name = name[:-2]
    if not (name.isidentifier() and name.isascii()):
        raise LoadError("%r: %r is not a Python name" % (spec, name))
    if not target:
        raise LoadError("%r: no app given" % spec)
    return target, name, call


def is_file_spec(target):
    """A target naming a file (it holds a '/' or ends in ".py"), not a
    module."""
    return target.endswith(".py") or "/" in target


def absolute_spec(spec, base=None):
    """spec with a relative file target made absolute against base (the
    current directory by default), as the modules do against their config
    file."""
    target, name, call = parse_spec(spec)
    if not is_file_spec(target):
        return spec.strip()
    rest = spec.strip()[len(target) :]
    return os.path.abspath(os.path.join(base or os.getcwd(), target)) + rest


def add_python_path(entries):
    """Put the configured directories first on sys.path, in their order;
    how many lead it now."""
    entries = [os.path.abspath(e) for e in entries if e]
    for entry in reversed(entries):
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    return len(set(entries))


def working_directory(spec, chdir=None):
    """The directory a worker runs its app in: chdir when one is
    configured, else the folder of a file app (wherever the server was
    started: "/" under systemd, the shell's directory under `serve`), else
    None: the server's own working directory stays."""
    if chdir:
        return os.path.abspath(chdir)
    target = parse_spec(spec)[0]
    if is_file_spec(target):
        return os.path.dirname(os.path.abspath(target))
    return None


def enter_working_directory(spec, chdir=None):
    """chdir() into working_directory(spec, chdir), before the app is
    imported; LoadError if it cannot."""
    directory = working_directory(spec, chdir)
    if directory is None:
        return
    try:
        os.chdir(directory)
    except OSError as exc:
        raise LoadError(
            "cannot make %s the working directory (uid %d): %s"
            % (directory, os.getuid(), exc.strerror)
        ) from None


def _app_traceback(exc):
    """The traceback without importlib's own frames."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<frozen importlib")
        and f.filename != __file__
    ]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def _import_file(path, after=0):
    """Execute an app file as a module, with its directory on sys.path so
    that it imports its neighbours: after the first `after` entries (the
    configured python path comes first, as with mod_wsgi and NGINX Unit,
    so a module there wins over a neighbour of the same name).  It is
    registered under its own name (wsgi.py -> wsgi) unless that is taken,
    so a later `import wsgi` returns it instead of running it twice."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise LoadError("%s: no such file" % path)
    if not os.access(path, os.R_OK):
        raise LoadError(
            "%s: not readable by this process (uid %d)" % (path, os.getuid())
        )
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(after, directory)
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier() or name in sys.modules:
        name = "_pywsgi_app_%x" % (hash(path) & 0xFFFFFFFF)
    # a loader named: a CGI script (app.cgi, a #! file) is Python source
    # whatever its suffix
    spec = importlib.util.spec_from_file_location(
        name, path, loader=importlib.machinery.SourceFileLoader(name, path)
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        raise LoadError(
            "%s: importing it raised\n%s" % (path, _app_traceback(exc))
        ) from None
    return module, path


def _import_module(target):
    try:
        module = importlib.import_module(target)
    except BaseException as exc:
        if (
            isinstance(exc, ModuleNotFoundError)
            and exc.name == target.split(".")[0]
        ):
            raise LoadError(
                "%s: no such module on sys.path (%s)"
                % (target, os.pathsep.join(sys.path))
            ) from None
        raise LoadError(
            "%s: importing it raised\n%s" % (target, _app_traceback(exc))
        ) from None
    return module, getattr(module, "__file__", None) or target


def load(spec, python_path=()):
    """The app callable of spec, importing it now."""
    first = add_python_path(python_path)
    target, name, call = parse_spec(spec)
    if is_file_spec(target):
        module, where = _import_file(target, first)
    else:
        module, where = _import_module(target)
    try:
        app = getattr(module, name)
    except AttributeError:
        found = sorted(
            k
            for k, v in vars(module).items()
            if callable(v)
            and not k.startswith("_")
            and not isinstance(v, type)
        )[:10]
        raise LoadError(
            "%s has no %r%s"
            % (
                where,
                name,
                " (callables there: %s)" % ", ".join(found) if found else "",
            )
        ) from None
    if call:
        try:
            app = app()
        except BaseException as exc:
            raise LoadError(
                "%s: calling %s() raised\n%s"
                % (where, name, _app_traceback(exc))
            ) from None
    if not callable(app):
        raise LoadError(
            "%s: %s is a %s, not a WSGI callable"
            % (where, name + ("()" if call else ""), type(app).__name__)
        )
    return app
