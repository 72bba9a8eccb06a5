"""wsgi.file_wrapper (checklist item 24): a real file goes to the sendfile
callback as (fd, offset, count); anything else is read blksize at a time."""

import io
import os

import pytest

from pywsgi_embed import gateway
from tests.unit.recorder import ABORT, DONE, LAST

DATA = bytes(range(256)) * 100  # 25600 bytes


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "data.bin"
    p.write_bytes(DATA)
    return str(p)


def wrapping(make, headers=(), seek=0, blksize=None, before=None, opened=None):
    def app(environ, start_response):
        write = start_response("200 OK", list(headers))
        if before:
            before(write)
        f = make()
        if seek:
            f.seek(seek)
        if opened is not None:
            opened.append(f)
        wrap = environ["wsgi.file_wrapper"]
        return wrap(f) if blksize is None else wrap(f, blksize)

    return app


def run(server, app, **kw):
    return server.run(server.add_app(app), **kw)


def test_real_file_goes_to_sendfile(server, path):
    opened, fds = [], []

    def make():
        f = open(path, "rb")
        fds.append(f.fileno())
        return f

    code, seen = run(server, wrapping(make, opened=opened))
    assert code == DONE
    assert [e[0] for e in seen.events] == ["start", "sendfile"]
    assert seen.events[0] == ("start", 200, b"", 0)
    fd, offset, count = seen.events[1][1:]
    assert fd == fds[0]
    assert (offset, count) == (0, len(DATA))
    assert seen.header("Content-Length") == [str(len(DATA))]
    assert seen.body == DATA
    assert opened[0].closed  # close() closed the file


def test_starts_at_the_current_position(server, path):
    code, seen = run(server, wrapping(lambda: open(path, "rb"), seek=1000))
    assert code == DONE
    assert seen.events[1][2:] == (1000, len(DATA) - 1000)
    assert seen.header("Content-Length") == [str(len(DATA) - 1000)]
    assert seen.body == DATA[1000:]


def test_respects_a_smaller_content_length(server, path):
    code, seen = run(
        server,
        wrapping(
            lambda: open(path, "rb"),
            seek=10,
            headers=[("Content-Length", "100")],
        ),
    )
    assert code == DONE
    assert seen.events[1][2:] == (10, 100)
    assert seen.header("Content-Length") == ["100"]
    assert seen.body == DATA[10:110]


def test_file_shorter_than_content_length_aborts(server, path):
    code, seen = run(
        server,
        wrapping(
            lambda: open(path, "rb"),
            headers=[("Content-Length", str(len(DATA) + 1))],
        ),
    )
    assert code == ABORT
    assert "fewer than its Content-Length" in seen.log_text()


def test_empty_file(server, tmp_path):
    p = tmp_path / "empty"
    p.write_bytes(b"")
    code, seen = run(server, wrapping(lambda: open(p, "rb")))
    assert code == DONE
    assert [e[0] for e in seen.events] == ["start"]
    assert seen.header("Content-Length") == ["0"]


def test_bytesio_fallback_in_blocks(server):
    opened = []
    code, seen = run(server, wrapping(lambda: io.BytesIO(DATA), opened=opened))
    assert code == DONE
    sizes = [len(e[2] if e[0] == "start" else e[1]) for e in seen.events]
    assert sizes == [8192, 8192, 8192, len(DATA) - 3 * 8192]
    assert seen.body == DATA
    assert seen.header("Content-Length") == []
    assert opened[0].closed


def test_blksize(server):
    code, seen = run(
        server, wrapping(lambda: io.BytesIO(b"abcdefg"), blksize=3, seek=1)
    )
    assert code == DONE
    assert seen.events == [("start", 200, b"bcd", 0), ("write", b"efg")]


def test_fallback_respects_content_length(server):
    code, seen = run(
        server,
        wrapping(
            lambda: io.BytesIO(DATA),
            blksize=1000,
            headers=[("Content-Length", "2500")],
        ),
    )
    assert code == DONE and seen.body == DATA[:2500]


def test_pipe_is_read_not_sent(server):
    r, w = os.pipe()
    os.write(w, b"through a pipe")
    os.close(w)
    code, seen = run(server, wrapping(lambda: os.fdopen(r, "rb")))
    assert code == DONE and seen.body == b"through a pipe"
    assert "sendfile" not in [e[0] for e in seen.events]


def test_file_like_without_fileno_or_close(server):
    class Reader:
        def __init__(self):
            self.data = io.BytesIO(b"minimal file-like")

        def read(self, n):
            return self.data.read(n)

    code, seen = run(server, wrapping(Reader, blksize=5))
    assert code == DONE and seen.body == b"minimal file-like"


def test_sends_nothing_until_returned(server, path):
    seen_before = []

    def app(environ, start_response):
        start_response("200 OK", [])
        wrapper = environ["wsgi.file_wrapper"](open(path, "rb"))
        seen_before.append(server.requests[max(server.requests)].events[:])
        return wrapper

    code, seen = run(server, app)
    assert code == DONE and seen_before == [[]]


def test_close_calls_filelike_close(server):
    from pywsgi_embed.file_wrapper import FileWrapper

    f = io.BytesIO(b"x")
    FileWrapper(f).close()
    assert f.closed


def test_without_start_response_is_a_500(server, path):
    def app(environ, start_response):
        return environ["wsgi.file_wrapper"](open(path, "rb"))

    code, seen = run(server, app)
    assert code == DONE and seen.status == 500


def test_after_write_keeps_the_order(server, path):
    code, seen = run(
        server, wrapping(lambda: open(path, "rb"), before=lambda w: w(b"HEAD"))
    )
    assert code == DONE
    assert seen.body == b"HEAD" + DATA
    assert seen.events[0] == ("start", 200, b"HEAD", 0)


def test_client_gone_on_sendfile(server, path):
    opened = []
    rec, seen = server.request(
        server.add_app(wrapping(lambda: open(path, "rb"), opened=opened))
    )
    seen.gone_after = 1
    assert gateway.handle(rec) == ABORT
    assert opened[0].closed


def test_head_request(server, path):
    code, seen = run(
        server,
        wrapping(lambda: open(path, "rb")),
        env={"REQUEST_METHOD": "HEAD"},
    )
    assert code == DONE
    assert seen.header("Content-Length") == [str(len(DATA))]
    assert LAST not in [e[3] for e in seen.events if e[0] == "start"]
