"""The app of the nginx-specific tests: slow requests, a sink for big
uploads, a big streamed download, a version stamp for reloads, a
CPU-bound route that tells its thread, and routes that count what runs at
once (/wait, /hold, /spin, with /stats and /release) so that the tests of
the scheduler count events instead of timing them; any request passes the
test's gate (gate.py) first."""

import os
import threading
import time
from urllib.parse import parse_qs

from gate import pass_gate  # the neighbour file, tests/apps/gate.py

VERSION = "v1"  # tests rewrite this line to check reloads

_lock = threading.Lock()
_counts = {"waiting": 0, "most_waiting": 0, "held": 0, "spinning": 0}
_release = threading.Event()


def _count(name, delta):
    with _lock:
        _counts[name] += delta
        if name == "waiting":
            _counts["most_waiting"] = max(
                _counts["most_waiting"], _counts["waiting"]
            )


def _counted(name, action):
    _count(name, 1)
    try:
        action()
    finally:
        _count(name, -1)


def _spin():
    # CPU only (the GIL held but for the interpreter's switches) until
    # /release
    while not _release.is_set():
        pass


def counting_routes(path, q):
    """The body of a counting route, or None for another path."""
    if path == "/wait":  # a request that waits, like a database query
        _counted("waiting", lambda: time.sleep(float(q.get("ms", "20")) / 1e3))
        return b"waited"
    if path == "/hold":  # waits until /release
        _counted("held", lambda: _release.wait(120))
        return b"held"
    if path == "/spin":  # computes until /release
        _counted("spinning", _spin)
        return b"spun"
    if path == "/release":
        _release.set()
        return b"released"
    if path == "/stats":
        with _lock:
            stats = "%(waiting)d %(most_waiting)d %(held)d %(spinning)d"
            return (stats % _counts).encode()
    return None


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = {k: v[-1] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    pass_gate(q)
    if path == "/sleep":
        time.sleep(float(q.get("s", "0.3")))
        body = b"slept %d" % os.getpid()
    elif path == "/sink":
        inp = environ["wsgi.input"]
        total = 0
        while True:
            data = inp.read(1 << 16)
            if not data:
                break
            total += len(data)
        body = b"%d" % total
    elif path == "/download":
        size = int(q.get("size", str(1 << 30)))
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/octet-stream"),
                ("Content-Length", str(size)),
            ],
        )
        block = b"d" * int(q.get("block", str(1 << 16)))

        def stream():
            left = size
            while left > 0:
                yield block if left >= len(block) else block[:left]
                left -= len(block)

        return stream()
    elif path == "/version":
        body = VERSION.encode()
    elif path == "/compute":
        # CPU only, for as long as asked, then which thread ran it
        end = time.perf_counter() + float(q.get("s", "0.001"))
        while time.perf_counter() < end:
            pass
        body = b"%d" % threading.get_ident()
    else:
        body = counting_routes(path, q) or b"hello"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
