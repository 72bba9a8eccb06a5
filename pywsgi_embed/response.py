"""One WSGI response: start_response(), the app's iterable, and the calls
that hand status, headers and body to the server (the pywsgi_io callbacks).

The PEP 3333 duties of a server, as they concern the response, live here:
  - start_response validates at once (str status "NNN Reason", a list of
    (str, str) headers, token names, no CR/LF/NUL or other controls, no
    hop-by-hop names) so the app sees its own mistake; exc_info replaces
    the headers before anything went out and re-raises after;
  - headers go out with the first non-empty chunk (or the first write(),
    or the end of an empty body), fused with that chunk into one call; a
    one-item list gets a Content-Length and goes out in a single call;
  - a declared Content-Length is never exceeded, and a short body drops
    the connection instead of looking complete;
  - the iterable's close() runs exactly once, whatever happened;
  - an error before output is a 500 with the traceback in the server log;
    after output, the connection is aborted (PYWSGI_ABORT).
"""

import re
import traceback

from pywsgi_embed._gateway import lib
from pywsgi_embed.file_wrapper import FileWrapper

DONE = lib.PYWSGI_DONE
MORE = lib.PYWSGI_MORE
ABORT = lib.PYWSGI_ABORT
LAST = lib.PYWSGI_BODY_LAST
LOG_ERROR = lib.PYWSGI_LOG_ERROR
LOG_WARN = lib.PYWSGI_LOG_WARN
LOG_INFO = lib.PYWSGI_LOG_INFO

HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade",
))

_STATUS = re.compile(r"[1-9][0-9][0-9] [\t\x20-\x7e\x80-\xff]*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_CHAR = re.compile(r"[\x01-\x08\x0a-\x1f\x7f]")

_CACHE_MAX = 512
_statuses = {}       # status str -> (code, latin-1 bytes), valid ones only
_names = {}          # header name -> lower-case name, valid ones only

_SERVER_ERROR = (
    500, b"500 Internal Server Error",
    b"Content-Type\0text/plain; charset=utf-8\0Content-Length\x0025\0", 2,
    b"500 Internal Server Error",
)

# The server's callbacks, set once per worker by set_io()
_start = _write = _sendfile = _log = None


def set_io(start, write, sendfile, log):
    global _start, _write, _sendfile, _log
    _start, _write, _sendfile, _log = start, write, sendfile, log


def log(handle, level, text):
    """Log text, one server log line per line (nginx cuts lines at 2 KiB)."""
    for line in text.rstrip("\n").split("\n"):
        data = line.encode("utf-8", "backslashreplace")
        _log(handle, level, data, len(data))


class WSGIError(Exception):
    """The app broke a rule of PEP 3333."""


class ClientGone(OSError):
    """The client went away while the response was going out."""


def parse_status(status):
    """(code, status line bytes) of a valid status, else raise."""
    hit = _statuses.get(status)
    if hit is not None and type(status) is str:
        return hit
    if type(status) is not str:
        raise TypeError("start_response(): the status must be a str, not %s"
                        % type(status).__name__)
    if _STATUS.fullmatch(status) is None:
        raise ValueError("start_response(): the status %r is not "
                         "'NNN Reason phrase'" % status)
    hit = (int(status[:3]), status.encode("latin-1"))
    if len(_statuses) < _CACHE_MAX:
        _statuses[status] = hit
    return hit


def _check_name(name):
    if type(name) is not str:
        raise TypeError("start_response(): a header name must be a str, "
                        "not %s: %r" % (type(name).__name__, name))
    if _TOKEN.fullmatch(name) is None:
        raise ValueError("start_response(): %r is not a valid header name"
                         % name)
    lower = name.lower()
    if lower in HOP_BY_HOP:
        raise ValueError("start_response(): %r is a hop-by-hop header, "
                         "which only the server may set (PEP 3333)" % name)
    if len(_names) < _CACHE_MAX:
        _names[name] = lower
    return lower


def _content_length(value):
    if not value.isdigit() or not value.isascii():
        raise ValueError("start_response(): Content-Length %r is not a "
                         "number" % value)
    return int(value)


_header_lists = {}   # tuple(headers) -> encode_headers() result, valid ones


def encode_headers(headers):
    """(blob, count, content length or -1) of a valid header list, else
    raise.  The blob is "Name\\0Value\\0" pairs, as pywsgi_io.start takes.

    Most apps send the same few header lists again and again, so valid
    ones are cached: one tuple() and one dict lookup instead of checking
    every name and value (1 us -> 0.2 us on the 2-core VM).  The cache is
    emptied when full so that varying lists cannot crowd out the hot ones.
    """
    if type(headers) is list:
        try:
            key = tuple(headers)
            hit = _header_lists.get(key)
        except TypeError:          # an unhashable item: let the checks say
            key = hit = None
        if hit is not None:
            return hit
        hit = _encode_headers(headers)
        if key is not None:
            if len(_header_lists) >= _CACHE_MAX:
                _header_lists.clear()
            _header_lists[key] = hit
        return hit
    return _encode_headers(headers)


def _encode_headers(headers):
    if type(headers) is not list:
        raise TypeError("start_response(): the headers must be a list of "
                        "(name, value) tuples, not %s" % type(headers).__name__)
    flat = []
    length = -1
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            raise TypeError("start_response(): each header must be a "
                            "(name, value) tuple, not %r" % (item,))
        name, value = item
        lower = _names.get(name) if type(name) is str else None
        if lower is None:
            lower = _check_name(name)
        if type(value) is not str:
            raise TypeError("start_response(): the value of %s must be a "
                            "str, not %s" % (name, type(value).__name__))
        if lower == "content-length":
            length = _content_length(value)
        flat.append(name)
        flat.append(value)
    flat.append("")
    text = "\0".join(flat)
    if text.count("\0") != len(flat) - 1 or _BAD_VALUE_CHAR.search(text):
        bad = next(h for h in headers
                   if "\0" in h[1] or _BAD_VALUE_CHAR.search(h[1]))
        raise ValueError("start_response(): the value of %s has a control "
                         "character (CR, LF, NUL...): %r" % bad)
    try:
        blob = text.encode("latin-1")
    except UnicodeEncodeError:
        bad = next(h for h in headers if not h[1].isascii()
                   and max(map(ord, h[1])) > 255)
        raise ValueError("start_response(): the value of %s is not "
                         "latin-1: %r" % bad) from None
    return blob, len(headers), length


class Response:
    """The state of one response, from app() to close()."""

    __slots__ = ("handle", "environ", "code", "status", "headers", "count",
                 "left", "started", "result", "iterator", "keep")

    def __init__(self, handle, environ):
        self.handle = handle
        self.environ = environ
        self.status = None       # status line bytes, once start_response ran
        self.left = -1           # bytes the app's Content-Length still allows
        self.started = False     # status and headers went to the server
        self.result = None
        self.iterator = None
        self.keep = None         # step mode: the cffi handle of self

    # -- the app's side -----------------------------------------------------

    def start_response(self, status, headers, exc_info=None, /):
        if exc_info is not None:
            try:
                if self.started:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise WSGIError("start_response() was called a second time "
                            "without exc_info")
        code, status = parse_status(status)
        blob, count, length = encode_headers(headers)
        self.code = code
        self.status = status
        self.headers = blob
        self.count = count
        self.left = length
        return self.write

    def write(self, data):
        if type(data) is not bytes:
            raise TypeError("write() takes bytes, not %s" % type(data).__name__)
        if 0 <= self.left < len(data):
            raise WSGIError("write() of %d bytes goes past the Content-Length "
                            "(%d bytes left)" % (len(data), self.left))
        if not self.send(data):
            raise ClientGone("the client closed the connection")

    # -- output -------------------------------------------------------------

    def send(self, data):
        """Hand data to the server, the headers first if they have not gone
        out yet.  False when the client is gone."""
        n = len(data)
        left = self.left
        if 0 <= left < n:
            data = data[:left]
            n = left
            self._too_long()
        if self.started:
            rc = _write(self.handle, data, n)
        else:
            if self.status is None:
                raise WSGIError("the app produced body bytes before calling "
                                "start_response()")
            self.started = True
            status = self.status
            headers = self.headers
            rc = _start(self.handle, self.code, status, len(status), headers,
                        len(headers), self.count, data, n, 0)
        if left >= 0:
            self.left = left - n
        return rc == 0

    def _start_whole(self, body, declared):
        """Status, headers and the whole body in one call; declared: the
        app gave a Content-Length."""
        headers = self.headers
        count = self.count
        n = len(body)
        if not declared and (n or not self._bodyless()):
            headers += b"Content-Length\0%d\0" % n
            count += 1
        self.started = True
        status = self.status
        return _start(self.handle, self.code, status, len(status), headers,
                      len(headers), count, body, n, LAST)

    def _bodyless(self):
        """True when a response may carry fewer bytes than its
        Content-Length: HEAD, 1xx, 204 and 304."""
        code = self.code
        return (code < 200 or code == 204 or code == 304
                or self.environ.get("REQUEST_METHOD") == "HEAD")

    def _too_long(self):
        log(self.handle, LOG_WARN, "the app sent more than its "
            "Content-Length: the rest was dropped")

    def _short(self):
        log(self.handle, LOG_ERROR, "the app sent %d bytes fewer than its "
            "Content-Length: the connection is dropped so the client sees a "
            "truncated response" % self.left)
        return ABORT

    # -- the steps ----------------------------------------------------------

    def begin(self, app):
        """Call the app and send up to its first body chunk."""
        try:
            result = app(self.environ, self.start_response)
        except BaseException as exc:
            return self.fail(exc)
        self.result = result
        rtype = type(result)
        if rtype is list:
            if len(result) == 1 and not self.started and self.status is not None:
                body = result[0]
                if type(body) is bytes:
                    return self._whole(body)
        elif rtype is FileWrapper:
            span = result.span()
            if span is not None:
                return self._file(*span)
        try:
            self.iterator = iter(result)
        except BaseException as exc:
            return self.fail(exc)
        return self.pull()

    def _whole(self, body):
        left = self.left
        if 0 <= left < len(body):
            body = body[:left]
            self._too_long()
        rc = self._start_whole(body, left >= 0)
        if rc != 0:
            return self.gone()
        if len(body) < left and not self._bodyless():
            self.left = left - len(body)
            return self._short()
        return DONE

    def _file(self, fd, offset, count):
        """wsgi.file_wrapper over a regular file: headers, then sendfile."""
        if self.status is None:
            return self.fail(WSGIError("the app returned a file_wrapper "
                                       "without calling start_response()"))
        if self.started:           # write() was used: keep the order
            self.iterator = iter(self.result)
            return self.pull()
        left = self.left
        if left >= 0:
            count = min(count, left)
        else:
            self.headers += b"Content-Length\0%d\0" % count
            self.count += 1
        self.started = True
        status = self.status
        headers = self.headers
        if _start(self.handle, self.code, status, len(status), headers,
                  len(headers), self.count, b"", 0, 0) != 0:
            return self.gone()
        if count and _sendfile(self.handle, fd, offset, count) != 0:
            return self.gone()
        if 0 <= left and count < left and not self._bodyless():
            self.left = left - count
            return self._short()
        return DONE

    def pull(self):
        """Send the app's next non-empty chunk: MORE when one went out and
        more may follow, else DONE or ABORT."""
        try:
            for chunk in self.iterator:
                if type(chunk) is not bytes:
                    raise WSGIError("the app's iterable yielded %s; a WSGI "
                                    "body is made of bytes"
                                    % type(chunk).__name__)
                if chunk:
                    if not self.send(chunk):
                        return self.gone()
                    if self.left == 0:
                        return self.finish()    # Content-Length reached
                    return MORE
        except BaseException as exc:
            return self.fail(exc)
        return self.finish()

    def finish(self):
        """The iterable is exhausted (or the Content-Length reached)."""
        if not self.started:
            if self.status is None:
                return self.fail(WSGIError("the app returned without calling "
                                           "start_response()"))
            left = self.left
            if self._start_whole(b"", left >= 0) != 0:
                return self.gone()
            if left > 0 and not self._bodyless():
                return self._short()
            return DONE
        if self.left > 0 and not self._bodyless():
            return self._short()
        return DONE

    def fail(self, exc):
        """The app raised or broke a rule: 500 if nothing went out yet,
        else drop the connection.  The traceback goes to the server log."""
        if isinstance(exc, ClientGone):
            return self.gone()
        log(self.handle, LOG_ERROR, "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)))
        if self.started:
            return ABORT
        self.started = True
        code, status, headers, count, body = _SERVER_ERROR
        _start(self.handle, code, status, len(status), headers, len(headers),
               count, body, len(body), LAST)
        return DONE

    def gone(self):
        log(self.handle, LOG_INFO, "the client closed the connection before "
            "the response was complete")
        return ABORT

    def close(self):
        """Call the iterable's close(), exactly once."""
        result = self.result
        self.result = None
        self.iterator = None
        if result is None or type(result) is list:
            return
        try:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        except BaseException as exc:
            log(self.handle, LOG_ERROR, "the iterable's close() raised:\n"
                + "".join(traceback.format_exception(
                    type(exc), exc, exc.__traceback__)))
