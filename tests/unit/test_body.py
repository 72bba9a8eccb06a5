"""The response body: when the headers go out, the one-call path, the
Content-Length rules, close(), and every error path (checklist items 16,
17, 19-23, 25)."""

import pytest

from pywsgi_embed import gateway
from pywsgi_embed.response import LOG_ERROR
from tests.unit.recorder import ABORT, DONE, LAST

HELLO = [("Content-Type", "text/plain")]


class Body:
    """An iterable that is not a list or a generator, and counts close()."""

    def __init__(self, chunks, fail_at=None):
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.closed = 0
        self.pulled = 0

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("the app failed mid-body")
            self.pulled += 1
            yield chunk

    def close(self):
        self.closed += 1


def app_returning(result, status="200 OK", headers=HELLO, before=None):
    def app(environ, start_response):
        write = start_response(status, list(headers))
        if before is not None:
            before(write)
        return result

    return app


def run(server, app, **kw):
    return server.run(server.add_app(app), **kw)


# -- when and how the headers go out -------------------------------------


def test_one_item_list_is_one_call_with_content_length(server):
    code, seen = run(server, app_returning([b"hello"]))
    assert code == DONE
    assert seen.events == [("start", 200, b"hello", LAST)]
    assert seen.header("Content-Length") == ["5"]
    assert seen.header("Content-Type") == ["text/plain"]


def test_one_item_list_with_its_own_content_length(server):
    app = app_returning([b"hello"], headers=[("Content-Length", "5")])
    code, seen = run(server, app)
    assert code == DONE
    assert seen.events == [("start", 200, b"hello", LAST)]
    assert seen.header("Content-Length") == ["5"]


def test_empty_list_is_one_call_with_zero_length(server):
    code, seen = run(server, app_returning([]))
    assert code == DONE
    assert seen.events == [("start", 200, b"", LAST)]
    assert seen.header("Content-Length") == ["0"]


@pytest.mark.parametrize(
    "status", ["204 No Content", "304 Not Modified", "101 Switching Protocols"]
)
def test_bodyless_status_gets_no_content_length(server, status):
    code, seen = run(server, app_returning([], status=status))
    assert code == DONE and seen.header("Content-Length") == []
    assert seen.flags == LAST


def test_several_chunks_stream_without_content_length(server):
    code, seen = run(server, app_returning([b"a", b"bc", b"def"]))
    assert code == DONE
    assert seen.events == [
        ("start", 200, b"a", 0),
        ("write", b"bc"),
        ("write", b"def"),
    ]
    assert seen.header("Content-Length") == []


def test_headers_wait_for_the_first_non_empty_chunk(server):
    state = []

    def app(environ, start_response):
        start_response("200 OK", [])
        for chunk in (b"", b"", b"x", b"", b"y"):
            state.append(server.requests[max(server.requests)].status)
            yield chunk

    code, seen = run(server, app)
    assert code == DONE
    assert state == [None, None, None, 200, 200]
    assert seen.events == [("start", 200, b"x", 0), ("write", b"y")]


def test_empty_chunk_then_error_is_a_500(server):
    """Checklist 16: yield b'', then raise: the client gets a 500."""

    def app(environ, start_response):
        start_response("200 OK", [("X-App", "1")])
        yield b""
        raise RuntimeError("after an empty chunk")

    code, seen = run(server, app)
    assert code == DONE and seen.status == 500
    assert seen.header("X-App") == []
    assert "after an empty chunk" in seen.log_text()


def test_only_empty_chunks_send_headers_at_the_end(server):
    code, seen = run(server, app_returning(Body([b"", b""])))
    assert code == DONE
    assert seen.events == [("start", 200, b"", LAST)]
    assert seen.header("Content-Length") == ["0"]


def test_start_response_during_first_next(server):
    """Checklist 17: a generator app calls start_response lazily."""

    def app(environ, start_response):
        start_response("202 Accepted", [("X-Lazy", "yes")])
        yield b"late"

    code, seen = run(server, app)
    assert code == DONE and seen.status == 202
    assert seen.header("X-Lazy") == ["yes"] and seen.body == b"late"


def test_bytes_pass_unchanged(server):
    data = [bytes(range(256)), b"\0\r\n", b"x" * 100000]
    code, seen = run(server, app_returning(Body(data)))
    assert code == DONE and seen.body == b"".join(data)


def test_write_goes_out_before_the_iterable(server):
    code, seen = run(
        server,
        app_returning(
            [b"from the list"], before=lambda w: (w(b"one "), w(b"two "))
        ),
    )
    assert code == DONE
    assert seen.events == [
        ("start", 200, b"one ", 0),
        ("write", b"two "),
        ("write", b"from the list"),
    ]
    assert seen.header("Content-Length") == []


def test_write_each_block_handed_over_before_return(server):
    order = []

    def before(write):
        write(b"a")
        order.append(bytes(server.requests[max(server.requests)].body))
        write(b"b")
        order.append(bytes(server.requests[max(server.requests)].body))

    code, seen = run(server, app_returning([], before=before))
    assert order == [b"a", b"ab"]


# -- Content-Length -------------------------------------------------------


def test_content_length_never_exceeded_streaming(server):
    body = Body([b"abc", b"def", b"ghi"])
    code, seen = run(
        server, app_returning(body, headers=[("Content-Length", "5")])
    )
    assert code == DONE
    assert seen.body == b"abcde"
    assert body.pulled == 2  # stopped at the length
    assert body.closed == 1
    assert "more than its Content-Length" in seen.log_text()


def test_content_length_never_exceeded_one_item(server):
    code, seen = run(
        server, app_returning([b"abcdefgh"], headers=[("Content-Length", "3")])
    )
    assert code == DONE
    assert seen.events == [("start", 200, b"abc", LAST)]
    assert seen.header("Content-Length") == ["3"]
    assert "more than its Content-Length" in seen.log_text()


def test_content_length_exact_streaming(server):
    body = Body([b"ab", b"cd"])
    code, seen = run(
        server, app_returning(body, headers=[("Content-Length", "4")])
    )
    assert code == DONE and seen.body == b"abcd"
    assert "Content-Length" not in seen.log_text()


@pytest.mark.parametrize("result", [[b"abc"], Body([b"ab", b"c"]), []])
def test_short_body_aborts(server, result):
    code, seen = run(
        server, app_returning(result, headers=[("Content-Length", "10")])
    )
    assert code == ABORT
    assert "fewer than its Content-Length" in seen.log_text()


@pytest.mark.parametrize("result", [[], [b""], Body([])])
def test_head_may_be_short(server, result):
    code, seen = run(
        server,
        app_returning(result, headers=[("Content-Length", "10")]),
        env={"REQUEST_METHOD": "HEAD"},
    )
    assert code == DONE
    assert seen.header("Content-Length") == ["10"]


def test_head_with_a_body_still_says_its_length(server):
    code, seen = run(
        server, app_returning([b"hello"]), env={"REQUEST_METHOD": "HEAD"}
    )
    assert code == DONE and seen.header("Content-Length") == ["5"]


def test_zero_content_length_sends_headers(server):
    code, seen = run(
        server,
        app_returning(Body([b"extra"]), headers=[("Content-Length", "0")]),
    )
    assert code == DONE and seen.body == b""
    assert seen.header("Content-Length") == ["0"]


# -- close() ----------------------------------------------------------------


def test_close_once_on_success(server):
    body = Body([b"a", b"b"])
    code, _ = run(server, app_returning(body))
    assert code == DONE and body.closed == 1


def test_close_once_on_error_mid_body(server):
    body = Body([b"a", b"b", b"c"], fail_at=1)
    code, seen = run(server, app_returning(body))
    assert code == ABORT and body.closed == 1
    assert seen.body == b"a"
    assert "the app failed mid-body" in seen.log_text()


def test_close_once_on_error_before_output(server):
    body = Body([b"a"], fail_at=0)
    code, seen = run(server, app_returning(body))
    assert code == DONE and seen.status == 500 and body.closed == 1


def test_close_once_when_client_gone_on_write(server):
    body = Body([b"a", b"b", b"c", b"d"])
    rec, seen = server.request(server.add_app(app_returning(body)))
    seen.gone_after = 1  # start() succeeds, write() fails
    assert gateway.handle(rec) == ABORT
    assert body.closed == 1 and body.pulled == 2
    assert seen.body == b"ab"
    assert "client closed" in seen.log_text()


def test_client_gone_on_one_call(server):
    rec, seen = server.request(server.add_app(app_returning([b"x"])))
    seen.gone_after = 0
    assert gateway.handle(rec) == ABORT


def test_client_gone_raises_in_write(server):
    caught = []

    def before(write):
        write(b"one")
        try:
            write(b"two")
        except OSError as exc:
            caught.append(exc)
            raise

    body = Body([b"never"])
    rec, seen = server.request(
        server.add_app(app_returning(body, before=before))
    )
    seen.gone_after = 1
    assert gateway.handle(rec) == ABORT
    assert len(caught) == 1 and body.closed == 0  # the app never returned


def test_generator_close_runs_finally(server):
    events = []

    def app(environ, start_response):
        start_response("200 OK", [])
        try:
            yield b"a"
            yield b"b"
        finally:
            events.append("finally")

    rec, seen = server.request(server.add_app(app))
    seen.gone_after = 0
    assert gateway.handle(rec) == ABORT
    assert events == ["finally"]


def test_close_raising_is_logged(server):
    class Bad(Body):
        def close(self):
            raise ValueError("close failed")

    code, seen = run(server, app_returning(Bad([b"a", b"b"])))
    assert code == DONE
    assert "close failed" in seen.log_text()


def test_no_attributes_of_the_iterable(server):
    """Checklist 23: only close() is looked up."""
    looked = []

    class Watched:
        def __init__(self):
            self.items = [b"a", b"b"]

        def __iter__(self):
            return iter(object.__getattribute__(self, "items"))

        def __len__(self):
            looked.append("__len__")
            return 2

        def __getattribute__(self, name):
            looked.append(name)
            return object.__getattribute__(self, name)

        def close(self):
            pass

    code, seen = run(server, app_returning(Watched()))
    assert code == DONE and seen.body == b"ab"
    assert looked == ["close"]


# -- errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [RuntimeError("bad"), KeyError("k"), SystemExit(3), KeyboardInterrupt()],
)
def test_exception_before_output_is_a_500(server, exc):
    def app(environ, start_response):
        raise exc

    code, seen = run(server, app)
    assert code == DONE
    assert seen.status == 500 and seen.flags == LAST
    assert seen.body == b"500 Internal Server Error"
    assert seen.header("Content-Length") == ["25"]
    text = seen.log_text()
    assert "Traceback (most recent call last):" in text
    assert type(exc).__name__ in text


def test_exception_after_start_response_before_output(server):
    def app(environ, start_response):
        start_response("200 OK", [("X-App", "1")])
        raise RuntimeError("late but nothing sent")

    code, seen = run(server, app)
    assert code == DONE and seen.status == 500
    assert seen.header("X-App") == []


def test_exception_after_output_aborts(server):
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"partial"
        raise RuntimeError("mid-stream")

    code, seen = run(server, app)
    assert code == ABORT
    assert seen.status == 200 and seen.body == b"partial"
    assert "RuntimeError: mid-stream" in seen.log_text()


@pytest.mark.parametrize(
    "chunk", ["text", bytearray(b"x"), memoryview(b"x"), 1, None]
)
def test_non_bytes_chunk_first_is_a_500(server, chunk):
    code, seen = run(server, app_returning(Body([chunk])))
    assert code == DONE and seen.status == 500
    assert "a WSGI body is made of bytes" in seen.log_text()


def test_non_bytes_in_one_item_list(server):
    code, seen = run(server, app_returning(["text"]))
    assert code == DONE and seen.status == 500


def test_non_bytes_chunk_later_aborts(server):
    code, seen = run(server, app_returning(Body([b"ok", "text"])))
    assert code == ABORT and seen.body == b"ok"
    assert "yielded str" in seen.log_text()


@pytest.mark.parametrize("result", [[b"x"], [], Body([b"x"]), Body([])])
def test_no_start_response_is_a_500(server, result):
    def app(environ, start_response):
        return result

    code, seen = run(server, app)
    assert code == DONE and seen.status == 500
    assert "start_response()" in seen.log_text()


def test_result_not_iterable_is_a_500(server):
    code, seen = run(server, app_returning(42))
    assert code == DONE and seen.status == 500
    assert "not iterable" in seen.log_text()


def test_traceback_lines_are_separate_log_messages(server):
    def app(environ, start_response):
        raise RuntimeError("one\ntwo")

    code, seen = run(server, app)
    assert all("\n" not in text for _, text in seen.logs)
    assert len(seen.logs) > 3
    assert [lvl for lvl, _ in seen.logs] == [LOG_ERROR] * len(seen.logs)


def test_worker_keeps_serving_after_errors(server):
    def bad(environ, start_response):
        raise RuntimeError("x")

    bad_id = server.add_app(bad)
    good_id = server.add_app(app_returning([b"fine"]))
    for _ in range(3):
        assert server.run(bad_id)[1].status == 500
        code, seen = server.run(good_id)
        assert (code, seen.status, seen.body) == (DONE, 200, b"fine")


@pytest.mark.parametrize("size", [10, 4000, 5000, 70000])
def test_content_length_added_after_any_header_size(server, size):
    """C appends the Content-Length to the header blob, on its stack or,
    past 4 KiB, in a malloc'd copy."""
    headers = [("X-Big", "v" * size), ("X-After", "1")]
    code, seen = run(server, app_returning([b"x" * 123], headers=headers))
    assert code == DONE and seen.flags == LAST
    assert seen.headers == [
        (b"X-Big", b"v" * size),
        (b"X-After", b"1"),
        (b"Content-Length", b"123"),
    ]


@pytest.mark.parametrize("n", [1, 9, 10, 99, 100, 12345, 1000000])
def test_content_length_digits(server, n):
    code, seen = run(server, app_returning([b"y" * n]))
    assert seen.header("Content-Length") == [str(n)]
    assert len(seen.body) == n
