"""Responses that carry no body (1xx, 204, 304, any answer to HEAD) send
none of what the app returns, and no Content-Length where the status
forbids one: a body there would be read by the client as the start of the
next response on the connection (a response desync).  Each test reads
two responses from one keep-alive connection, byte for byte."""

import os
import time
import uuid

import pytest

from tests.harness import read_to_close
from tests.http.client import build, connect, url

BODY = b"this must not be sent"
NEXT_BODY = b"exactly-one"


def keepalive_request(target, method, path):
    return (
        "%s %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
        % (method, path, target.host, target.port)
    ).encode("latin-1")


def two_on_one_connection(target, method, path):
    """(head of the first response, every byte after it): the first
    request keeps the connection open, the second (GET /app/one) closes
    it, so the bytes after the first head must be exactly its answer."""
    with connect(target) as sock:
        sock.sendall(keepalive_request(target, method, path))
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            assert more, "closed before the first head: %r" % data
            data += more
        head, rest = data.split(b"\r\n\r\n", 1)
        sock.sendall(build(target, "GET", "/app/one"))
        rest += read_to_close(sock)
    return head.decode("latin-1"), rest


def header_values(head, name):
    prefix = name.lower() + ":"
    return [
        line.split(":", 1)[1].strip()
        for line in head.split("\r\n")[1:]
        if line.lower().startswith(prefix)
    ]


def assert_next_response_intact(rest):
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:120]
    assert rest.endswith(b"\r\n\r\n" + NEXT_BODY), rest[-120:]
    assert BODY not in rest


@pytest.fixture
def marks(tmp_path):
    os.chmod(tmp_path, 0o777)  # the server's workers write there
    return tmp_path


def closed(marks, ident):
    path = marks / ident

    def seen():
        return path.exists() and "close" in path.read_text().split()

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not seen():
        time.sleep(0.05)
    return path.read_text().split() if path.exists() else []


@pytest.mark.not_cgi(
    "Apache frames a CGI's response itself (its length, keep-alive)"
)
@pytest.mark.parametrize(
    "status", ["204 No Content", "304 Not Modified", "103 Early Hints"]
)
@pytest.mark.parametrize("kind", ["one", "declared", "stream", "write"])
def test_bodyless_status_sends_no_body(target, marks, status, kind):
    ident = uuid.uuid4().hex
    path = url(
        "/app/bodyless", status=status, kind=kind, dir=str(marks), id=ident
    )
    head, rest = two_on_one_connection(target, "GET", path)
    assert head.startswith("HTTP/1.1 %s" % status[:3]), head
    assert header_values(head, "Content-Length") == []
    assert header_values(head, "Transfer-Encoding") == []
    assert_next_response_intact(rest)
    if kind == "stream":
        assert closed(marks, ident).count("close") == 1


@pytest.mark.not_cgi(
    "Apache frames a CGI's response itself (its length, keep-alive)"
)
@pytest.mark.parametrize(
    "kind, length",
    [("one", str(len(BODY))), ("declared", str(len(BODY))), ("write", None)],
)
def test_head_sends_no_body_and_the_length_of_get(target, kind, length):
    head, rest = two_on_one_connection(
        target, "HEAD", url("/app/bodyless", kind=kind)
    )
    assert head.startswith("HTTP/1.1 200"), head
    if length is not None:
        assert header_values(head, "Content-Length") == [length]
    assert_next_response_intact(rest)


@pytest.mark.not_cgi(
    "Apache frames a CGI's response itself (its length, keep-alive)"
)
def test_head_of_a_stream_closes_the_iterable(target, marks):
    ident = uuid.uuid4().hex
    head, rest = two_on_one_connection(
        target,
        "HEAD",
        url("/app/bodyless", kind="stream", dir=str(marks), id=ident),
    )
    assert head.startswith("HTTP/1.1 200"), head
    assert_next_response_intact(rest)
    assert closed(marks, ident).count("close") == 1
