"""Hostile requests never crash a worker: after each, the server serves."""

import socket

import pytest

from tests.http.client import connect, get, send_raw


def alive(target):
    assert get(target, "/app/one").body == b"exactly-one"


def send_expecting_refusal(target, data):
    try:
        resp = send_raw(target, data)
    except (ConnectionError, socket.timeout, OSError):
        return None
    return resp.status


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /app/environ/%00x HTTP/1.1\r\nHost: h\r\n"
        b"Connection: close\r\n\r\n",
        b"GET /app/environ HTTP/1.1\r\nHost: h\r\nX-Nul: a\x00b\r\n"
        b"Connection: close\r\n\r\n",
        b"GET /app/environ HTTP/1.1\r\nHost: h\r\nX-Big: "
        + b"a" * 100000
        + b"\r\n\r\n",
        b"GET /app/environ HTTP/1.1\r\nHost: h\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(3000))
        + b"Connection: close\r\n\r\n",
        b"POST /app/input HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n",
        b"POST /app/input HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ],
    ids=[
        "nul-path",
        "nul-header",
        "huge-header",
        "many-headers",
        "negative-length",
        "length-and-chunked",
        "garbage",
    ],
)
def test_refused_or_answered_then_alive(target, raw):
    status = send_expecting_refusal(target, raw)
    assert status is None or status < 500, status
    alive(target)


def test_client_gone_before_the_response(target):
    with connect(target) as sock:
        sock.sendall(b"GET /app/sleep?s=0.3 HTTP/1.1\r\nHost: h\r\n\r\n")
    alive(target)


def test_truncated_body_then_gone(target):
    with connect(target) as sock:
        sock.sendall(
            b"POST /app/input?how=read HTTP/1.1\r\nHost: h\r\n"
            b"Content-Length: 100000\r\n\r\nonly a little"
        )
    alive(target)
