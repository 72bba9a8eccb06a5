"""The app called from C and its common answer sent from C
(csrc/gateway_respond.c, csrc/gateway_heads.c): the path both servers'
hello worlds take.  The rest of the unit tests run through it too
(Recorder.run and step() call the library's C entry points); these are
what only that path has: its list of requests in flight, its memo of
heads, and the objects it lends the app."""

import gc
import sys

import pytest

from pywsgi_embed import watchdog
from tests.unit.recorder import ABORT, DONE, LAST, MORE, step

_environ = sys.modules["pywsgi_embed._environ"]


def test_the_app_runs_listed_in_flight_and_leaves_the_list(server):
    import threading

    seen_inside = []

    def app(environ, start_response):
        seen_inside.append(
            [(tid, env is environ) for tid, env, began in _environ.running()]
        )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hi"]

    code, seen = server.run(server.add_app(app))
    assert code == DONE
    assert seen.events == [("start", 200, b"hi", LAST)]
    assert seen.header("Content-Length") == ["2"]
    assert seen_inside == [[(threading.get_ident(), True)]]
    assert _environ.running() == []


def test_the_stacks_dump_finds_a_request_called_from_c(server):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [watchdog.report().encode()]

    code, seen = server.run(
        server.add_app(app),
        env={"REQUEST_METHOD": "GET", "REQUEST_URI": "/dumped?x=1"},
    )
    assert code == DONE
    text = seen.body.decode()
    assert "1 request(s) running" in text
    assert "GET /dumped?x=1" in text
    assert "in app" in text  # its Python stack


def test_equal_headers_made_anew_hit_the_memo_and_stay_exact(server):
    def app(environ, start_response):
        value = "text/" + environ["QUERY_STRING"]  # a new str each time
        headers = [("Content-Type", value), ("X-N", str(len(value)))]
        start_response("200 " + "OK", headers)
        headers.append(("X-Late", "never sent"))  # after the call
        return [b"body"]

    app_id = server.add_app(app)
    for query in ("plain", "html", "plain", "plain", "html"):
        code, seen = server.run(app_id, env={"QUERY_STRING": query})
        assert code == DONE
        assert seen.header("Content-Type") == ["text/" + query]
        assert seen.header("X-N") == [str(len("text/" + query))]
        assert seen.header("X-Late") == []


def test_a_refused_list_is_refused_every_time(server):
    caught = []

    def app(environ, start_response):
        try:
            start_response("200 OK", [("X-Bad", "a\r\nb")])
        except ValueError as exc:
            caught.append(str(exc))
        start_response("200 OK", [("X-Good", "1")])
        return [b"ok"]

    app_id = server.add_app(app)
    for _ in range(3):
        code, seen = server.run(app_id)
        assert code == DONE
        assert seen.header("X-Good") == ["1"]
    assert len(caught) == 3
    assert all("control character" in text for text in caught)


class Name(str):
    pass


def test_a_str_subclass_takes_the_python_checks(server):
    """The memo looks up exact str only: a subclass reaches head_of(),
    which refuses a name that is not a str (and keeps refusing it)."""

    def app(environ, start_response):
        start_response("200 OK", [(Name("X-Sub"), "v")])
        return [b"ok"]

    app_id = server.add_app(app)
    for _ in range(2):
        code, seen = server.run(app_id)
        assert code == DONE
        assert seen.status == 500
        assert "a header name must be a str, not Name" in seen.log_text()


def test_a_bare_status_is_warned_once_and_sent_with_its_reason(server):
    def app(environ, start_response):
        start_response("200", [])
        return [b"ok"]

    app_id = server.add_app(app)
    warnings = 0
    for _ in range(3):
        code, seen = server.run(app_id)
        assert code == DONE
        assert seen.status_line == b"200 OK"
        warnings += sum("PEP 3333 asks for" in t for _, t in seen.logs)
    assert warnings == 1


def test_head_keeps_the_length_and_sends_no_body(server):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"twelve bytes"]

    code, seen = server.run(
        server.add_app(app), env={"REQUEST_METHOD": "HEAD"}
    )
    assert code == DONE
    assert bytes(seen.body) == b""
    assert seen.header("Content-Length") == ["12"]


def test_a_client_gone_at_the_answer_is_an_abort(server):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"lost"]

    rec, seen = server.request(server.add_app(app))
    seen.gone_after = 0
    code = step(rec)
    assert code == ABORT
    assert "closed the connection" in seen.log_text()


def test_write_and_a_generator_go_on_in_python(server):
    def app(environ, start_response):
        write = start_response("200 OK", [])
        write(b"a")

        def rest():
            yield b"b"
            yield b"c"

        return rest()

    codes, seen = server.steps(server.add_app(app))
    assert codes[-1] == DONE and MORE in codes
    assert bytes(seen.body) == b"abc"


def test_an_exception_before_start_response_is_a_500(server):
    def app(environ, start_response):
        raise KeyError("boom")

    code, seen = server.run(server.add_app(app))
    assert code == DONE
    assert seen.status == 500
    assert "KeyError: 'boom'" in seen.log_text()


def responders():
    gc.collect()
    return sum(type(o).__name__ == "Responder" for o in gc.get_objects())


def test_a_start_response_kept_by_the_app_leaks_nothing(server):
    def app(environ, start_response):
        environ["app.start_response"] = start_response  # a cycle
        environ["app.write"] = start_response("200 OK", [])
        return [b"ok"]

    before = responders()
    app_id = server.add_app(app)
    for _ in range(5):
        assert server.run(app_id)[0] == DONE
    assert responders() == before


@pytest.mark.parametrize("how", ["after", "again"])
def test_a_start_response_used_later_is_the_response_s(server, how):
    kept = []

    def app(environ, start_response):
        kept.append(start_response)
        start_response("200 OK", [])
        if how == "again":
            start_response("201 Created", [])
        return [b"ok"]

    code, seen = server.run(server.add_app(app))
    if how == "again":
        assert seen.status == 500
        assert "a second time without exc_info" in seen.log_text()
    else:
        assert code == DONE
        with pytest.raises(RuntimeError, match="after the response ended"):
            kept[0]("200 OK", [])
