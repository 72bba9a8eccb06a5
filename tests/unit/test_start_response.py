"""start_response(): validation inside the call, exc_info, a second call
(checklist items 14, 15, 18)."""

import sys

import pytest

from pywsgi_embed.response import WSGIError
from tests.unit.recorder import ABORT, DONE


def calling(server, status, headers):
    """Run an app whose start_response(status, headers) must raise; it
    catches the error and answers 200 with the error's type name, so the
    error is proven to come from inside start_response."""

    def app(environ, start_response):
        try:
            start_response(status, headers)
        except Exception as exc:
            start_response("200 OK", [("X-Error", type(exc).__name__)])
            return [str(exc).encode("ascii", "backslashreplace")]
        return [b"accepted"]

    code, seen = server.run(server.add_app(app))
    assert code == DONE
    return seen


def rejected(server, status, headers, error=(TypeError, ValueError)):
    seen = calling(server, status, headers)
    assert seen.status == 200
    names = [
        e.__name__ for e in (error if isinstance(error, tuple) else (error,))
    ]
    assert seen.header("X-Error") and seen.header("X-Error")[0] in names, (
        seen.body
    )
    return seen.body.decode()


def accepted(server, status, headers):
    seen = calling(server, status, headers)
    assert seen.body == b"accepted", seen.body
    return seen


@pytest.mark.parametrize("status", [b"200 OK", 200, None, ("200", "OK")])
def test_status_must_be_str(server, status):
    assert "must be a str" in rejected(server, status, [], TypeError)


@pytest.mark.parametrize(
    "status",
    [
        "OK",
        "20 OK",
        "2000 OK",
        "200OK",
        "099 Low",
        "200 OK\r\n",
        "200 OK\n",
        "200 O\rK",
        "200 O\0K",
        "200 OK\x7f",
        "200 \x01OK",
        "200 \u20ac",
        " 200 OK",
        "200  \nX-Injected: 1",
    ],
)
def test_bad_status(server, status):
    assert "NNN Reason" in rejected(server, status, [], ValueError)


@pytest.mark.parametrize(
    "status",
    ["200 OK", "404 Not Found", "599 ", "200 caf\u00e9", "201 Tab\there"],
)
def test_good_status(server, status):
    seen = accepted(server, status, [])
    assert seen.status == int(status[:3])
    assert seen.status_line == status.encode("latin-1")


@pytest.mark.parametrize(
    "headers",
    [
        (("A", "b"),),
        {"A": "b"},
        None,
        "A: b",
    ],
)
def test_headers_must_be_a_list(server, headers):
    assert "must be a list" in rejected(server, "200 OK", headers, TypeError)


@pytest.mark.parametrize(
    "item", [["A", "b"], ("A",), ("A", "b", "c"), "A: b", None]
)
def test_header_must_be_a_pair_tuple(server, item):
    assert "tuple" in rejected(server, "200 OK", [item], TypeError)


@pytest.mark.parametrize("name", [b"X-A", 1, None, ["X-A"]])
def test_header_name_must_be_str(server, name):
    assert "must be a str" in rejected(
        server, "200 OK", [(name, "v")], TypeError
    )


@pytest.mark.parametrize("value", [b"v", 1, None, ["v"]])
def test_header_value_must_be_str(server, value):
    assert "must be a str" in rejected(
        server, "200 OK", [("X-A", value)], TypeError
    )


@pytest.mark.parametrize(
    "name",
    [
        "",
        "X A",
        "X:A",
        "X-A:",
        "X\rA",
        "X\nA",
        "X\0A",
        "caf\u00e9",
        "X(A)",
        "X\tA",
    ],
)
def test_bad_header_name(server, name):
    assert "not a valid header name" in rejected(
        server, "200 OK", [(name, "v")], ValueError
    )


@pytest.mark.parametrize(
    "value",
    ["a\rb", "a\nb", "a\r\nX-Injected: 1", "a\0b", "a\x01b", "a\x7fb", "\n"],
)
def test_control_characters_in_values(server, value):
    msg = rejected(
        server, "200 OK", [("X-Ok", "fine"), ("X-A", value)], ValueError
    )
    assert "X-A" in msg and "control character" in msg


def test_value_not_latin1(server):
    msg = rejected(server, "200 OK", [("X-A", "\u20ac")], ValueError)
    assert "not latin-1" in msg


@pytest.mark.parametrize(
    "name",
    [
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailers",
        "Transfer-Encoding",
        "Upgrade",
        "connection",
        "TRANSFER-ENCODING",
        "keep-alive",
    ],
)
def test_hop_by_hop_refused(server, name):
    msg = rejected(server, "200 OK", [(name, "x")], ValueError)
    assert "hop-by-hop" in msg


@pytest.mark.parametrize(
    "value", ["", "a\tb", "caf\u00e9", " spaced ", "x" * 8000]
)
def test_good_values_pass_unchanged(server, value):
    seen = accepted(server, "200 OK", [("X-A", value), ("x-lower", "1")])
    assert seen.header("X-A") == [value]
    assert (b"x-lower", b"1") in seen.headers


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", " 3", "\u0663"])
def test_bad_content_length(server, value):
    assert "Content-Length" in rejected(
        server, "200 OK", [("Content-Length", value)], ValueError
    )


def test_invalid_list_stays_invalid(server):
    """The cache of valid header lists never admits an invalid one."""
    bad = [("X-A", "a\nb")]
    for _ in range(3):
        rejected(server, "200 OK", bad, ValueError)


def test_repeated_headers_kept_in_order(server):
    headers = [("Set-Cookie", "a=1"), ("X-B", "2"), ("Set-Cookie", "b=2")]
    for _ in range(2):  # the second time from the cache
        seen = accepted(server, "200 OK", headers)
        assert seen.headers[:3] == [
            (b"Set-Cookie", b"a=1"),
            (b"X-B", b"2"),
            (b"Set-Cookie", b"b=2"),
        ]
        assert seen.nheaders == 4  # + Content-Length


def test_positional_only_and_returns_write(server):
    got = []

    def app(environ, start_response):
        with pytest.raises(TypeError):
            start_response(status="200 OK", response_headers=[])
        write = start_response("200 OK", [])
        got.append(write)
        write(b"written")
        return []

    code, seen = server.run(server.add_app(app))
    assert code == DONE and seen.body == b"written"
    assert callable(got[0])


def test_second_call_without_exc_info(server):
    def app(environ, start_response):
        start_response("200 OK", [])
        start_response("201 Created", [])
        return [b"never"]

    code, seen = server.run(server.add_app(app))
    assert code == DONE and seen.status == 500
    assert "second time" in seen.log_text()


def test_second_call_after_a_rejected_first(server):
    def app(environ, start_response):
        with pytest.raises(ValueError):
            start_response("200 OK", [("Connection", "close")])
        start_response("200 OK", [])
        return [b"fine"]

    code, seen = server.run(server.add_app(app))
    assert (code, seen.status, seen.body) == (DONE, 200, b"fine")


def test_exc_info_before_output_replaces(server):
    def app(environ, start_response):
        start_response("200 OK", [("X-First", "1")])
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            start_response(
                "503 Service Unavailable", [("X-Second", "1")], sys.exc_info()
            )
        return [b"sorry"]

    code, seen = server.run(server.add_app(app))
    assert code == DONE and seen.status == 503
    assert seen.header("X-First") == [] and seen.header("X-Second") == ["1"]
    assert seen.body == b"sorry"


def test_exc_info_first_call(server):
    """exc_info on the first call is allowed (nothing was sent)."""

    def app(environ, start_response):
        try:
            raise KeyError("k")
        except KeyError:
            start_response("500 Oops", [], sys.exc_info())
        return [b"x"]

    code, seen = server.run(server.add_app(app))
    assert (code, seen.status, seen.status_line) == (DONE, 500, b"500 Oops")


def test_exc_info_after_output_reraises(server):
    raised = []

    class AppError(Exception):
        pass

    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"first"
        try:
            raise AppError("late")
        except AppError:
            try:
                start_response("500 Error", [], sys.exc_info())
            except AppError as exc:
                raised.append(exc)
                raise
        yield b"never"

    code, seen = server.run(server.add_app(app))
    assert code == ABORT
    assert len(raised) == 1 and str(raised[0]) == "late"
    assert seen.body == b"first" and seen.status == 200
    assert "AppError: late" in seen.log_text()


def test_exc_info_reference_dropped(server):
    """The response keeps no reference to exc_info (PEP 3333: avoid the
    traceback/frame cycle)."""
    import gc
    import weakref

    class Marker(Exception):
        pass

    refs = []

    def app(environ, start_response):
        try:
            raise Marker()
        except Marker:
            info = sys.exc_info()
            refs.append(weakref.ref(info[1]))
            start_response("500 Error", [], info)
            del info
        return [b"x"]

    code, seen = server.run(server.add_app(app))
    gc.collect()
    assert code == DONE and refs[0]() is None


def test_write_rejects_non_bytes(server):
    def app(environ, start_response):
        write = start_response("200 OK", [])
        with pytest.raises(TypeError):
            write("text")
        with pytest.raises(TypeError):
            write(bytearray(b"x"))
        write(b"ok")
        return []

    code, seen = server.run(server.add_app(app))
    assert (code, seen.body) == (DONE, b"ok")


def test_write_past_content_length_raises(server):
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Length", "5")])
        write(b"abc")
        with pytest.raises(WSGIError, match="past the Content-Length"):
            write(b"def")
        write(b"de")
        return []

    code, seen = server.run(server.add_app(app))
    assert (code, seen.body) == (DONE, b"abcde")


@pytest.mark.parametrize(
    "status, line",
    [("200", b"200 OK"), ("404", b"404 Not Found"), ("299", b"299 Unknown")],
)
def test_bare_status_gets_the_standard_reason(server, status, line):
    def app(environ, start_response):
        start_response(status, [("Content-Type", "text/plain")])
        return [b"bare"]

    _, seen = server.run(server.add_app(app))
    assert seen.status_line == line
    assert seen.body == b"bare"


def test_bare_status_is_warned_once_per_app(server):
    def app(environ, start_response):
        start_response("201", [])
        return [b"x"]

    def other(environ, start_response):
        start_response("201", [])
        return [b"y"]

    first = server.add_app(app)
    second = server.add_app(other)
    logs = [server.run(a)[1] for a in (first, first, second)]
    warned = ["start_response('201')" in seen.log_text() for seen in logs]
    assert warned == [True, False, True]
    assert "sent as '201 Created'" in logs[0].log_text()


def test_wsgi_error_is_a_runtime_error(server):
    def app(environ, start_response):
        start_response("200 OK", [])
        try:
            start_response("200 OK", [])
        except RuntimeError as exc:
            return [type(exc).__name__.encode()]
        return [b"not raised"]

    assert server.run(server.add_app(app))[1].body == b"WSGIError"
