"""The app of the nginx-specific tests: slow requests, a sink for big
uploads, a big streamed download, a version stamp for reloads, and a
CPU-bound route that tells its thread; any request passes the test's gate
(gate.py) first."""

import os
import threading
import time
from urllib.parse import parse_qs

from gate import pass_gate  # the neighbour file, tests/apps/gate.py

VERSION = "v1"  # tests rewrite this line to check reloads


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
        block = b"d" * (1 << 16)

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
        body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
