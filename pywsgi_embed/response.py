"""One WSGI response: start_response(), the app's iterable, and the calls
that hand status, headers and body to the server (the pywsgi_io callbacks,
through the gateway's C wrappers in csrc/gateway_io.c).

The PEP 3333 duties of a server, as they concern the response, live here:
  - start_response validates at once (pywsgi_embed/headers.py) so the app
    sees its own mistake; exc_info replaces the headers before anything
    went out and re-raises after; a second call without it is an error;
  - headers go out with the first non-empty chunk (or the first write(),
    or the end of an empty body), fused with that chunk into one call; a
    one-item list gets a Content-Length and goes out in a single call;
  - a declared Content-Length is never exceeded, and a short body drops
    the connection instead of looking complete;
  - a response that has no body (1xx, 204, 304, any answer to HEAD) sends
    none of the app's bytes, whatever the app returns: a body there would
    be read as the next response on a keep-alive connection.  1xx, 204
    and 304 go without Content-Length (headers.py leaves the app's out);
    HEAD keeps the one GET would have, as nginx and Apache do for their
    own heads.  The iterable is pulled up to its first non-empty chunk
    (the headers may come from it), then closed;
  - the iterable's close() runs exactly once, whatever happened;
  - an error before output is a 500 with the traceback in the server log;
    after output, the connection is aborted (PYWSGI_ABORT).

The hot path of both servers is in C (csrc/gateway_respond.c): it calls
the app with a start_response of its own and answers the common case, a
one-item list of bytes after a head that head_for() accepted before,
with one start() call; adopt() and resume() take over, as a Response,
whatever else the app did.  start() is the same path in Python, for the
requests with a body to read, a timeout or metrics (run() is start() and
the rest of the response at once): it answers the common case with one
call into C, and leaves everything else to Response.
"""

import traceback

from pywsgi_embed._gateway import lib
from pywsgi_embed.file_wrapper import FileWrapper
from pywsgi_embed.headers import head_of, heads, no_body_status
from pywsgi_embed.wsgi_input import Input

DONE = lib.PYWSGI_DONE
MORE = lib.PYWSGI_MORE
ABORT = lib.PYWSGI_ABORT
LAST = lib.PYWSGI_BODY_LAST
ADD_LENGTH = lib.PYWSGI_GW_ADD_LENGTH
WHOLE = LAST | ADD_LENGTH
LOG_ERROR = lib.PYWSGI_LOG_ERROR
LOG_WARN = lib.PYWSGI_LOG_WARN
LOG_INFO = lib.PYWSGI_LOG_INFO

_SERVER_ERROR_HEAD = (
    b"500 Internal Server Error\0"
    b"Content-Type\0text/plain; charset=utf-8\0"
    b"Content-Length\x0025\0"
)
_SERVER_ERROR_BODY = b"500 Internal Server Error"
_TIMEOUT_HEAD = (
    b"504 Gateway Timeout\0"
    b"Content-Type\0text/plain; charset=utf-8\0"
    b"Content-Length\x0019\0"
)
_TIMEOUT_BODY = b"504 Gateway Timeout"

# The server's callbacks, through the C wrappers, set once per worker
_start = lib.pywsgi_gw_start
_write = lib.pywsgi_gw_write
_sendfile = lib.pywsgi_gw_sendfile
_log = lib.pywsgi_gw_log
# start() of a whole body of at most SMALL_BODY bytes
_start_small = lib.pywsgi_gw_start
SMALL_BODY = lib.PYWSGI_SMALL_BODY


def use_io(start, write, sendfile):
    """Call the server through these from now on (gateway.set_io)."""
    global _start, _write, _sendfile, _start_small
    _start, _write, _sendfile = start, write, sendfile
    _start_small = start


def use_small_start(start):
    """Only whole bodies of at most SMALL_BODY bytes go through this start
    (PYWSGI_IO_SMALL_LAST)."""
    global _start_small
    _start_small = start


def log(handle, level, text):
    """Log text, one server log line per line (nginx cuts lines at 2 KiB)."""
    for line in text.rstrip("\n").split("\n"):
        data = line.encode("utf-8", "backslashreplace")
        _log(handle, level, data, len(data))


class WSGIError(RuntimeError):
    """The app broke a rule of PEP 3333.  A RuntimeError, as mod_wsgi and
    NGINX Unit raise for the same misuse, so an app that catches either
    works."""


class ClientGone(OSError):
    """The client went away while the response was going out."""


class RequestTimeout(BaseException):
    """Raised in a request's thread by the watchdog (watchdog.py) when a
    step passed its timeout.  A BaseException, as KeyboardInterrupt is: an
    app's `except Exception` does not swallow it."""


_warned_no_reason = set()  # id() of the apps told about a bare status

# what a start_response() or write() kept by the app and called once its
# response is over raises (csrc/gateway_respond.c's responder says it too)
_ENDED = "start_response() or write() called after the response ended"


def start(handle, environ, call):
    """The app up to its first body chunk: DONE or ABORT when the response
    is complete, else its Response (more to come: pull() sends each next
    chunk, close() ends it)."""
    resp = Response(handle, environ, call)
    try:
        result = call(environ, resp.start_response)
    except BaseException as exc:
        return resp.end(resp.fail(exc))
    # the common case: a one-item list of bytes and no Content-Length of
    # the app's, nothing sent by write(): status, headers, the length and
    # the body in one call (PYWSGI_GW_ADD_LENGTH: C appends the header)
    if (
        type(result) is list
        and len(result) == 1
        and resp.left < 0
        and not resp.started
    ):
        body = result[0]
        head = resp.head
        # (resp._bodyless(), inline: a method call is most of its cost)
        if (
            type(body) is bytes
            and body
            and head is not None
            and 200 <= resp.code != 204
            and resp.code != 304
            and environ.get("REQUEST_METHOD") != "HEAD"
        ):
            n = len(body)
            if (_start_small if n <= SMALL_BODY else _start)(
                handle, head, len(head), resp.count, body, n, WHOLE
            ) == 0:
                return resp.end(DONE)
            return resp.end(resp.gone())
    return resume(resp, result, None)


def head_for(call, handle, status, headers):
    """head_of() of what the app `call` gave start_response(), telling it
    (once) of a bare status.  Also what csrc/gateway_respond.c asks when
    its memo of heads has none for them."""
    hit = head_of(status, headers)
    if len(status) == 3:
        _no_reason(call, handle, status, hit[0])
    return hit


def _no_reason(call, handle, status, head):
    """A bare "200": accepted with the standard reason phrase, as gunicorn
    and NGINX Unit do; the app is told once."""
    if id(call) in _warned_no_reason:
        return
    _warned_no_reason.add(id(call))
    line = head.split(b"\0", 1)[0].decode("latin-1")
    log(
        handle,
        LOG_WARN,
        "start_response(%r): PEP 3333 asks for 'NNN Reason phrase'; "
        "sent as %r (logged once per app)" % (status, line),
    )


def adopt(handle, environ, call, hit):
    """The Response of a request whose app csrc/gateway_respond.c called,
    from the point it reached: hit is the head start_response() gave, or
    None before that call."""
    resp = Response(handle, environ, call)
    if hit is not None:
        resp.head, resp.count, resp.left, resp.code = hit
    return resp


def resume(resp, result, exc):
    """The rest of start() once the app returned result (or raised exc),
    for start() itself and for a response adopt() made: DONE or ABORT, or
    resp when more is to come."""
    if exc is not None:
        return resp.end(resp.fail(exc))
    code = resp.proceed(result)
    if code == MORE:
        return resp
    resp.close()
    return code


def run(handle, environ, call):
    """Run one request to its end: DONE, or ABORT."""
    resp = start(handle, environ, call)
    if type(resp) is not Response:
        return resp
    code = MORE
    while code == MORE:
        code = resp.pull()
    resp.close()
    return code


class Response:
    """The state of one response, from app() to close()."""

    # count and code are set with head; next_chunk by proceed() before use
    __slots__ = (
        "handle",
        "environ",
        "head",
        "count",
        "left",
        "code",
        "started",
        "result",
        "next_chunk",
        "call",
        "flight",
        "wsgi_input",
    )

    def __init__(self, handle, environ, call=None):
        self.handle = handle
        self.environ = environ
        self.call = call  # the app, for its warnings
        self.head = None  # status line + headers, once start_response ran
        self.left = -1  # bytes the app's Content-Length still allows
        self.started = False  # status and headers went to the server
        self.result = None  # what the app returned
        self.flight = None  # its watchdog.InFlight, if it is watched
        # the request's body stream, taken before the app may replace it
        self.wsgi_input = environ.get("wsgi.input")

    # -- the app's side -----------------------------------------------------

    def start_response(self, status, headers, exc_info=None, /):
        if self.handle is None:
            raise RuntimeError(_ENDED)
        if exc_info is not None or self.head is not None:
            self._again(exc_info)
        hit = None
        if type(headers) is list:  # head_of()'s cache, inline
            try:
                hit = heads.get((status, tuple(headers)))
            except TypeError:
                pass
        if hit is None:
            hit = head_for(self.call, self.handle, status, headers)
        self.head, self.count, self.left, self.code = hit
        return self.write

    def _again(self, exc_info):
        """A call with exc_info, or a second call: allowed only with
        exc_info before output; after output, exc_info is re-raised."""
        if exc_info is None:
            raise WSGIError(
                "start_response() was called a second time without exc_info"
            )
        try:
            if self.started:
                raise exc_info[1].with_traceback(exc_info[2])
        finally:
            exc_info = None  # no frame -> traceback -> frame cycle

    def write(self, data):
        if self.handle is None:
            raise RuntimeError(_ENDED)
        if type(data) is not bytes:
            raise TypeError(
                "write() takes bytes, not %s" % type(data).__name__
            )
        if 0 <= self.left < len(data):
            raise WSGIError(
                "write() of %d bytes goes past the Content-Length "
                "(%d bytes left)" % (len(data), self.left)
            )
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
        if left >= 0:
            self.left = left - n
        head = self.head
        if head is None:
            raise WSGIError(
                "the app produced body bytes before calling start_response()"
            )
        if self._bodyless():
            if self.started:
                return True
            self._dropped(n)
            data = b""
            n = 0
        if self.started:
            rc = _write(self.handle, data, n)
        else:
            self.started = True
            rc = _start(self.handle, head, len(head), self.count, data, n, 0)
        return rc == 0

    def _start_whole(self, body, declared):
        """Status, headers and the whole body in one call; declared: the
        app gave a Content-Length."""
        n = len(body)
        flags = LAST
        head = self.head
        count = self.count
        if not self._bodyless():
            if not declared:
                flags = WHOLE
        elif n:
            self._dropped(n)
            if not declared and not no_body_status(self.code):
                head += b"Content-Length\0%d\0" % n  # HEAD: GET's length
                count += 1
            body = b""
            n = 0
        self.started = True
        return (_start_small if n <= SMALL_BODY else _start)(
            self.handle, head, len(head), count, body, n, flags
        )

    def _bodyless(self):
        """True when a response may carry fewer bytes than its
        Content-Length: HEAD, 1xx, 204 and 304."""
        code = self.code
        return (
            code < 200
            or code == 204
            or code == 304
            or self.environ.get("REQUEST_METHOD") == "HEAD"
        )

    def _dropped(self, n):
        """n bytes of body went nowhere: say so when the status, not the
        method, forbade them (HEAD is the client's choice)."""
        if n and no_body_status(self.code):
            log(
                self.handle,
                LOG_WARN,
                "the app sent a body with status %d, which has none: "
                "it was dropped" % self.code,
            )

    def _too_long(self):
        log(
            self.handle,
            LOG_WARN,
            "the app sent more than its Content-Length: the rest was dropped",
        )

    def _short(self):
        log(
            self.handle,
            LOG_ERROR,
            "the app sent %d bytes fewer than its "
            "Content-Length: the connection is dropped so the client sees a "
            "truncated response" % self.left,
        )
        return ABORT

    # -- the steps ----------------------------------------------------------

    def begin(self, app):
        """Call the app and send up to its first body chunk."""
        try:
            result = app(self.environ, self.start_response)
        except BaseException as exc:
            return self.fail(exc)
        return self.proceed(result)

    def proceed(self, result):
        """What the app returned: send up to its first body chunk."""
        self.result = result
        rtype = type(result)
        if rtype is list:
            if len(result) == 1 and not self.started and self.head is not None:
                body = result[0]
                if type(body) is bytes:
                    return self._whole(body)
        elif rtype is FileWrapper:
            span = result.span()
            if span is not None:
                return self._file(*span)
        try:
            self.next_chunk = iter(result).__next__
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
        if self.head is None:
            return self.fail(
                WSGIError(
                    "the app returned a file_wrapper "
                    "without calling start_response()"
                )
            )
        if self.started:  # write() was used: keep the order
            self.next_chunk = iter(self.result).__next__
            return self.pull()
        left = self.left
        head = self.head
        nheaders = self.count
        if left >= 0:
            count = min(count, left)
        elif not no_body_status(self.code):
            head += b"Content-Length\0%d\0" % count
            nheaders += 1
        self.started = True
        if _start(self.handle, head, len(head), nheaders, b"", 0, 0) != 0:
            return self.gone()
        if self._bodyless():
            self._dropped(count)
        elif count and _sendfile(self.handle, fd, offset, count) != 0:
            return self.gone()
        if 0 <= left and count < left and not self._bodyless():
            self.left = left - count
            return self._short()
        return DONE

    def pull(self):
        """Send the app's next non-empty chunk: MORE when one went out and
        more may follow, else DONE or ABORT.

        The app's iterator was taken once, by proceed(): iterating it here
        would call its __iter__ again on each pull, which PEP 3333 rules
        out (an __iter__ may rewind, or call start_response), so only its
        __next__ is called (as cheap as a for loop: try costs nothing
        until it catches)."""
        next_chunk = self.next_chunk
        try:
            while True:
                try:
                    chunk = next_chunk()
                except StopIteration:
                    break
                if type(chunk) is not bytes:
                    raise WSGIError(
                        "the app's iterable yielded %s; a WSGI "
                        "body is made of bytes" % type(chunk).__name__
                    )
                if chunk:
                    if not self.send(chunk):
                        return self.gone()
                    if self.left == 0 or self._bodyless():
                        return self.finish()  # no more bytes may go out
                    return MORE
        except BaseException as exc:
            return self.fail(exc)
        return self.finish()

    def finish(self):
        """The iterable is exhausted (or the Content-Length reached)."""
        if not self.started:
            if self.head is None:
                return self.fail(
                    WSGIError(
                        "the app returned without calling start_response()"
                    )
                )
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
        if isinstance(exc, RequestTimeout):
            return self.timed_out()
        log(
            self.handle,
            LOG_ERROR,
            "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__)
            ),
        )
        if self.started:
            return ABORT
        self.started = True
        self.code = 500
        head = _SERVER_ERROR_HEAD
        _start(
            self.handle,
            head,
            len(head),
            2,
            _SERVER_ERROR_BODY,
            len(_SERVER_ERROR_BODY),
            LAST,
        )
        return DONE

    def timed_out(self):
        """RequestTimeout surfaced (its stack was logged when it was
        raised): 504 if nothing went out yet, else drop the connection."""
        if self.started:
            log(
                self.handle,
                LOG_ERROR,
                "pywsgi: the request timed out after its response began: "
                "the connection is dropped",
            )
            return ABORT
        log(self.handle, LOG_ERROR, "pywsgi: the request timed out: 504")
        self.started = True
        self.code = 504
        head = _TIMEOUT_HEAD
        _start(
            self.handle,
            head,
            len(head),
            2,
            _TIMEOUT_BODY,
            len(_TIMEOUT_BODY),
            LAST,
        )
        return DONE

    def gone(self):
        log(
            self.handle,
            LOG_INFO,
            "the client closed the connection before "
            "the response was complete",
        )
        return ABORT

    def close(self):
        """Call the iterable's close(), exactly once, and end the response."""
        result = self.result
        self.result = self.next_chunk = None
        if result is not None and type(result) is not list:
            self._close_iterable(result)
        self.end(None)

    def end(self, code):
        """code, the response over: the handle is the server's again, so a
        start_response(), write() or wsgi.input the app kept raises from
        now on."""
        self.handle = None
        if type(self.wsgi_input) is Input:
            self.wsgi_input.end()
        return code

    def _close_iterable(self, result):
        try:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        except BaseException as exc:
            log(
                self.handle,
                LOG_ERROR,
                "the iterable's close() raised:\n"
                + "".join(
                    traceback.format_exception(
                        type(exc), exc, exc.__traceback__
                    )
                ),
            )
