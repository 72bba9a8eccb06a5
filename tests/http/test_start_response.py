"""start_response over HTTP (checklist items 14, 15, 17, 18)."""

import pytest

from tests.apps.pep3333_app import BAD_HEADERS, BAD_STATUS
from tests.http.client import get, url, wait_for_log

BAD_KINDS = sorted(BAD_HEADERS) + ["status_" + k for k in sorted(BAD_STATUS)]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_status_or_headers_rejected_inside_start_response(
    target, kind
):  # 14, 18
    resp = get(target, url("/app/bad_header", kind=kind, catch=1))
    assert resp.status == 200
    assert resp.body.startswith(b"raised "), resp


@pytest.mark.parametrize(
    "kind",
    [
        "crlf",
        "nul",
        "name_space",
        "hop_connection",
        "hop_mixed_case",
        "not_latin1",
    ],
)
def test_bad_headers_uncaught_give_500(target, kind):  # 14, 18, 25
    resp = get(target, url("/app/bad_header", kind=kind))
    assert resp.status == 500
    assert resp.header("Injected") is None
    assert "start_response()" in wait_for_log(target, "start_response()")


@pytest.mark.not_cgi(
    "one process per request: the warning once per app comes each time"
)
def test_bare_status_is_sent_with_its_reason_and_warned_once(target):
    # gunicorn and NGINX Unit accept "202"; PEP 3333 asks for a reason
    for _ in range(2):
        resp = get(target, url("/app/status", status="202"))
        assert (resp.status, resp.reason) == (202, "Accepted")
        assert resp.body == b"status 202"
    marker = "after-bare-status-%s" % target.mode
    get(target, url("/app/errors", msg=marker))  # logged after the two
    log = wait_for_log(target, marker)
    assert log.count("start_response('202')") == 1, log


def test_start_response_returns_write_and_takes_positionals(target):  # 14
    resp = get(target, "/app/write")
    assert resp.status == 200
    assert resp.body == b"written-1 written-2 iterable-1 iterable-2"


def test_second_call_without_exc_info_is_an_error(target):  # 15
    resp = get(target, "/app/second_start_response")
    assert resp.body == b"raised WSGIError"


@pytest.mark.smoke
def test_exc_info_before_output_replaces_status_and_headers(target):  # 15
    resp = get(target, "/app/exc_info_before")
    assert resp.status == 503
    assert resp.reason == "Replaced"
    assert resp.header("X-Second") == "1"
    assert resp.header("X-First") is None
    assert resp.body == b"replaced body"


@pytest.mark.not_cgi(
    'a CGI cannot drop the connection: the host ends the body it framed'
)
def test_exc_info_after_output_reraises(target):  # 15
    resp = get(target, "/app/exc_info_after")
    assert resp.status == 200
    assert resp.body.startswith(b"first part")
    assert b"never sent" not in resp.body
    assert not resp.complete
    assert "too late" in wait_for_log(target, "ValueError: too late")


def test_start_response_during_first_next(target):  # 17
    resp = get(target, "/app/start_in_iter")
    assert resp.status == 200
    assert resp.header("X-Late") == "yes"
    assert resp.body == b"late start"


@pytest.mark.parametrize(
    "status",
    [
        "200 OK",
        "299 Custom Reason",
        "418 I'm a teapot",
        "404 Not Here",
        "503 Busy",
    ],
)
def test_status_and_reason_phrase_kept(target, status):
    resp = get(target, url("/app/status", status=status))
    assert resp.status == int(status[:3])
    assert resp.reason == status[4:]


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_bodyless_statuses(target, status):
    resp = get(target, url("/app/status", status=status))
    assert resp.status == int(status[:3])
    assert resp.body == b""
    assert resp.complete


def test_server_adds_date_and_server(target):  # 18
    resp = get(target, "/app/one")
    assert resp.header("Date")
    assert resp.header("Server")
    assert len(resp.header_all("Date")) == 1


def test_repeated_and_latin1_response_headers(target):
    resp = get(target, "/app/headers_many")
    assert resp.header_all("Set-Cookie") == ["a=1", "b=2"]
    assert resp.header("X-Latin1") == "caf\xe9"


@pytest.mark.parametrize("declared", ["99999999999999999999999", str(2**63)])
def test_out_of_range_content_length_is_refused(target, declared):
    # before anything is sent: a 500, complete, not a response whose end
    # the server cannot know
    resp = get(
        target, url("/app/content_length", declared=declared, sent=5, one=1)
    )
    assert resp.status == 500 and resp.complete, resp
    assert "out of range" in target.error_log()
