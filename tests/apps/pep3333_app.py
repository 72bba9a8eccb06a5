"""One WSGI app whose routes exercise the server-side duties of PEP 3333 and
report what they saw, for the HTTP suite in tests/http/.

Routes take their parameters from the query string.  Routes that record
close() calls write into the directory given by ?dir=, one file per ?id=.
"""

import io
import json
import os
import sys
import time
from urllib.parse import parse_qs


def query(environ):
    return {
        k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()
    }


def reply(start_response, body, status="200 OK", ctype="text/plain"):
    if not isinstance(body, bytes):
        body = body.encode("utf-8")
    start_response(status, [("Content-Type", ctype)])
    return [body]


def as_json(start_response, data):
    return reply(start_response, json.dumps(data), ctype="application/json")


# -- environ ------------------------------------------------------------------


def route_environ(environ, start_response):
    seen = {}
    for key, value in environ.items():
        if isinstance(value, str):
            seen[key] = {"type": "str", "value": value}
        else:
            seen[key] = {"type": type(value).__name__, "repr": repr(value)}
    seen["__is_dict__"] = {"type": "bool", "repr": repr(type(environ) is dict)}
    seen["__id__"] = {"type": "int", "repr": repr(id(environ))}
    return as_json(start_response, seen)


# -- wsgi.input ---------------------------------------------------------------


def route_input(environ, start_response):
    q = query(environ)
    inp = environ["wsgi.input"]
    how = q.get("how", "read")
    if how == "read":
        parts = [inp.read()]
    elif how == "read_n":
        n = int(q.get("n", "7"))
        parts = []
        while True:
            part = inp.read(n)
            parts.append(part)
            if not part:
                break
    elif how == "readline":
        parts = []
        while True:
            line = inp.readline()
            parts.append(line)
            if not line:
                break
    elif how == "readline_size":
        size = int(q.get("size", "5"))
        parts = [inp.readline(size) for _ in range(int(q.get("count", "3")))]
    elif how == "readlines":
        parts = inp.readlines(int(q.get("hint", "-1")))
    elif how == "iter":
        parts = list(inp)
    elif how == "past_eof":
        length = int(environ.get("CONTENT_LENGTH") or "0")
        parts = [inp.read(length + 100), inp.read(10), inp.read()]
    else:
        return reply(start_response, "unknown how", "400 Bad Request")
    data = {
        "types": sorted({type(p).__name__ for p in parts}),
        "parts": [p.decode("latin-1") for p in parts],
    }
    return as_json(start_response, data)


# -- wsgi.errors --------------------------------------------------------------


def route_errors(environ, start_response):
    msg = query(environ).get("msg", "marker")
    errors = environ["wsgi.errors"]
    errors.write("errors-write %s \u2603 \U0001f600\n" % msg)
    errors.writelines(
        ["errors-lines %s a\n" % msg, "errors-lines %s b\n" % msg]
    )
    errors.flush()
    print("stdout-print %s" % msg)
    return reply(start_response, "logged")


# -- start_response -----------------------------------------------------------

BAD_HEADERS = {
    "crlf": [("X-Bad", "a\r\nInjected: yes")],
    "lf": [("X-Bad", "a\nb")],
    "nul": [("X-Bad", "a\0b")],
    "ctl": [("X-Bad", "a\x01b")],
    "name_space": [("X Bad", "a")],
    "name_colon": [("X-Bad:", "a")],
    "name_bytes": [(b"X-Bad", "a")],
    "value_bytes": [("X-Bad", b"a")],
    "value_int": [("X-Bad", 1)],
    "not_tuple": [["X-Bad", "a"]],
    "triple": [("X-Bad", "a", "b")],
    "not_latin1": [("X-Bad", "\u2603")],
    "headers_tuple": (("X-Bad", "a"),),
    "hop_connection": [("Connection", "close")],
    "hop_keep_alive": [("Keep-Alive", "timeout=5")],
    "hop_transfer_encoding": [("Transfer-Encoding", "chunked")],
    "hop_upgrade": [("Upgrade", "websocket")],
    "hop_te": [("TE", "trailers")],
    "hop_trailers": [("Trailers", "x")],
    "hop_proxy_authenticate": [("Proxy-Authenticate", "Basic")],
    "hop_proxy_authorization": [("Proxy-Authorization", "Basic x")],
    "hop_mixed_case": [("cOnNeCtIoN", "close")],
}

BAD_STATUS = {
    "bytes": b"200 OK",
    "short": "20 OK",
    "crlf": "200 OK\r\nX: y",
    "int": 200,
}


def route_bad_header(environ, start_response):
    """The app lets start_response's error propagate: the server must answer
    500.  With ?catch=1 it reports the error instead, which shows the check
    happened inside start_response."""
    q = query(environ)
    kind = q["kind"]
    try:
        if kind.startswith("status_"):
            start_response(
                BAD_STATUS[kind[len("status_") :]],
                [("Content-Type", "text/plain")],
            )
        else:
            start_response("200 OK", BAD_HEADERS[kind])
    except Exception as exc:
        if q.get("catch"):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [("raised %s" % type(exc).__name__).encode()]
        raise
    return [b"accepted"]


def route_second_start_response(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        start_response("201 Created", [("Content-Type", "text/plain")])
    except Exception as exc:
        return [("raised %s" % type(exc).__name__).encode()]
    return [b"second call accepted"]


def route_exc_info_before(environ, start_response):
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("X-First", "1")]
    )
    try:
        raise ValueError("replaced")
    except ValueError:
        start_response(
            "503 Replaced",
            [("Content-Type", "text/plain"), ("X-Second", "1")],
            sys.exc_info(),
        )
    return [b"replaced body"]


def route_exc_info_after(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"first part\n"
        try:
            raise ValueError("too late")
        except ValueError:
            start_response(
                "500 Oops", [("Content-Type", "text/plain")], sys.exc_info()
            )
        yield b"never sent\n"

    return body()


def route_status(environ, start_response):
    status = query(environ).get("status", "200 OK")
    start_response(status, [("Content-Type", "text/plain")])
    code = int(status[:3])
    if code in (204, 304) or code < 200:
        return []
    return [("status %s" % status).encode()]


def route_start_in_iter(environ, start_response):
    """start_response called during the first next(), not before."""

    def body():
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("X-Late", "yes")]
        )
        yield b"late start"

    return body()


def route_headers_many(environ, start_response):
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("X-Latin1", "caf\xe9"),
        ],
    )
    return [b"many"]


# -- body ---------------------------------------------------------------------


def route_write(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written-1 ")
    write(b"written-2 ")
    return [b"iterable-1 ", b"iterable-2"]


def route_stream(environ, start_response):
    q = query(environ)
    n = int(q.get("n", "4"))
    delay = float(q.get("delay", "0.3"))
    size = int(q.get("size", "0"))
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        for i in range(n):
            yield (b"chunk %d %f\n" % (i, time.time())) + b"x" * size
            time.sleep(delay)

    return body()


def route_yield_empty_then_raise(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b""
        raise RuntimeError("after an empty chunk")

    return body()


def route_raise_before(environ, start_response):
    raise RuntimeError(
        "raise-before marker %s" % query(environ).get("marker", "")
    )


def route_raise_after(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"first part\n"
        raise RuntimeError("raise-after marker")

    return body()


def route_no_start_response(environ, start_response):
    return [b"no status"]


def route_str_chunk(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["a str, not bytes"]


def route_content_length(environ, start_response):
    q = query(environ)
    declared = int(q["declared"])
    sent = int(q["sent"])
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(declared))],
    )
    if q.get("one"):
        return [b"x" * sent]
    return [b"a" * (sent // 2), b"b" * (sent - sent // 2)]


def route_write_past_length(environ, start_response):
    write = start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")]
    )
    try:
        write(b"0123456789")
    except Exception as exc:
        write(b"ok:" + type(exc).__name__[:2].encode())
    return []


def route_one(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"exactly-one"]


def route_empty(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return []


def route_generator_no_length(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return (part for part in [b"gen-1 ", b"gen-2"])


def route_big(environ, start_response):
    size = int(query(environ).get("size", str(1 << 20)))
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    block = b"z" * 65536

    def body():
        left = size
        while left > 0:
            yield block[: min(left, len(block))]
            left -= len(block)

    return body()


def route_sleep(environ, start_response):
    time.sleep(float(query(environ).get("s", "0.3")))
    return reply(start_response, "slept")


def route_bodyless(environ, start_response):
    """A body with a status (?status=) or method that forbids one: the
    server must send none of it.  ?kind=: one (a one-item list), declared
    (with its Content-Length), stream (a tracked iterable, ?dir= ?id=),
    write (through write())."""
    q = query(environ)
    body = b"this must not be sent"
    kind = q.get("kind", "one")
    headers = [("Content-Type", "text/plain")]
    if kind == "declared":
        headers.append(("Content-Length", str(len(body))))
    write = start_response(q.get("status", "200 OK"), headers)
    if kind == "stream":
        return Tracked(os.path.join(q["dir"], q["id"]), [body, body])
    if kind == "write":
        write(body)
        return []
    return [body]


# -- the iterable: iter() once (PEP 3333) -----------------------------------


class CountsIter:
    """Three chunks; __iter__ counts its calls, the last chunk says how
    many there were (PEP 3333: the server calls iter() once)."""

    def __init__(self):
        self.calls = 0
        self.left = [b"one ", b"two "]

    def __iter__(self):
        self.calls += 1
        return self

    def __next__(self):
        if self.left:
            return self.left.pop(0)
        if self.calls is None:
            raise StopIteration
        calls, self.calls = self.calls, None
        return b"iter-calls=%d" % calls


class RewindsIter:
    """__iter__ starts over and returns self: a server that takes iter()
    again for each chunk never reaches the end."""

    CHUNKS = (b"first ", b"second ", b"third")

    def __iter__(self):
        self.index = 0
        return self

    def __next__(self):
        if self.index == len(self.CHUNKS):
            raise StopIteration
        self.index += 1
        return self.CHUNKS[self.index - 1]


class StartsInIter:
    """start_response is called by __iter__ (NGINX Unit's iter_exception
    app does this): a second iter() would call it a second time."""

    def __init__(self, start_response):
        self.start_response = start_response
        self.left = [b"started ", b"in ", b"__iter__"]

    def __iter__(self):
        self.start_response(
            "200 OK", [("Content-Type", "text/plain"), ("X-From", "iter")]
        )
        return self

    def __next__(self):
        if not self.left:
            raise StopIteration
        return self.left.pop(0)


def route_iter_counted(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return CountsIter()


def route_iter_rewinds(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return RewindsIter()


def route_iter_starts(environ, start_response):
    return StartsInIter(start_response)


# -- close() ------------------------------------------------------------------


class Tracked:
    """An iterable that records each close() call in a file, and when the
    server has let go of it ("gone"): no close() can follow that."""

    def __init__(self, path, chunks, fail_at=None, delay=0.0):
        self.path = path
        self.chunks = chunks
        self.fail_at = fail_at
        self.delay = delay

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("tracked iterable failing")
            if self.delay:
                time.sleep(self.delay)
            self.mark("yield %d" % i)
            yield chunk

    def close(self):
        self.mark("close")

    def __del__(self):
        self.mark("gone")

    def mark(self, what):
        with open(self.path, "a") as f:
            f.write(what + "\n")


def route_close(environ, start_response):
    q = query(environ)
    path = os.path.join(q["dir"], q["id"])
    kind = q.get("kind", "ok")
    start_response("200 OK", [("Content-Type", "text/plain")])
    if kind == "ok":
        return Tracked(path, [b"one ", b"two"])
    if kind == "raise":
        return Tracked(path, [b"one ", b"two", b"three"], fail_at=1)
    if kind == "slow":  # for client disconnects
        return Tracked(path, [b"x" * 65536] * 2000, delay=0.01)
    raise ValueError(kind)


# -- file_wrapper -------------------------------------------------------------


def route_file_wrapper(environ, start_response):
    q = query(environ)
    f = open(q["path"], "rb")
    f.seek(int(q.get("seek", "0")))
    headers = [("Content-Type", "application/octet-stream")]
    if "length" in q:
        headers.append(("Content-Length", q["length"]))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](f, int(q.get("blksize", "8192")))


def route_bytesio_wrapper(environ, start_response):
    q = query(environ)
    data = bytes(range(256)) * (int(q.get("size", "1000")) // 256 + 1)
    data = data[: int(q.get("size", "1000"))]
    bio = io.BytesIO(data)
    bio.seek(int(q.get("seek", "0")))
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](bio, int(q.get("blksize", "100")))


ROUTES = {
    name[len("route_") :]: func
    for name, func in globals().items()
    if name.startswith("route_")
}


def application(environ, start_response):
    name = environ.get("PATH_INFO", "").strip("/").split("/")[0] or "environ"
    route = ROUTES.get(name)
    if route is None:
        return reply(start_response, "no route %r" % name, "404 Not Found")
    return route(environ, start_response)
