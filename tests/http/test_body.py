"""The response body over HTTP (checklist items 16, 19, 20, 22, 26)."""

import pytest

from tests.http.client import get, request, timed_chunks, wait_for_log


@pytest.mark.not_cgi(
    "Apache's CGI drops a script's Content-Length and frames the body itself"
)
@pytest.mark.smoke
def test_one_item_list_gets_a_content_length(target):  # 22
    resp = get(target, "/app/one")
    assert resp.header("Content-Length") == str(len(b"exactly-one"))
    assert resp.header("Transfer-Encoding") is None
    assert resp.body == b"exactly-one"


def test_empty_body(target):  # 16: headers at the end of an empty iterable
    resp = get(target, "/app/empty")
    assert resp.status == 200
    assert resp.body == b""
    assert resp.complete


def test_no_length_is_chunked_on_http11(target):  # 22
    resp = get(target, "/app/generator_no_length")
    assert resp.header("Transfer-Encoding") == "chunked"
    assert resp.body == b"gen-1 gen-2"


def test_no_length_on_http10_closes(target):  # 22
    from tests.http.client import send_raw

    resp = send_raw(
        target, b"GET /app/generator_no_length HTTP/1.0\r\nHost: h\r\n\r\n"
    )
    assert resp.header("Transfer-Encoding") is None
    assert resp.body == b"gen-1 gen-2"


def test_yield_empty_then_raise_gives_500(target):  # 16
    resp = get(target, "/app/yield_empty_then_raise")
    assert resp.status == 500
    assert resp.complete


def test_str_chunk_is_an_error(target):  # 19
    resp = get(target, "/app/str_chunk")
    assert resp.status == 500
    assert "yielded str" in wait_for_log(target, "yielded str")


def test_no_start_response_is_an_error(target):
    resp = get(target, "/app/no_start_response")
    assert resp.status == 500
    assert "calling start_response()" in wait_for_log(
        target, "calling start_response()"
    )


def test_write_data_goes_before_iterable_data(target):  # 20
    assert (
        get(target, "/app/write").body
        == b"written-1 written-2 iterable-1 iterable-2"
    )


def test_bytes_pass_unchanged(target):  # 19
    resp = get(target, "/app/big?size=300000")
    assert resp.body == b"z" * 300000


@pytest.mark.smoke
def test_streaming_chunks_arrive_before_the_next_is_made(target):  # 19
    resp, pieces = timed_chunks(target, "/app/stream?n=4&delay=0.4")
    assert resp.status == 200
    body = b"".join(p for _, p in pieces)
    assert body.count(b"chunk ") == 4
    # the first chunk reaches us long before the last one is produced
    first_at = pieces[0][0]
    last_at = pieces[-1][0]
    assert last_at - first_at >= 0.9, [
        round(t - first_at, 2) for t, _ in pieces
    ]
    assert pieces[0][1].startswith(b"chunk 0")


@pytest.mark.not_cgi(
    "Apache's CGI drops a script's Content-Length and frames the body itself"
)
def test_content_length_long_never_sends_more(target):  # 22
    resp = get(target, "/app/content_length?declared=5&sent=20")
    assert resp.header("Content-Length") == "5"
    assert resp.body == b"aaaaa"
    assert resp.complete


def test_content_length_long_one_chunk(target):  # 22
    resp = get(target, "/app/content_length?declared=5&sent=20&one=1")
    assert resp.body == b"xxxxx"


@pytest.mark.not_cgi(
    'a CGI cannot drop the connection: the host ends the body it framed'
)
def test_content_length_short_drops_the_connection(target):  # 22
    resp = get(target, "/app/content_length?declared=100&sent=10")
    assert resp.header("Content-Length") == "100"
    assert not resp.complete
    assert len(resp.body) == 10
    assert "fewer than its Content-Length" in wait_for_log(
        target, "fewer than its Content-Length"
    )


@pytest.mark.not_cgi(
    'a CGI cannot drop the connection: the host ends the body it framed'
)
def test_content_length_short_one_chunk_drops_the_connection(target):  # 22
    # a whole body in one call can look complete to a server that counts
    # what it was given: it must not
    resp = get(target, "/app/content_length?declared=100&sent=10&one=1")
    assert resp.header("Content-Length") == "100"
    assert not resp.complete
    assert resp.body == b"x" * 10


def test_write_past_content_length_raises(target):  # 22
    resp = get(target, "/app/write_past_length")
    assert resp.body == b"ok:WS"


@pytest.mark.not_cgi(
    "Apache's CGI drops a script's Content-Length and frames the body itself"
)
def test_head_has_headers_and_no_body(target):
    resp = request(target, "HEAD", "/app/one")
    assert resp.status == 200
    assert resp.header("Content-Length") == str(len(b"exactly-one"))
    assert resp.body == b""
    resp = request(target, "HEAD", "/app/stream?n=3&delay=0.05")
    assert resp.status == 200 and resp.body == b""


def test_concurrent_requests_all_answered(target):  # 26: whatever the model
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda i: get(target, "/app/one").body, range(40))
        )
    assert results == [b"exactly-one"] * 40
