"""A raw HTTP/1.1 client for the tests: it sends exactly the bytes a test
wants (repeated headers, chunked bodies, hostile requests) and tells a
complete response from a truncated one, which a friendlier client hides."""

import http.client
import json
import socket
import time
from urllib.parse import quote


class Response:
    def __init__(self, status, reason, headers, body, complete):
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] as received
        self.body = body
        self.complete = complete  # False: the connection was cut

    def header(self, name):
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %s %r%s>" % (
            self.status,
            self.reason,
            self.body[:80],
            "" if self.complete else " TRUNCATED",
        )


def build(target, method, path, headers=(), body=None, chunked=False):
    lines = [
        "%s %s HTTP/1.1" % (method, path),
        "Host: %s:%d" % (target.host, target.port),
    ]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    names = {k.lower() for k, _ in headers}
    if body is not None and not chunked and "content-length" not in names:
        lines.append("Content-Length: %d" % len(body))
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body is None:
        return head
    if chunked:
        step = 7
        parts = [
            b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step])
            for i in range(0, len(body), step)
        ]
        return head + b"".join(parts) + b"0\r\n\r\n"
    return head + body


def connect(target, timeout=15):
    return socket.create_connection(
        (target.host, target.port), timeout=timeout
    )


class Stream:
    """One buffered reader for every response on a connection: http.client
    makes a new one per response, and the first would swallow the bytes of
    a pipelined second response.  close() leaves the buffer alone."""

    def __init__(self, sock):
        self.fp = sock.makefile("rb")

    def makefile(self, mode):
        return self

    def close(self):
        pass

    def __getattr__(self, name):
        return getattr(self.fp, name)


def read_response(sock, method="GET"):
    """The next response on sock (a socket, or a Stream for several)."""
    resp = http.client.HTTPResponse(sock, method=method)
    resp.begin()
    complete = True
    try:
        body = resp.read()
    except http.client.IncompleteRead as exc:
        body, complete = exc.partial, False
    except (ConnectionError, socket.timeout):
        body, complete = b"", False
    return Response(
        resp.status, resp.reason, resp.getheaders(), body, complete
    )


def send_raw(target, data, method="GET", timeout=15):
    with connect(target, timeout) as sock:
        sock.sendall(data)
        return read_response(sock, method)


def request(
    target, method, path, headers=(), body=None, chunked=False, timeout=15
):
    return send_raw(
        target,
        build(target, method, path, headers, body, chunked),
        method,
        timeout,
    )


def get(target, path, headers=(), timeout=15):
    return request(target, "GET", path, headers, timeout=timeout)


def post(target, path, body, headers=(), chunked=False):
    return request(target, "POST", path, headers, body, chunked)


def url(route, **params):
    if not params:
        return route
    return (
        route
        + "?"
        + "&".join(
            "%s=%s" % (k, quote(str(v), safe="")) for k, v in params.items()
        )
    )


def environ(target, path="/app/environ", headers=()):
    resp = get(target, path, headers)
    assert resp.status == 200, resp
    return resp.json()


def timed_chunks(target, path, timeout=30):
    """(arrival time, bytes) of each piece of the body as it arrives."""
    with connect(target, timeout) as sock:
        sock.sendall(build(target, "GET", path))
        resp = http.client.HTTPResponse(sock, method="GET")
        resp.begin()
        pieces = []
        while True:
            data = resp.read1(1 << 20)
            if not data:
                break
            pieces.append((time.monotonic(), data))
        return resp, pieces


def wait_for_log(target, text, timeout=5.0):
    """The error log once it contains text (the server writes it async)."""
    deadline = time.monotonic() + timeout
    while True:
        log = target.error_log()
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)
