"""The app of the Apache-specific tests (tests/apache/): a version stamp for
graceful restarts, slow requests, uploads, the Authorization header, a
timed stream, file_wrapper, failures before and after output; any request
passes the test's gate (gate.py) first."""

import os
import threading
import time
from urllib.parse import parse_qs

from gate import pass_gate  # the neighbour file, tests/apps/gate.py

VERSION = "v1"  # tests rewrite this line to check graceful restarts


def query(environ):
    return {
        k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()
    }


def text(start_response, body, status="200 OK", headers=()):
    body = body if isinstance(body, bytes) else body.encode("latin-1")
    start_response(status, [("Content-Type", "text/plain")] + list(headers))
    return [body]


def route_version(environ, start_response):
    return text(start_response, VERSION)


def route_who(environ, start_response):
    """Which process and thread served the request."""
    return text(start_response, "%d %d" % (os.getpid(), threading.get_ident()))


def route_spawn(environ, start_response):
    """Start a non-daemon Python thread that never ends: Py_Finalize()
    would wait for it forever (mod_wsgi's hang on stop)."""

    def forever():
        while True:
            time.sleep(0.1)

    threading.Thread(target=forever, name="never-ends").start()
    return text(start_response, "spawned")


def route_sleep(environ, start_response):
    time.sleep(float(query(environ).get("s", "0.5")))
    return text(start_response, "slept")


def route_echo(environ, start_response):
    """The body back, with what the server said about its length."""
    inp = environ["wsgi.input"]
    parts = []
    while True:
        data = inp.read(int(query(environ).get("n", "65536")))
        if not data:
            break
        parts.append(data)
    length = environ.get("CONTENT_LENGTH", "absent")
    return text(
        start_response,
        b"".join(parts),
        headers=[("X-Content-Length", length), ("X-Reads", str(len(parts)))],
    )


def route_env(environ, start_response):
    """environ[key] for each ?key= (repeatable through k1, k2, ...)."""
    keys = [v for k, v in sorted(query(environ).items()) if k.startswith("k")]
    return text(
        start_response,
        "\n".join("%s=%s" % (k, environ.get(k, "<absent>")) for k in keys),
    )


def route_stream(environ, start_response):
    q = query(environ)
    n, delay = int(q.get("n", "4")), float(q.get("delay", "0.3"))
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        for i in range(n):
            yield b"chunk %d\n" % i
            time.sleep(delay)

    return body()


def route_file(environ, start_response):
    q = query(environ)
    f = open(q["path"], "rb")
    f.seek(int(q.get("seek", "0")))
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f)


def route_abort(environ, start_response):
    """Some output, then an error: the client must see a cut response.
    ?length=N declares a Content-Length."""
    q = query(environ)
    headers = [("Content-Type", "text/plain")]
    if "length" in q:
        headers.append(("Content-Length", q["length"]))
    start_response("200 OK", headers)

    def body():
        yield b"x" * int(q.get("size", "100"))
        raise RuntimeError("abort-marker %s" % q.get("marker", ""))

    return body()


def route_declared(environ, start_response):
    """?size=N bytes in one piece under a Content-Length of ?length=M,
    the header names in capitals (names are case-insensitive)."""
    q = query(environ)
    start_response(
        "200 OK",
        [("CONTENT-TYPE", "text/plain"), ("CONTENT-LENGTH", q["length"])],
    )
    return [b"x" * int(q["size"])]


def route_raise(environ, start_response):
    raise ValueError("raise-marker %s" % query(environ).get("marker", ""))


def application(environ, start_response):
    pass_gate(query(environ))
    # the last path segment, whatever the mount: /x/y/env is route_env
    name = environ["PATH_INFO"].strip("/").split("/")[-1] or "version"
    route = globals().get("route_" + name)
    if route is None:
        return text(start_response, "no route %r" % name, "404 Not Found")
    return route(environ, start_response)
