"""wsgi.input over the read callback (checklist items 10, 11, 12)."""

import pytest

from pywsgi_embed.wsgi_input import CHUNK, EMPTY, InputError
from tests.unit.recorder import DONE


def run_reading(server, use, body, content_length=None, **kw):
    """Run an app that calls use(wsgi.input) and answers its repr; returns
    (what use() returned, Seen)."""
    out = []

    def app(environ, start_response):
        out.append(use(environ["wsgi.input"]))
        start_response("200 OK", [])
        return [b"done"]

    code, seen = server.run(
        server.add_app(app), body=body, content_length=content_length, **kw
    )
    assert code == DONE, seen.log_text()
    return (out[0] if out else None), seen


BODY = [b"line one\nli", b"ne two\n", b"last line, no newline"]
TEXT = b"".join(BODY)


@pytest.mark.parametrize("length", [len(TEXT), -1])
def test_read_all(server, length):
    got, seen = run_reading(server, lambda i: i.read(), BODY, length)
    assert got == TEXT and type(got) is bytes


@pytest.mark.parametrize("length", [len(TEXT), -1])
def test_read_none(server, length):
    got, _ = run_reading(server, lambda i: i.read(None), BODY, length)
    assert got == TEXT


@pytest.mark.parametrize("length", [len(TEXT), -1])
def test_read_n_fills_across_server_chunks(server, length):
    def use(i):
        parts = []
        while True:
            part = i.read(4)
            if not part:
                return parts, i.read(4), i.read()
            parts.append(part)

    (parts, after, rest), _ = run_reading(
        server, use, [bytes([c]) for c in TEXT], length
    )
    assert b"".join(parts) == TEXT
    assert all(len(p) == 4 for p in parts[:-1])
    assert after == b"" and rest == b""


def test_read_zero(server):
    got, seen = run_reading(server, lambda i: (i.read(0), i.read()), [b"abc"])
    assert got == (b"", b"abc")


def test_eof_at_content_length(server):
    """Never asks the server past CONTENT_LENGTH (checklist 11)."""

    def use(i):
        return i.read(), i.read(), i.read(10), i.readline()

    got, seen = run_reading(server, use, [b"0123456789", b"MORE"], 7)
    assert got == (b"0123456", b"", b"", b"")
    assert sum(seen.reads) >= 7
    assert seen.reads[-1] <= 7 and len(seen.reads) == 1
    assert seen.body_chunks == [b"789", b"MORE"]


def test_read_n_bounded_by_content_length(server):
    got, seen = run_reading(
        server, lambda i: [i.read(100), i.read(100)], [b"abcdef", b"ghi"], 5
    )
    assert got == [b"abcde", b""]
    assert all(n <= 5 for n in seen.reads)


def test_large_body(server):
    big = bytes(range(256)) * (3 * CHUNK // 256 + 7)
    pieces = [big[i : i + 10000] for i in range(0, len(big), 10000)]
    got, _ = run_reading(server, lambda i: i.read(), pieces, len(big))
    assert got == big
    got, _ = run_reading(server, lambda i: i.read(), pieces, -1)
    assert got == big
    got, _ = run_reading(server, lambda i: i.read(len(big) - 1), pieces, -1)
    assert got == big[:-1]


@pytest.mark.parametrize("length", [len(TEXT), -1])
def test_readline(server, length):
    def use(i):
        return [i.readline(), i.readline(), i.readline(), i.readline()]

    got, _ = run_reading(server, use, BODY, length)
    assert got == [b"line one\n", b"line two\n", b"last line, no newline", b""]


@pytest.mark.parametrize("length", [len(TEXT), -1])
def test_readline_size(server, length):
    def use(i):
        return [
            i.readline(4),
            i.readline(100),
            i.readline(0),
            i.readline(-1),
            i.readline(None),
            i.readline(3),
        ]

    got, _ = run_reading(server, use, BODY, length)
    assert got == [
        b"line",
        b" one\n",
        b"",
        b"line two\n",
        b"last line, no newline",
        b"",
    ]


def test_readline_long_line_in_small_chunks(server):
    line = b"x" * (CHUNK + 100) + b"\n"
    pieces = [line[i : i + 1000] for i in range(0, len(line), 1000)] + [b"end"]
    got, _ = run_reading(
        server, lambda i: (i.readline(), i.readline()), pieces, -1
    )
    assert got == (line, b"end")


@pytest.mark.parametrize("length", [len(TEXT), -1])
def test_readlines(server, length):
    got, _ = run_reading(server, lambda i: i.readlines(), BODY, length)
    assert got == [b"line one\n", b"line two\n", b"last line, no newline"]


def test_readlines_hint(server):
    got, _ = run_reading(
        server, lambda i: (i.readlines(3), i.readlines(None)), BODY
    )
    assert got == ([b"line one\n"], [b"line two\n", b"last line, no newline"])


@pytest.mark.parametrize("length", [len(TEXT), -1])
def test_iteration(server, length):
    got, _ = run_reading(server, lambda i: list(i), BODY, length)
    assert got == [b"line one\n", b"line two\n", b"last line, no newline"]
    assert all(type(line) is bytes for line in got)


def test_mixed_read_and_readline(server):
    def use(i):
        return [i.read(3), i.readline(), i.read(5), i.readline(), i.read()]

    got, _ = run_reading(server, use, BODY)
    assert got == [
        b"lin",
        b"e one\n",
        b"line ",
        b"two\n",
        b"last line, no newline",
    ]


def test_chunked_ends_when_the_server_says(server):
    """wsgi.input_terminated: a body of unknown length (de-chunked by the
    server) reads to the server's end."""

    def use(i):
        return i.read(), i.read(), i.read(1)

    got, seen = run_reading(server, use, [b"a" * 5, b"b" * 3], -1)
    assert got == (b"aaaaabbb", b"", b"")
    assert seen.reads.count(0) == 0


def test_read_error_raises(server):
    def use(i):
        with pytest.raises(InputError):
            i.read()
        return "raised"

    rec_body = [b"abc"]
    out = []

    def app(environ, start_response):
        out.append(use(environ["wsgi.input"]))
        start_response("200 OK", [])
        return []

    rec, seen = server.request(
        server.add_app(app), body=rec_body, content_length=-1
    )
    seen.read_error = True
    from pywsgi_embed import gateway

    assert gateway.handle(rec) == DONE
    assert out == ["raised"]


def test_read_error_unhandled_is_a_500(server):
    def app(environ, start_response):
        environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b"never"]

    rec, seen = server.request(
        server.add_app(app), body=[b"abc"], content_length=-1
    )
    seen.read_error = True
    from pywsgi_embed import gateway

    assert gateway.handle(rec) == DONE
    assert seen.status == 500
    assert "InputError" in seen.log_text()


def test_body_shorter_than_content_length_raises(server):
    def use(i):
        with pytest.raises(InputError, match="ended 4 bytes before"):
            i.read()
        return True

    got, _ = run_reading(server, use, [b"abcdef"], 10)
    assert got is True


def test_empty_input():
    assert EMPTY.read() == b"" and EMPTY.read(5) == b""
    assert EMPTY.readline() == b"" and EMPTY.readline(3) == b""
    assert EMPTY.readlines() == [] and EMPTY.readlines(4) == []
    assert list(EMPTY) == []
    assert EMPTY.readable()


def test_no_body_means_no_read(server):
    got, seen = run_reading(server, lambda i: (i.read(), i.readline()), [], 0)
    assert got == (b"", b"")
    assert seen.reads == []
