"""Step mode (pywsgi_start/next/cancel through the library's C,
csrc/gateway_serve.c): one chunk per step, state kept between steps, close()
exactly once however it ends."""

import gc

import pytest
from pywsgi_embed._gateway import ffi

from pywsgi_embed.response import Response
from tests.unit.recorder import ABORT, DONE, LAST, MORE, cancel, step


class Body:
    def __init__(self, chunks, fail_at=None):
        self.chunks = chunks
        self.fail_at = fail_at
        self.closed = 0

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("failed at step %d" % i)
            yield chunk

    def close(self):
        self.closed += 1


def live_responses():
    """Responses alive in this process: the ones the records' states
    hold, once each ended response was let go."""
    gc.collect()
    return sum(type(o) is Response for o in gc.get_objects())


@pytest.fixture(autouse=True)
def no_response_left():
    """Every response a test ended or cancelled is let go: the records'
    states hold the only reference (csrc/gateway_serve.c)."""
    before = live_responses()
    yield
    assert live_responses() == before


def app_returning(result, headers=()):
    def app(environ, start_response):
        start_response("200 OK", list(headers))
        return result

    return app


def test_one_item_list_is_done_at_once(server):
    codes, seen = server.steps(server.add_app(app_returning([b"whole"])))
    assert codes == [DONE]
    assert seen.events == [("start", 200, b"whole", LAST)]


def test_one_chunk_per_step(server):
    body = Body([b"a", b"", b"b", b"c"])
    rec, seen = server.request(server.add_app(app_returning(body)))
    assert step(rec) == MORE
    assert rec.state != ffi.NULL
    assert seen.events == [("start", 200, b"a", 0)]
    gc.collect()  # the gateway keeps the response
    assert step(rec) == MORE
    assert seen.events[-1] == ("write", b"b")
    assert step(rec) == MORE
    assert seen.events[-1] == ("write", b"c")
    assert step(rec) == DONE
    assert rec.state == ffi.NULL
    assert body.closed == 1
    assert len(seen.events) == 3


def test_lazy_start_response_in_first_step(server):
    def app(environ, start_response):
        start_response("201 Created", [])
        yield b"x"
        yield b"y"

    codes, seen = server.steps(server.add_app(app))
    assert codes == [MORE, MORE, DONE]
    assert seen.status == 201 and seen.body == b"xy"


def test_cancel_closes_once(server):
    body = Body([b"a", b"b", b"c"])
    rec, seen = server.request(server.add_app(app_returning(body)))
    assert step(rec) == MORE
    cancel(rec)
    assert body.closed == 1
    assert rec.state == ffi.NULL
    assert seen.body == b"a"


def test_cancel_runs_generator_finally(server):
    events = []

    def app(environ, start_response):
        start_response("200 OK", [])
        try:
            while True:
                yield b"tick"
        finally:
            events.append("closed")

    rec, seen = server.request(server.add_app(app))
    assert step(rec) == MORE
    assert step(rec) == MORE
    cancel(rec)
    assert events == ["closed"]


def test_error_in_a_later_step_aborts(server):
    body = Body([b"a", b"b", b"c"], fail_at=2)
    codes, seen = server.steps(server.add_app(app_returning(body)))
    assert codes == [MORE, MORE, ABORT]
    assert body.closed == 1 and seen.body == b"ab"
    assert "failed at step 2" in seen.log_text()


def test_error_in_first_step_is_a_500(server):
    body = Body([b"a"], fail_at=0)
    codes, seen = server.steps(server.add_app(app_returning(body)))
    assert codes == [DONE] and seen.status == 500 and body.closed == 1


def test_client_gone_in_a_step(server):
    body = Body([b"a", b"b", b"c"])
    rec, seen = server.request(server.add_app(app_returning(body)))
    seen.gone_after = 1
    assert step(rec) == MORE
    assert step(rec) == ABORT
    assert rec.state == ffi.NULL and body.closed == 1


def test_content_length_reached_ends_the_steps(server):
    body = Body([b"a", b"b", b"never"])
    codes, seen = server.steps(
        server.add_app(app_returning(body, [("Content-Length", "2")]))
    )
    assert codes == [MORE, DONE]
    assert seen.body == b"ab" and body.closed == 1


def test_short_body_in_steps_aborts(server):
    body = Body([b"a"])
    codes, seen = server.steps(
        server.add_app(app_returning(body, [("Content-Length", "5")]))
    )
    assert codes == [MORE, ABORT]


def test_interleaved_requests(server):
    """Two responses in flight at once, as on nginx's thread pool."""
    app = server.add_app(app_returning(None))
    bodies = [Body([b"1a", b"1b"]), Body([b"2a", b"2b"])]

    def numbered(environ, start_response):
        start_response("200 OK", [])
        return bodies[int(environ["PATH_INFO"][1:])]

    app = server.add_app(numbered)
    r0, s0 = server.request(app, env={"PATH_INFO": "/0"})
    r1, s1 = server.request(app, env={"PATH_INFO": "/1"})
    before = live_responses()
    assert step(r0) == MORE
    assert step(r1) == MORE
    assert ffi.NULL != r0.state != r1.state != ffi.NULL
    assert live_responses() - before == 2
    assert step(r1) == MORE
    assert step(r0) == MORE
    assert step(r0) == DONE
    cancel(r1)
    assert (s0.body, s1.body) == (b"1a1b", b"2a2b")
    assert [b.closed for b in bodies] == [1, 1]
