"""A "server" made of cffi callbacks that records what the gateway hands it.

The unit tests drive the core in-process the way csrc/gateway_entry.c does: a
pywsgi_io table whose members are ffi.callback functions, pywsgi_request
records made with ffi.new, and gateway.handle()/step()/cancel() called on
them.  Each request gets an integer handle, so the callbacks can tell which
request a call belongs to (0, NULL, is the worker's own log lines).
"""

import os
import sys
import types

from pywsgi_embed._gateway import ffi, lib

from pywsgi_embed import gateway, response

DONE = lib.PYWSGI_DONE
MORE = lib.PYWSGI_MORE
ABORT = lib.PYWSGI_ABORT
FAIL = lib.PYWSGI_FAIL
LAST = lib.PYWSGI_BODY_LAST

BASE_ENV = [
    ("REQUEST_METHOD", "GET"),
    ("SCRIPT_NAME", ""),
    ("PATH_INFO", "/"),
    ("QUERY_STRING", ""),
    ("SERVER_NAME", "localhost"),
    ("SERVER_PORT", "8080"),
    ("SERVER_PROTOCOL", "HTTP/1.1"),
    ("REMOTE_ADDR", "127.0.0.1"),
]


def blob(pairs):
    """The packed environ of pairs, as pywsgi_env.c writes it."""
    out = bytearray()
    for key, value in pairs:
        if isinstance(key, str):
            key = key.encode("latin-1")
        if isinstance(value, str):
            value = value.encode("latin-1")
        out += key + b"\0" + value + b"\0"
    return bytes(out)


class Seen:
    """What the server got for one request."""

    def __init__(self, body_chunks):
        self.events = []  # ("start"|"write"|"sendfile", ...) in order
        self.status = None  # int code given to start()
        self.status_line = None  # bytes
        self.headers = None  # [(name bytes, value bytes)]
        self.nheaders = None
        self.flags = None
        self.body = bytearray()  # every body byte handed over, in order
        self.logs = []  # (level, text)
        self.reads = []  # n asked by each read() call
        self.body_chunks = list(body_chunks)
        self.read_error = False  # read() returns -1 once the chunks are out
        self.gone_after = None  # output calls that succeed before -1

    def header(self, name):
        """The values of a response header (case-insensitive)."""
        name = name.lower().encode()
        return [
            v.decode("latin-1") for n, v in self.headers if n.lower() == name
        ]

    @property
    def starts(self):
        return [e for e in self.events if e[0] == "start"]

    def log_text(self):
        return "\n".join(text for level, text in self.logs)

    def _output(self):
        """0, or -1 once gone_after output calls went through."""
        if self.gone_after is None:
            return 0
        if self.gone_after <= 0:
            return -1
        self.gone_after -= 1
        return 0


def _split_headers(data, count):
    parts = data.split(b"\0")
    assert parts[-1] == b"", "the header blob must end with a NUL"
    parts = parts[:-1]
    pairs = list(zip(parts[0::2], parts[1::2]))
    assert len(pairs) == count, (pairs, count)
    return pairs


class Recorder:
    """The io table and the requests it has seen."""

    def __init__(self):
        self.requests = {}
        self.worker_logs = []  # (level, text) with a NULL handle
        self.callback_errors = []
        self._next = 1
        self._keep = []  # cdata that records point to
        self.io = ffi.new("pywsgi_io *")
        self._callbacks = [
            ffi.callback(
                "ssize_t(void *, char *, size_t)",
                self._read,
                onerror=self._onerror,
            ),
            ffi.callback(
                "int(void *, int, const char *, size_t, const char *,"
                " size_t, size_t, const char *, size_t, int)",
                self._start,
                onerror=self._onerror,
            ),
            ffi.callback(
                "int(void *, const char *, size_t)",
                self._write,
                onerror=self._onerror,
            ),
            ffi.callback(
                "int(void *, int, int64_t, int64_t)",
                self._sendfile,
                onerror=self._onerror,
            ),
            ffi.callback(
                "void(void *, int, const char *, size_t)",
                self._log,
                onerror=self._onerror,
            ),
        ]
        (
            self.io.read,
            self.io.start,
            self.io.write,
            self.io.sendfile,
            self.io.log,
        ) = self._callbacks

    # -- the callbacks -------------------------------------------------------

    def _onerror(self, exc, value, tb):
        self.callback_errors.append(value)
        return None

    def _seen(self, handle):
        return self.requests[int(ffi.cast("intptr_t", handle))]

    def _read(self, handle, buf, n):
        seen = self._seen(handle)
        seen.reads.append(n)
        if not seen.body_chunks:
            return -1 if seen.read_error else 0
        chunk = seen.body_chunks[0]
        part, rest = chunk[:n], chunk[n:]
        if rest:
            seen.body_chunks[0] = rest
        else:
            seen.body_chunks.pop(0)
        ffi.memmove(buf, part, len(part))
        return len(part)

    def _start(
        self,
        handle,
        status,
        line,
        line_len,
        headers,
        headers_len,
        nheaders,
        body,
        body_len,
        flags,
    ):
        seen = self._seen(handle)
        assert seen.status is None, "start() called twice"
        seen.status = status
        seen.status_line = ffi.unpack(line, line_len)
        seen.headers = _split_headers(
            ffi.unpack(headers, headers_len), nheaders
        )
        seen.nheaders = nheaders
        seen.flags = flags
        data = ffi.unpack(body, body_len) if body_len else b""
        seen.body += data
        seen.events.append(("start", status, data, flags))
        return seen._output()

    def _write(self, handle, buf, n):
        seen = self._seen(handle)
        assert seen.status is not None, "write() before start()"
        data = ffi.unpack(buf, n)
        seen.body += data
        seen.events.append(("write", data))
        return seen._output()

    def _sendfile(self, handle, fd, offset, n):
        seen = self._seen(handle)
        assert seen.status is not None, "sendfile() before start()"
        data = os.pread(fd, n, offset)
        assert len(data) == n, "sendfile() past the end of the file"
        seen.body += data
        seen.events.append(("sendfile", fd, offset, n))
        return seen._output()

    def _log(self, handle, level, msg, n):
        text = ffi.unpack(msg, n).decode("utf-8")
        assert "\n" not in text, "a log message must be one line"
        if handle == ffi.NULL:
            self.worker_logs.append((level, text))
        else:
            self._seen(handle).logs.append((level, text))

    # -- apps and requests ---------------------------------------------------

    def config(
        self,
        app="",
        python_path="",
        software=b"test/1.0",
        multithread=1,
        multiprocess=1,
        chdir=None,
    ):
        """A pywsgi_config * (and what it points to, kept alive)."""
        cfg = ffi.new("pywsgi_config *")
        keep = [cfg]

        def text(value):
            if isinstance(value, str):
                value = value.encode()
            c = ffi.new("char[]", value)
            keep.append(c)
            return c

        cfg.abi_version = lib.PYWSGI_ABI_VERSION
        cfg.app = text(app)
        cfg.python_path = text(python_path)
        cfg.server = text(software) if software is not None else ffi.NULL
        cfg.io = self.io
        cfg.multithread = multithread
        cfg.multiprocess = multiprocess
        cfg.chdir = text(chdir) if chdir is not None else ffi.NULL
        self._keep.append(keep)
        return cfg

    def load(self, spec, errlen=4096, **config):
        """gateway.load() of spec: (app id or -1, error text)."""
        cfg = self.config(spec, **config)
        err = ffi.new("char[]", errlen)
        got = gateway.load(cfg, err, errlen)
        return got - 1, ffi.string(err).decode("utf-8")

    def add_app(self, app, **config):
        """Load a callable through the real loader: it goes into a module of
        its own, loaded by spec "module:application"."""
        name = "pywsgi_unit_app_%d" % len(self._keep)
        module = types.ModuleType(name)
        module.application = app
        sys.modules[name] = module
        app_id, err = self.load(name + ":application", **config)
        assert app_id >= 0, err
        return app_id

    def request(
        self,
        app_id,
        env=(),
        body=(),
        content_length=None,
        raw_env=None,
        timeout_ms=0,
    ):
        """A pywsgi_request * and its Seen.  env: pairs added to BASE_ENV
        (a key given again replaces the base one)."""
        pairs = dict(BASE_ENV)
        pairs.update(env)
        data = raw_env if raw_env is not None else blob(pairs.items())
        if content_length is None:
            content_length = sum(map(len, body)) if body else 0
        ident = self._next
        self._next += 1
        seen = Seen(body)
        self.requests[ident] = seen
        rec = ffi.new("pywsgi_request *")
        cenv = ffi.new("char[]", data)
        self._keep.append(cenv)
        rec.app = app_id
        rec.env = cenv
        rec.env_len = len(data)
        rec.content_length = content_length
        rec.handle = ffi.cast("void *", ident)
        rec.state = ffi.NULL
        rec.timeout_ms = timeout_ms
        return rec, seen

    def run(self, app_id, **kw):
        """Handle one request to its end: (return code, Seen)."""
        rec, seen = self.request(app_id, **kw)
        code = lib.pywsgi_gw_serve(rec)
        return code, seen

    def steps(self, app_id, limit=1000, **kw):
        """The same through step mode: (codes of each step, Seen)."""
        rec, seen = self.request(app_id, **kw)
        codes = [step(rec)]
        while codes[-1] == MORE and len(codes) < limit:
            codes.append(step(rec))
        assert rec.state == ffi.NULL or codes[-1] == MORE
        return codes, seen


def step(rec):
    """pywsgi_start() of rec, then pywsgi_next(), as nginx calls them: the
    library's own C (csrc/gateway_serve.c), without the checks of a booted
    worker that gateway_entry.c adds."""
    if rec.state == ffi.NULL:
        return lib.pywsgi_gw_step_start(rec)
    return lib.pywsgi_gw_step_next(rec)


def cancel(rec):
    """pywsgi_cancel() of rec (the client left)."""
    lib.pywsgi_gw_step_cancel(rec)


def install(recorder):
    """Make recorder the worker's server (gateway.set_io)."""
    gateway.set_io(recorder.io)
    return recorder


__all__ = [
    "Recorder",
    "Seen",
    "blob",
    "install",
    "step",
    "cancel",
    "response",
    "DONE",
    "MORE",
    "ABORT",
    "FAIL",
    "LAST",
    "BASE_ENV",
]
