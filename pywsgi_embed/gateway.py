"""The Python side of the gateway library: the hot path.

The library's C calls these through cffi (install() binds them to its
extern "Python" functions):
    load(cfg, err, errlen)  import one app, return its id + 1 (0: failed)
    serve(app, env, env_len, content_length, handle, timeout_ms)
                            run one request to its end, for what the C
                            path below does not take (handle(rec): the same
                            for a pywsgi_request *, for the tests)
    fini()                  worker exit

Per request the environ is a copy of the app's template dict (everything
that never changes in a worker) with the pairs of the record's packed blob
added: the CGI mapping rules were applied in C (csrc/pywsgi_env.c), so this
is a copy of bytes, done in C too (csrc/gateway_environ.c).  The request
entry points take the GIL themselves, build the environ and call, through
the C API (csrc/gateway_serve.c, registered by load() and set_steps());
a request with no body, no timeout and no metrics is called from C
instead (csrc/gateway_respond.c, with response.adopt(), resume() and
head_for() as its Python side, registered by _answer_in_c()):
    serve_environ(app, environ, length, handle, timeout_ms)
                            pywsgi_handle(): one request to its end
    start_environ(...)      pywsgi_start(): the app up to its first chunk;
                            the Response, when more is to come, is the
                            record's state, given to
    next_step(resp)         pywsgi_next(): one more chunk
    cancel_step(resp)       pywsgi_cancel(): the client left
"""

import atexit
import os
import sys
import time
import traceback

from pywsgi_embed import (
    __version__,
    loader,
    metrics,
    reload,
    response,
    watchdog,
    worker_exit,
)
from pywsgi_embed._gateway import ffi, lib
from pywsgi_embed.file_wrapper import FileWrapper
from pywsgi_embed.log_handler import LogHandler
from pywsgi_embed.log_stream import LogStream
from pywsgi_embed.response import ABORT, MORE, run
from pywsgi_embed.wsgi_input import EMPTY, Input

FAIL = lib.PYWSGI_FAIL
_unpack = ffi.unpack
_monotonic = time.monotonic

if lib.pywsgi_gw_environ_init() != 0:
    raise ImportError("cannot register pywsgi_embed._environ (see stderr)")
_environ = sys.modules["pywsgi_embed._environ"]
_build_environ = _environ.build

_apps = {}  # App by id: a dict, so a bad id (-1 after a failed
# load) is a KeyError, never another app
_read = None  # the server's read callback
_errors = None  # wsgi.errors of every request
_io = None  # (io table, io mode) of the worker, from the first load
_in_working_directory = False  # the first load entered it, once a worker
_reload_file = None  # the worker's ReloadFile watch, if it has one
_started_environ = None  # os.environ before the first app's import
_c_io_mode = 0  # io_mode for gateway_respond.c: 0 without _fastio


class App:
    __slots__ = ("call", "template", "id")

    def __init__(self, call, template, app_id=-1):
        self.call = call
        self.template = template
        self.id = app_id


def _text(cdata, default=""):
    return os.fsdecode(ffi.string(cdata)) if cdata != ffi.NULL else default


def _server_log(handle, level, data):
    response._log(handle, level, data, len(data))


def _handle_of(rec):
    """The module's handle of a record, as the int the io calls take."""
    return int(ffi.cast("intptr_t", rec.handle))


def set_io(io, mode=0):
    """Take the server's callbacks (a pywsgi_io *), once per worker.  They
    are called through the library's C wrappers (csrc/gateway.h); through
    pywsgi_embed._fastio, without releasing the GIL, those the module says
    never block (pywsgi_config.io_mode: all of them, or only the start()
    of a small whole body) when the gateway booted Python itself (in a
    test process there is no _fastio)."""
    global _read, _errors, _io
    lib.pywsgi_gw_set_io(io)
    _read = lib.pywsgi_gw_read
    _io = (io, mode)
    global _c_io_mode
    fast = sys.modules.get("pywsgi_embed._fastio") if mode else None
    _c_io_mode = mode if fast is not None else 0
    if fast is not None and mode == lib.PYWSGI_IO_SMALL_LAST:
        response.use_small_start(fast.start)
    elif fast is not None:
        response.use_io(fast.start, fast.write, fast.sendfile)
    _errors = LogStream(
        lambda level, data: _server_log(0, level, data), response.LOG_ERROR
    )


def redirect_stdio():
    """print(), sys.stderr and unconfigured logging go to the server log.
    logging.lastResort, not a root handler, so an app's basicConfig()
    still takes effect."""
    import logging

    sys.stdout = LogStream(_errors._log, response.LOG_ERROR, fd=1)
    sys.stderr = _errors
    logging.lastResort = LogHandler(
        lambda level, data: _server_log(0, level, data),
        (response.LOG_ERROR, response.LOG_WARN, response.LOG_INFO),
    )


def make_template(cfg):
    """The part of environ that is the same for every request of a worker."""
    template = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": EMPTY,
        "wsgi.errors": _errors,
        "wsgi.multithread": bool(cfg.multithread),
        "wsgi.multiprocess": bool(cfg.multiprocess),
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.file_wrapper": FileWrapper,
        "SERVER_SOFTWARE": _text(cfg.server, "pywsgi-embed"),
        "pywsgi_embed.version": __version__,
    }
    return with_room(template)


def with_room(template):
    """template with a hash table big enough for a request's variables.

    dict.copy() keeps the table size of a compact dict, so a roomy
    template saves every request the resize that adding ~20 keys to a
    dict of ~11 costs (1k instructions a request).  CPython sizes a table
    it must grow by 3 x the keys in use, so one insert and delete at a
    time, until the table grows, leaves the same keys in a table sized for
    three times as many.  On another Python this is merely a copy.
    """
    roomy = dict(template)
    size = sys.getsizeof(roomy)
    marker = "\0pywsgi-room"  # a str: the table stays str-keyed
    for _ in range(256):
        roomy[marker] = None
        del roomy[marker]
        if sys.getsizeof(roomy) != size:
            break
    return roomy


def check_io(io):
    """A clear error for an io table the gateway cannot use (a NULL table
    would crash the worker on its first field)."""
    if io == ffi.NULL:
        raise loader.LoadError(
            "the server module gave no io table (pywsgi_config.io is NULL)"
        )
    missing = [
        name
        for name in ("read", "start", "write", "sendfile", "log")
        if getattr(io, name) == ffi.NULL
    ]
    if missing:
        raise loader.LoadError(
            "the server module's io table lacks %s" % ", ".join(missing)
        )


def load(cfg, err, errlen):
    """Import the app of cfg (a pywsgi_config *): its id + 1, or 0 with the
    reason copied into err."""
    try:
        check_io(cfg.io)
        if _io is None:
            global _started_environ
            _started_environ = dict(os.environ)
            set_io(cfg.io, cfg.io_mode)
            redirect_stdio()
            watchdog.start()
            worker_exit.install(
                lambda text: response.log(0, response.LOG_ERROR, text)
            )
        elif _io != (cfg.io, cfg.io_mode):
            raise loader.LoadError(
                "pywsgi_config.io and io_mode are the worker's: this app "
                "gives others than the first app did"
            )
        spec = loader.absolute_spec(_text(cfg.app))
        enter_working_directory(spec, cfg)
        paths = _text(cfg.python_path).split(":")
        app = loader.load(spec, paths)
        app_id = len(_apps)
        entry = _apps[app_id] = App(app, make_template(cfg), app_id)
        _environ.register(
            app_id, entry.template, entry, serve_environ, start_environ
        )
        metrics.names[app_id] = _text(cfg.app)
        _answer_in_c()
        if cfg.reload_file != ffi.NULL:
            watch_reload_file(
                _text(cfg.reload_file), check_arguments(cfg, spec)
            )
        return app_id + 1
    except BaseException as exc:
        if isinstance(exc, loader.LoadError):
            why = str(exc)
        else:
            why = traceback.format_exc()
        data = why.encode("utf-8", "backslashreplace")[: max(errlen - 1, 0)]
        ffi.memmove(err, data + b"\0", len(data) + 1)
        return 0


def _answer_in_c():
    """csrc/gateway_respond.c calls the apps and answers their common
    case itself, unless an app loaded (the status app) asked for metrics:
    counting them needs the Python path's watchdog.run()."""
    _environ.set_response(
        response.adopt,
        response.resume,
        response.head_for,
        metrics.state == metrics.OFF,
        _c_io_mode,
    )


def run_once(app_id):
    """wsgi.run_once for the requests of app_id: True under CGI
    (pywsgi_embed/cgi.py), whose process serves one request."""
    entry = _apps[app_id]
    entry.template["wsgi.run_once"] = True
    # registered again: C forgets the environ it made from the old one
    _environ.register(
        app_id, entry.template, entry, serve_environ, start_environ
    )


def enter_working_directory(spec, cfg):
    """The working directory is the worker's: the first app's load enters
    it (pywsgi_config.chdir, or the folder of a file app), before the
    import, and the later apps' loads leave it."""
    global _in_working_directory
    if not _in_working_directory:
        chdir = _text(cfg.chdir, None)
        loader.enter_working_directory(spec, chdir)
        _in_working_directory = True


def check_arguments(cfg, spec):
    """pywsgi-check's arguments for the app of cfg: its config as the
    worker's was, with spec, the app made absolute before the worker left
    the server's directory."""
    pairs = []
    if cfg.process_env != ffi.NULL:
        blob = ffi.unpack(cfg.process_env, cfg.process_env_len)
        items = [os.fsdecode(x) for x in blob.split(b"\0")[:-1]]
        pairs = list(zip(items[::2], items[1::2]))
    return reload.app_arguments(
        spec,
        _text(cfg.python_home),
        _text(cfg.python_path),
        _text(cfg.chdir),
        pairs,
    )


def watch_reload_file(path, arguments):
    """Retire the worker when path changes and its apps still import
    (pywsgi_embed/reload.py); one watch per worker, for all its apps."""
    global _reload_file
    if _reload_file is None:
        _reload_file = reload.ReloadFile(
            path,
            os.fsdecode(ffi.string(lib.pywsgi_gateway_path())),
            _started_environ,
            lambda why: lib.pywsgi_gw_retire(why.encode("utf-8", "replace")),
            lambda text: response.log(0, response.LOG_ERROR, text),
        )
        _reload_file.start()
    _reload_file.arguments += arguments


def environ_of(app, env, env_len, length, handle):
    """The environ of a request: a copy of the app's template with the
    pairs of the packed blob (_environ.build, in C), and its wsgi.input."""
    if env_len < 2:
        raise ValueError("the request has no environ (env_len %d)" % env_len)
    environ = _build_environ(app.template, _unpack(env, env_len))
    if length:
        environ["wsgi.input"] = Input(_read, handle, length)
    return environ


def _gateway_error(handle):
    """An error of ours, not the app's: log it; the server answers 500."""
    try:
        response.log(
            handle,
            response.LOG_ERROR,
            "pywsgi: internal error\n" + traceback.format_exc(),
        )
    except BaseException:
        pass
    return FAIL


def _no_app(handle, app_id):
    """A request for an app id that pywsgi_init never returned (its load
    failed, and the module went on): one line, no traceback per request."""
    try:
        response.log(
            handle,
            response.LOG_ERROR,
            "pywsgi: no app with id %d "
            "in this worker (did its pywsgi_init fail?)" % app_id,
        )
    except BaseException:
        pass
    return FAIL


def serve(app_id, env, env_len, length, handle, timeout_ms=0):
    """Run one request to its end from its record's fields: the way in of
    what csrc/gateway_serve.c does not take (an unknown app, a record
    without environ), which this reports; and of the unit tests.
    timeout_ms: of each step (watchdog.py), 0 for none."""
    app = _apps.get(app_id)
    if app is None:
        return _no_app(handle, app_id)
    try:
        environ = environ_of(app, env, env_len, length, handle)
    except BaseException:
        return _gateway_error(handle)
    return serve_environ(app, environ, 0, handle, timeout_ms)


def _with_input(environ, length, handle):
    if length:
        environ["wsgi.input"] = Input(_read, handle, length)


def serve_environ(app, environ, length, handle, timeout_ms):
    """pywsgi_handle()'s path: the environ was built in C from the record
    (csrc/gateway_serve.c); the rest of the request is ours."""
    try:
        _with_input(environ, length, handle)
    except BaseException:
        return _gateway_error(handle)
    if timeout_ms or metrics.state:
        return watchdog.run(
            handle, environ, app.call, timeout_ms / 1000.0, app.id
        )
    began = _monotonic()  # noqa: F841, read by watchdog.report()
    return run(handle, environ, app.call)


def start_environ(app, environ, length, handle, timeout_ms):
    """pywsgi_start()'s path, as serve_environ() is pywsgi_handle()'s: the
    app up to its first body chunk.  DONE or ABORT, or the Response, which
    C keeps as the record's state and hands to next_step() or
    cancel_step()."""
    try:
        _with_input(environ, length, handle)
    except BaseException:
        return _gateway_error(handle)
    if timeout_ms or metrics.state:
        return watchdog.first_step(
            handle, environ, app.call, timeout_ms / 1000.0, app.id
        )
    began = _monotonic()  # noqa: F841, read by watchdog.report()
    return response.start(handle, environ, app.call)


def next_step(resp):
    """pywsgi_next(): one more chunk of resp (MORE), or its end."""
    if resp.flight is not None:
        return watchdog.next_step(resp)
    environ = resp.environ  # noqa: F841, read by watchdog.report()
    began = _monotonic()  # noqa: F841, through this frame
    code = resp.pull()
    if code != MORE:
        resp.close()
    return code


def cancel_step(resp):
    """pywsgi_cancel(): the client left before resp ended."""
    resp.close()
    if resp.flight is not None:
        watchdog.ended(resp, ABORT)


watchdog.untimed_frames(
    (serve_environ.__code__, start_environ.__code__, next_step.__code__),
    _environ.running,
)
_environ.set_steps(next_step, cancel_step)


def handle(rec):
    """serve() of a pywsgi_request * (the unit tests)."""
    return serve(
        rec.app,
        rec.env,
        rec.env_len,
        rec.content_length,
        _handle_of(rec),
        rec.timeout_ms,
    )


def fini():
    """Worker exit: atexit functions, then flush what is buffered."""
    if _reload_file is not None:
        _reload_file.stop.set()
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass


def install(ffi_, lib_):
    """Bind the functions above to the library's extern "Python" entries.
    Called by the library's init code (see _build.py), in the server."""
    ffi_.def_extern(name="pywsgi_py_load", error=0)(load)
    ffi_.def_extern(name="pywsgi_py_serve", error=ABORT)(serve)
    ffi_.def_extern(name="pywsgi_py_fini")(fini)
