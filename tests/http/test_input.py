"""wsgi.input over HTTP (checklist items 10-12)."""

import socket

import pytest

from tests.http.client import Stream, build, connect, post, read_response

BODY = b"line one\nline two\n\nlast line without newline"


def parts(resp):
    assert resp.status == 200, resp
    data = resp.json()
    assert data["types"] == ["bytes"], data
    return [p.encode("latin-1") for p in data["parts"]]


@pytest.mark.smoke
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_read_all(target, chunked):  # 10, 12
    assert parts(
        post(target, "/app/input?how=read", BODY, chunked=chunked)
    ) == [BODY]


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_read_n_until_eof(target, chunked):  # 10, 11
    got = parts(
        post(target, "/app/input?how=read_n&n=7", BODY, chunked=chunked)
    )
    assert got[-1] == b""
    assert all(len(p) == 7 for p in got[:-2])
    assert b"".join(got) == BODY


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_readline(target, chunked):  # 10
    got = parts(post(target, "/app/input?how=readline", BODY, chunked=chunked))
    assert got == [
        b"line one\n",
        b"line two\n",
        b"\n",
        b"last line without newline",
        b"",
    ]


def test_readline_with_size(target):  # 10
    got = parts(
        post(target, "/app/input?how=readline_size&size=5&count=4", BODY)
    )
    assert got == [b"line ", b"one\n", b"line ", b"two\n"]


def test_readlines_with_hint(target):  # 10
    got = parts(post(target, "/app/input?how=readlines&hint=12", BODY))
    assert got == [b"line one\n", b"line two\n"]
    got = parts(post(target, "/app/input?how=readlines", BODY))
    assert b"".join(got) == BODY and len(got) == 4


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_iteration(target, chunked):  # 10
    got = parts(post(target, "/app/input?how=iter", BODY, chunked=chunked))
    assert got == [
        b"line one\n",
        b"line two\n",
        b"\n",
        b"last line without newline",
    ]


def test_eof_at_content_length_never_blocks(target):  # 11
    # a keep-alive client sends its next request right after the body: the
    # app reading past Content-Length must get b'' at once, not block or
    # swallow the next request
    with connect(target, timeout=10) as sock:
        first = build(target, "POST", "/app/input?how=past_eof", body=BODY)
        first = first.replace(b"Connection: close\r\n", b"")
        sock.sendall(first + build(target, "GET", "/app/environ"))
        stream = Stream(sock)
        resp = read_response(stream)
        got = parts(resp)
        assert got == [BODY, b"", b""]
        second = read_response(stream)
        assert second.status == 200 and "REQUEST_METHOD" in second.json()


def test_large_body_in_pieces(
    target,
):  # 10, 11: bodies nginx spills to a temp file
    body = bytes(range(256)) * 4096  # 1 MiB
    got = parts(post(target, "/app/input?how=read_n&n=65536", body))
    assert b"".join(got) == body


def test_expect_100_continue(target):  # 12
    with connect(target, timeout=10) as sock:
        head = build(target, "POST", "/app/input?how=read", body=b"")
        head = head.replace(
            b"Content-Length: 0", b"Content-Length: %d" % len(BODY)
        )
        head = head.replace(
            b"Connection: close", b"Expect: 100-continue\r\nConnection: close"
        )
        sock.sendall(head)
        sock.settimeout(5)
        interim = sock.recv(4096)
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
        sock.sendall(BODY)
        resp = read_response(sock)
    assert parts(resp) == [BODY]


def test_bad_chunked_body_is_refused_and_server_lives(target):
    raw = build(target, "POST", "/app/input?how=read", body=b"", chunked=True)
    raw = raw[: raw.index(b"\r\n\r\n") + 4] + b"zz\r\nnot hex\r\n0\r\n\r\n"
    with connect(target, timeout=10) as sock:
        sock.sendall(raw)
        try:
            resp = read_response(sock)
            assert resp.status == 400
        except (ConnectionError, socket.timeout):
            pass
    assert parts(post(target, "/app/input?how=read", b"alive")) == [b"alive"]
