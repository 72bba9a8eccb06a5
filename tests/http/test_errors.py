"""wsgi.errors and app errors in the server's error log (checklist 13, 25),
and a server that keeps serving after them."""

import uuid

import pytest

from tests.http.client import get, url, wait_for_log


def marker():
    return uuid.uuid4().hex[:12]


@pytest.mark.smoke
def test_wsgi_errors_goes_to_the_error_log(target):  # 13
    m = marker()
    resp = get(target, url("/app/errors", msg=m))
    assert resp.status == 200 and resp.body == b"logged"
    log = wait_for_log(target, "errors-lines %s b" % m)
    assert "errors-write %s" % m in log
    assert "errors-lines %s a" % m in log
    assert "errors-lines %s b" % m in log


def test_stdout_goes_to_the_error_log(target):
    m = marker()
    get(target, url("/app/errors", msg=m))
    assert "stdout-print %s" % m in wait_for_log(target, "stdout-print %s" % m)


def test_any_unicode_is_accepted(target):  # 13: the snowman and emoji lines
    m = marker()
    assert get(target, url("/app/errors", msg=m)).status == 200
    log = wait_for_log(target, "errors-write %s" % m)
    line = [
        line for line in log.splitlines() if "errors-write %s" % m in line
    ][0]
    # nginx writes the UTF-8 as it is; Apache escapes bytes past ASCII
    assert "\u2603" in line or "\\xe2\\x98\\x83" in line


@pytest.mark.smoke
def test_exception_before_output_is_500_with_traceback(target):  # 25
    m = marker()
    resp = get(target, url("/app/raise_before", marker=m))
    assert resp.status == 500
    assert resp.complete
    log = wait_for_log(target, "raise-before marker %s" % m)
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: raise-before marker %s" % m in log
    assert "pep3333_app.py" in log
    assert get(target, "/app/one").body == b"exactly-one"


@pytest.mark.not_cgi(
    'a CGI cannot drop the connection: the host ends the body it framed'
)
def test_exception_after_output_aborts_the_connection(target):  # 25
    resp = get(target, "/app/raise_after")
    assert resp.status == 200
    assert not resp.complete, "a failed response must not look complete"
    assert resp.body.startswith(b"first part")
    assert "raise-after marker" in wait_for_log(target, "raise-after marker")
    assert get(target, "/app/one").status == 200


def test_many_errors_do_not_break_the_server(target):
    for _ in range(20):
        assert get(target, "/app/raise_before").status == 500
    assert get(target, "/app/one").body == b"exactly-one"
