"""The app the C test host (pywsgi_host.c) runs.  Every answer depends on
the request, so the host can check that no response went to the wrong
request: it echoes the request id (X-Id header and PATH_INFO).

    /hello/<id>          one-item list: "hello <id> <PATH_INFO> <QUERY_STRING>"
    /echo/<id>           the request body, read through wsgi.input
    /lines/<id>          the body read with readline(), echoed line by line
    /stream/<id>?n=<k>   k chunks "<id>:<j>\\n" from a generator
    /cext/<id>           json (_json) and decimal (_decimal) output
    /write/<id>          write() then an empty list
    /error/<id>          raises: a 500
    /closed/<id>         "yes" if the stream of <id> was closed (cancel)
    /bench               hello world, for --bench
"""

import _decimal
import _json
import atexit
import decimal
import json
import os
import threading

assert json.encoder.c_make_encoder is _json.make_encoder, "json without _json"
assert decimal.Decimal is _decimal.Decimal, "decimal without _decimal"

_closed = set()
_lock = threading.Lock()

if os.environ.get("PYWSGI_HOST_VERSIONS"):
    # goes to the server log (the host prints it): which cffi runs here
    import sys

    import _cffi_backend

    print(
        "host_app: Python %s, _cffi_backend %s from %s"
        % (
            sys.version.split()[0],
            _cffi_backend.__version__,
            _cffi_backend.__file__,
        )
    )

MARK = os.environ.get("PYWSGI_HOST_MARK")
if MARK:
    # pywsgi_fini() runs atexit functions: the host checks for this file
    atexit.register(lambda: open("%s.%d" % (MARK, os.getpid()), "w").close())


def _ok(start_response, rid, extra=()):
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("X-Id", rid)] + list(extra)
    )


def hello(environ, start_response, rid):
    _ok(start_response, rid)
    return [
        (
            "hello %s %s %s"
            % (rid, environ["PATH_INFO"], environ["QUERY_STRING"])
        ).encode("latin-1")
    ]


def echo(environ, start_response, rid):
    data = environ["wsgi.input"].read()
    if environ.get("CONTENT_LENGTH", str(len(data))) != str(len(data)):
        raise ValueError(
            "read %d bytes of %s" % (len(data), environ["CONTENT_LENGTH"])
        )
    _ok(start_response, rid)
    return [data]


def lines(environ, start_response, rid):
    stream = environ["wsgi.input"]
    _ok(start_response, rid)
    out = []
    while True:
        line = stream.readline(1000)
        if not line:
            break
        out.append(line)
    return out


class Stream:
    """An iterable with close(), so /closed can tell whether it ran."""

    def __init__(self, rid, count):
        self.rid = rid
        self.count = count

    def __iter__(self):
        for j in range(self.count):
            yield ("%s:%d\n" % (self.rid, j)).encode()

    def close(self):
        with _lock:
            _closed.add(self.rid)


def stream(environ, start_response, rid):
    query = environ["QUERY_STRING"]
    count = int(query[2:]) if query.startswith("n=") else 3
    _ok(start_response, rid)
    return Stream(rid, count)


def cext(environ, start_response, rid):
    half = decimal.Decimal(int(rid)) * decimal.Decimal("0.5")
    body = json.dumps({"id": int(rid), "half": str(half)}, sort_keys=True)
    _ok(start_response, rid, [("Content-Type", "application/json")])
    return [body.encode()]


def write(environ, start_response, rid):
    w = start_response("200 OK", [("X-Id", rid)])
    w(b"w")
    w(rid.encode())
    return []


def error(environ, start_response, rid):
    raise RuntimeError("host error %s" % rid)


def closed(environ, start_response, rid):
    with _lock:
        answer = b"yes" if rid in _closed else b"no"
    _ok(start_response, rid)
    return [answer]


ROUTES = {
    "hello": hello,
    "echo": echo,
    "lines": lines,
    "stream": stream,
    "cext": cext,
    "write": write,
    "error": error,
    "closed": closed,
}


def application(environ, start_response):
    parts = environ["PATH_INFO"].split("/")
    if parts[1] == "bench":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"Hello, world!"]
    return ROUTES[parts[1]](environ, start_response, parts[2])
