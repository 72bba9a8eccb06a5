"""The app's iterable over HTTP: the server calls iter() on it once
(PEP 3333), whatever its __iter__ does."""

import http.client

from tests.http.client import build, connect, get

LIMIT = 1 << 16  # bytes: far more than the routes send


def get_bounded(target, path, limit=LIMIT):
    """(response, body, ended) of a GET, reading at most `limit` body bytes:
    a response that does not end must not hang the test or fill memory."""
    with connect(target) as sock:
        sock.sendall(build(target, "GET", path))
        resp = http.client.HTTPResponse(sock, method="GET")
        resp.begin()
        body = b""
        while len(body) <= limit:
            data = resp.read1(4096)
            if not data:
                return resp, body, True
            body += data
        return resp, body, False


def test_iter_is_called_once(target):
    resp = get(target, "/app/iter_counted")
    assert resp.status == 200
    assert resp.complete
    assert resp.body == b"one two iter-calls=1"


def test_an_iter_that_rewinds_ends(target):
    resp, body, ended = get_bounded(target, "/app/iter_rewinds")
    assert resp.status == 200
    assert ended, "the response did not end: %r..." % body[:60]
    assert body == b"first second third"


def test_start_response_called_by_iter(target):
    resp = get(target, "/app/iter_starts")
    assert resp.status == 200
    assert resp.header("X-From") == "iter"
    assert resp.complete
    assert resp.body == b"started in __iter__"
