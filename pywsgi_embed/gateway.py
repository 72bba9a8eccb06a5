"""The Python side of the gateway library: the hot path.

csrc/gateway.c calls these through cffi (install() binds them to the
library's extern "Python" functions):
    load(cfg, err, errlen)  import one app, return its id + 1 (0: failed)
    handle(rec)             run one request to its end
    step(rec)               step mode: the app up to its first chunk, then
                            one chunk per call (nginx's thread pool)
    cancel(rec)             step mode: the client left, close the iterable
    fini()                  worker exit

Per request the environ is a copy of the app's template dict (everything
that never changes in a worker) updated from the record's packed blob with
one unpack, one decode and one split: the CGI mapping rules were applied in
C (csrc/pywsgi_env.c).
"""

import atexit
import os
import sys
import traceback

from pywsgi_embed import __version__, loader, response
from pywsgi_embed._gateway import ffi, lib
from pywsgi_embed.errors import LogHandler, LogStream
from pywsgi_embed.file_wrapper import FileWrapper
from pywsgi_embed.response import ABORT, MORE, Response
from pywsgi_embed.wsgi_input import EMPTY, Input

FAIL = lib.PYWSGI_FAIL

_apps = {}          # App by id: a dict, so a bad id (-1 after a failed
                    # load) is a KeyError, never another app
_read = None        # the server's read callback
_inflight = set()   # step mode: responses between two steps
_errors = None      # wsgi.errors of every request


class App:
    __slots__ = ("call", "template")

    def __init__(self, call, template):
        self.call = call
        self.template = template


def _text(cdata, default=""):
    return os.fsdecode(ffi.string(cdata)) if cdata != ffi.NULL else default


def _pairs(blob):
    """dict of a "k\\0v\\0" latin-1 blob (the last NUL included)."""
    parts = blob[:-1].decode("latin-1").split("\0") if blob else []
    return dict(zip(parts[::2], parts[1::2]))


def _server_log(handle, level, data):
    response._log(handle, level, data, len(data))


def set_io(io):
    """Take the server's callbacks (a pywsgi_io *), once per worker.  They
    are called through the library's C wrappers (csrc/gateway.h)."""
    global _read, _errors
    lib.pywsgi_gw_set_io(io)
    _read = lib.pywsgi_gw_read
    response.set_io(lib.pywsgi_gw_start, lib.pywsgi_gw_write,
                    lib.pywsgi_gw_sendfile, lib.pywsgi_gw_log)
    _errors = LogStream(lambda level, data: _server_log(ffi.NULL, level, data),
                        response.LOG_ERROR)


def redirect_stdio():
    """print(), sys.stderr and unconfigured logging go to the server log.
    logging.lastResort, not a root handler, so an app's basicConfig()
    still takes effect."""
    import logging
    sys.stdout = LogStream(_errors._log, response.LOG_ERROR, fd=1)
    sys.stderr = _errors
    logging.lastResort = LogHandler(
        lambda level, data: _server_log(ffi.NULL, level, data),
        (response.LOG_ERROR, response.LOG_WARN, response.LOG_INFO))


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
    if cfg.environ != ffi.NULL and cfg.environ_len:
        template.update(_pairs(ffi.unpack(cfg.environ, cfg.environ_len)))
    return template


def check_io(io):
    """A clear error for an io table the gateway cannot use (a NULL table
    would crash the worker on its first field)."""
    if io == ffi.NULL:
        raise loader.LoadError("the server module gave no io table "
                               "(pywsgi_config.io is NULL)")
    missing = [name for name in ("read", "start", "write", "sendfile", "log")
               if getattr(io, name) == ffi.NULL]
    if missing:
        raise loader.LoadError("the server module's io table lacks %s"
                               % ", ".join(missing))


def load(cfg, err, errlen):
    """Import the app of cfg (a pywsgi_config *): its id + 1, or 0 with the
    reason copied into err."""
    try:
        if _read is None:
            check_io(cfg.io)
            set_io(cfg.io)
            redirect_stdio()
        paths = _text(cfg.python_path).split(":")
        app = loader.load(_text(cfg.app), paths)
        app_id = len(_apps)
        _apps[app_id] = App(app, make_template(cfg))
        return app_id + 1
    except BaseException as exc:
        if isinstance(exc, loader.LoadError):
            why = str(exc)
        else:
            why = traceback.format_exc()
        data = why.encode("utf-8", "backslashreplace")[:max(errlen - 1, 0)]
        ffi.memmove(err, data + b"\0", len(data) + 1)
        return 0


def new_response(rec):
    """The Response of a request record, its environ built."""
    app = _apps[rec.app]
    handle = rec.handle
    environ = app.template.copy()
    parts = iter(ffi.unpack(rec.env, rec.env_len - 1).decode("latin-1")
                 .split("\0"))
    environ.update(zip(parts, parts))     # slicing twice costs 0.8 us more
    length = rec.content_length
    if length:
        environ["wsgi.input"] = Input(_read, handle, length)
    return Response(handle, environ), app.call


def _gateway_error(rec):
    """An error of ours, not the app's: log it; the server answers 500."""
    try:
        response.log(rec.handle, response.LOG_ERROR,
                     "pywsgi: internal error\n" + traceback.format_exc())
    except BaseException:
        pass
    return FAIL


def handle(rec):
    try:
        resp, app = new_response(rec)
    except BaseException:
        return _gateway_error(rec)
    code = resp.begin(app)
    while code == MORE:
        code = resp.pull()
    resp.close()
    return code


def step(rec):
    if rec.state == ffi.NULL:
        try:
            resp, app = new_response(rec)
        except BaseException:
            return _gateway_error(rec)
        code = resp.begin(app)
        if code == MORE:
            resp.keep = ffi.new_handle(resp)
            _inflight.add(resp)
            rec.state = resp.keep
            return MORE
    else:
        resp = ffi.from_handle(rec.state)
        code = resp.pull()
        if code == MORE:
            return MORE
        _release(rec, resp)
    resp.close()
    return code


def _release(rec, resp):
    _inflight.discard(resp)
    resp.keep = None
    rec.state = ffi.NULL


def cancel(rec):
    resp = ffi.from_handle(rec.state)
    _release(rec, resp)
    resp.close()


def fini():
    """Worker exit: atexit functions, then flush what is buffered."""
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
    ffi_.def_extern(name="pywsgi_py_handle", error=ABORT)(handle)
    ffi_.def_extern(name="pywsgi_py_step", error=ABORT)(step)
    ffi_.def_extern(name="pywsgi_py_cancel")(cancel)
    ffi_.def_extern(name="pywsgi_py_fini")(fini)
