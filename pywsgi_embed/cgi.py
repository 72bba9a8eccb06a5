"""`pywsgi-embed cgi APP`: one request through CGI (RFC 3875), as PEP
3333's CGI example and wsgiref.handlers.CGIHandler do, for hosts that offer
only CGI (Apache mod_cgid or mod_cgi, nginx + fcgiwrap, shared hosting).

The request is read from the CGI variables and stdin, the response written
to stdout as a `Status:` line, the headers and the body.  It goes through
the same core as the server modules: this file is a server module written
in Python, a pywsgi_io table over file descriptors 0, 1 and 2 handed to
gateway.load() and gateway.serve(), exactly as csrc/gateway.c hands the
modules' tables.  So the environ template, wsgi.input, start_response's
validation, Content-Length handling, wsgi.file_wrapper, the 500 on an
error and the iterable's close() are the modules' own code.

The CGI host has applied the header rules already (Apache drops headers
whose names contain `_`, and `Proxy`); HTTP_PROXY is dropped here too, for
hosts that do not (httpoxy).  The app's print() and stderr go to stderr,
which the host writes to its error log: stdout carries only the response.

A script form: a file that starts with `#!/path/to/pywsgi-embed cgi` and
defines `application` is run by the host as `pywsgi-embed cgi FILE`.
"""

import errno
import os
import signal
import sys

from pywsgi_embed import gateway, response
from pywsgi_embed._gateway import ffi, lib

READ_CHUNK = 65536
ERROR_SIZE = 8192
SOFTWARE = "pywsgi-embed-cgi"
DROPPED = {b"HTTP_PROXY"}  # httpoxy: a request header posing as config


def write_all(fd, data):
    """0 once every byte went out, -1 when the reader is gone."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        if exc.errno in (errno.EPIPE, errno.ECONNRESET):
            return -1
        raise
    return 0


class CgiIo:
    """The pywsgi_io table of one CGI request."""

    def __init__(self, stdin=0, stdout=1, stderr=2):
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.io = ffi.new("pywsgi_io *")
        self._callbacks = [
            ffi.callback("ssize_t(void *, char *, size_t)", self.read, -1),
            ffi.callback(
                "int(void *, int, const char *, size_t, const char *,"
                " size_t, size_t, const char *, size_t, int)",
                self.start,
                -1,
            ),
            ffi.callback("int(void *, const char *, size_t)", self.write, -1),
            ffi.callback(
                "int(void *, int, int64_t, int64_t)", self.sendfile, -1
            ),
            ffi.callback("void(void *, int, const char *, size_t)", self.log),
        ]
        (
            self.io.read,
            self.io.start,
            self.io.write,
            self.io.sendfile,
            self.io.log,
        ) = self._callbacks

    def read(self, handle, buf, n):
        data = os.read(self.stdin, min(n, READ_CHUNK))
        ffi.memmove(buf, data, len(data))
        return len(data)

    def start(self, handle, status, line, line_len, headers, headers_len,
              nheaders, body, body_len, flags):  # fmt: skip
        parts = ffi.unpack(headers, headers_len).split(b"\0")[:-1]
        head = [b"Status: " + ffi.unpack(line, line_len)]
        head += [k + b": " + v for k, v in zip(parts[0::2], parts[1::2])]
        data = b"\r\n".join(head) + b"\r\n\r\n"
        if body_len:
            data += ffi.unpack(body, body_len)
        return write_all(self.stdout, data)

    def write(self, handle, buf, n):
        return write_all(self.stdout, ffi.unpack(buf, n))

    def sendfile(self, handle, fd, offset, n):
        while n > 0:
            data = os.pread(fd, min(n, READ_CHUNK), offset)
            if not data:
                return -1  # the file shrank under us
            if write_all(self.stdout, data) != 0:
                return -1
            offset += len(data)
            n -= len(data)
        return 0

    def log(self, handle, level, msg, n):
        # the host logs each line of a CGI's stderr
        write_all(self.stderr, b"pywsgi: " + ffi.unpack(msg, n) + b"\n")


def environ_blob(env):
    """The CGI variables (bytes to bytes) as the packed "k\\0v\\0" blob the
    modules hand the gateway; HTTPS=on makes wsgi.url_scheme https, as the
    modules do."""
    pairs = [(k, v) for k, v in env.items() if k not in DROPPED]
    if env.get(b"HTTPS", b"").lower() in (b"on", b"1"):
        pairs.append((b"wsgi.url_scheme", b"https"))
    return b"".join(k + b"\0" + v + b"\0" for k, v in pairs)


def content_length(env):
    """The body's length: CONTENT_LENGTH, or -1 (read stdin to its end:
    a host that de-chunked a body gives no length)."""
    value = env.get(b"CONTENT_LENGTH", b"").strip()
    if not value:
        return -1
    if not value.isdigit():
        raise ValueError("CONTENT_LENGTH %r is not a length" % value)
    return int(value)


def fail(cgi, status, reason):
    """Answer an error of ours (no app to run, a bad request) in CGI form,
    the reason on stderr for the host's log."""
    write_all(cgi.stderr, b"pywsgi: %s\n" % reason.encode("utf-8", "replace"))
    body = status.encode()
    write_all(
        cgi.stdout,
        b"Status: %s\r\nContent-Type: text/plain\r\nContent-Length: %d"
        b"\r\n\r\n%s" % (body, len(body), body),
    )
    return 1


def keep(cdata, store):
    store.append(cdata)
    return cdata


def host_ended(signum, frame):
    """The host ends a CGI whose client left with SIGTERM (mod_cgid, then
    SIGKILL 3 s later): an exception in the app's frame, so the request
    ends as when a write finds the client gone, and close() runs."""
    raise response.ClientGone("the CGI host ended the request (SIGTERM)")


def run(spec, python_path=(), env=None):
    """Serve the one request of this CGI process: the exit status."""
    env = os.environb if env is None else env
    signal.signal(signal.SIGTERM, host_ended)
    cgi = CgiIo()
    cfg = ffi.new("pywsgi_config *")
    store = []  # what cfg points to stays alive
    cfg.abi_version = lib.PYWSGI_ABI_VERSION
    cfg.app = keep(ffi.new("char[]", os.fsencode(spec)), store)
    cfg.python_path = keep(
        ffi.new("char[]", os.fsencode(":".join(python_path))), store
    )
    cfg.server = keep(
        ffi.new("char[]", env.get(b"SERVER_SOFTWARE", SOFTWARE.encode())),
        store,
    )
    cfg.io = cgi.io
    cfg.multithread = 0
    cfg.multiprocess = 1
    err = ffi.new("char[]", ERROR_SIZE)
    app_id = gateway.load(cfg, err, ERROR_SIZE) - 1
    if app_id < 0:
        return fail(cgi, "500 Internal Server Error", ffi.string(err).decode())
    gateway.run_once(app_id)
    try:
        length = content_length(env)
    except ValueError as exc:
        return fail(cgi, "400 Bad Request", str(exc))
    blob = environ_blob(env)
    code = gateway.serve(app_id, ffi.new("char[]", blob), len(blob), length, 1)
    sys.stdout.flush()  # the app's print(): to stderr, never the response
    if code == lib.PYWSGI_FAIL:  # nothing went out: the modules' 500
        return fail(cgi, "500 Internal Server Error", "the gateway failed")
    return 0 if code == lib.PYWSGI_DONE else 1
