"""A start_response() or write() the app keeps and calls after its
response ended must never reach the server: the handle it would write to
is the server's again (a freed record, or another client's request),
so each path a response can end by makes them raise."""

import pytest

from tests.unit.recorder import DONE


def kept_app(kept, how):
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        kept.extend([start_response, write])
        if how == "write":
            write(b"written")  # the response is the Python Response's
            return []
        if how == "raises":
            raise ValueError("the app fails after start_response()")
        if how == "generator":
            return iter([b"a", b"b"])
        return [b"listed"]

    return app


HOWS = ["list", "write", "raises", "generator"]


@pytest.mark.parametrize("timeout_ms", [0, 5000])  # 5000: watchdog's path
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("entry", ["run", "steps"])
def test_a_kept_write_after_the_end_raises_and_sends_nothing(
    server, entry, how, method, timeout_ms
):
    kept = []
    app_id = server.add_app(kept_app(kept, how))
    run = server.run if entry == "run" else server.steps
    _, seen = run(
        app_id, env={"REQUEST_METHOD": method}, timeout_ms=timeout_ms
    )
    assert seen.status == (500 if how == "raises" else 200)
    events, body = list(seen.events), bytes(seen.body)
    start_response, write = kept
    with pytest.raises(RuntimeError, match="after the response ended"):
        write(b"late")
    with pytest.raises(RuntimeError, match="after the response ended"):
        start_response("500 Late", [], (ValueError, ValueError(), None))
    assert (seen.events, bytes(seen.body)) == (events, body)


def test_a_write_during_the_response_still_goes_out(server):
    kept = []
    code, seen = server.run(server.add_app(kept_app(kept, "write")))
    assert code == DONE
    assert bytes(seen.body) == b"written"


def body_app(kept, how):
    def app(environ, start_response):
        body = environ["wsgi.input"]
        kept.append(body)
        first = body.read(3)
        start_response("200 OK", [("Content-Type", "text/plain")])
        if how == "raises":
            raise ValueError("the app fails after reading")
        return [first]

    return app


@pytest.mark.parametrize("timeout_ms", [0, 5000])
@pytest.mark.parametrize("how", ["list", "raises"])
@pytest.mark.parametrize("entry", ["run", "steps"])
def test_a_kept_wsgi_input_after_the_end_raises_and_reads_nothing(
    server, entry, how, timeout_ms
):
    kept = []
    run = server.run if entry == "run" else server.steps
    _, seen = run(
        server.add_app(body_app(kept, how)),
        env={"REQUEST_METHOD": "POST"},
        body=[b"abcdef"],
        timeout_ms=timeout_ms,
    )
    assert seen.status == (500 if how == "raises" else 200)
    reads = list(seen.reads)  # the server asked for the body this often
    with pytest.raises(ValueError, match="after the response ended"):
        kept[0].read()
    assert seen.reads == reads
