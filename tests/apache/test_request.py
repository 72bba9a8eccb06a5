"""Requests through mod_pywsgi where Apache's own machinery matters: the
input filters (chunked, 100-continue), streaming through brigades,
file_wrapper as a file bucket, aborted responses, the error log, the
Authorization header, SetEnv/PyWSGIEnv and virtual hosts."""

import http.client
import os
import socket
import time
import uuid

import pytest

from tests import harness
from tests.apache.conftest import APP, children_of, fetch, raw, wait_until

# Debian's modules directory, for the stock modules a test loads
MODULES = "/usr/lib/apache2/modules"


def marker():
    return uuid.uuid4().hex[:12]


def head_and_body(data):
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


# -- errors -------------------------------------------------------------------


def test_app_error_is_500_with_the_traceback_in_the_error_log(apache):
    srv = apache()
    m = marker()
    status, body = fetch(srv.url("/raise?marker=" + m))
    assert status == 500 and body == b"500 Internal Server Error"
    assert wait_until(
        lambda: "ValueError: raise-marker %s" % m in srv.error_log(), 5
    )
    lines = [
        line
        for line in srv.error_log().splitlines()
        if "[pywsgi:error]" in line
    ]
    text = "\n".join(lines)
    assert "Traceback (most recent call last)" in text
    assert "apache_app.py" in text and "in route_raise" in text
    # logged against the request: Apache adds the client
    assert all(
        "[client 127.0.0.1:" in line
        for line in lines
        if "raise-marker" in line
    )


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_abort_mid_stream_chunked_is_truncated(apache, mpm):
    srv = apache(mpm=mpm)
    m = marker()
    data, _ = raw(
        srv,
        b"GET /abort?size=3000&marker=%s HTTP/1.1\r\nHost: h\r\n\r\n"
        % m.encode(),
    )
    head, body = head_and_body(data)
    assert head.startswith("HTTP/1.1 200 OK")
    assert "transfer-encoding: chunked" in head.lower()
    assert b"x" * 3000 in body
    assert not body.endswith(b"0\r\n\r\n"), "a failed response looks complete"
    # the connection was closed although the request asked for keep-alive
    assert wait_until(lambda: "abort-marker %s" % m in srv.error_log(), 5)
    assert fetch(srv.url("/version")) == (200, b"v1")


def test_abort_mid_stream_with_content_length_is_short(apache):
    srv = apache()
    data, _ = raw(
        srv, b"GET /abort?size=100&length=5000 HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    head, body = head_and_body(data)
    assert "content-length: 5000" in head.lower()
    assert body == b"x" * 100  # then the connection closed


def test_content_length_in_capitals_is_the_declared_length(apache):
    # the module takes the app's Content-Type and Content-Length whatever
    # their case (Apache's filters then know the type and the length):
    # Apache writes them in its own spelling, not the app's
    srv = apache()
    data, _ = raw(
        srv, b"GET /declared?size=10&length=100 HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    head, body = head_and_body(data)
    assert "\r\nContent-Length: 100\r\n" in head + "\r\n"
    assert "\r\nContent-Type: text/plain\r\n" in head + "\r\n"
    assert "CONTENT-" not in head
    assert body == b"x" * 10  # short: then the connection closed


def test_abort_through_http_client_is_incomplete(apache):
    srv = apache()
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    conn.request("GET", "/abort?size=500")
    resp = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()


# -- the request body ---------------------------------------------------------


def chunked(body, step):
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step])
        for i in range(0, len(body), step)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_chunked_upload(apache, mpm):
    srv = apache(mpm=mpm)
    body = os.urandom(300000)
    data, _ = raw(
        srv,
        b"POST /echo?n=7000 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, 4093),
    )
    head, got = head_and_body(data)
    assert head.startswith("HTTP/1.1 200")
    assert "x-content-length: absent" in head.lower()  # no CONTENT_LENGTH
    assert got == body


def test_expect_100_continue_is_answered_on_first_read(apache):
    srv = apache()
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        interim = sock.recv(4096)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
        sock.sendall(b"hello")
        data = harness.read_to_close(sock)
    head, body = head_and_body(data)
    assert head.startswith("HTTP/1.1 200") and body == b"hello"


def test_body_with_content_length_in_small_reads(apache):
    srv = apache()
    body = os.urandom(100000)
    status, got = fetch(srv.url("/echo?n=13"), data=body)
    assert status == 200 and got == body


# -- the response -------------------------------------------------------------


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_streaming_response_arrives_in_pieces(apache, mpm):
    srv = apache(mpm=mpm)
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    conn.request("GET", "/stream?n=4&delay=0.4")
    resp = conn.getresponse()
    assert resp.status == 200
    arrivals = []
    while True:
        data = resp.read1(65536)
        if not data:
            break
        arrivals.append((time.monotonic(), data))
    conn.close()
    assert b"".join(d for _, d in arrivals) == b"".join(
        b"chunk %d\n" % i for i in range(4)
    )
    # each chunk went out before the app produced the next (FLUSH per
    # chunk): the first arrived well before the last
    assert len(arrivals) >= 4
    assert arrivals[-1][0] - arrivals[0][0] > 0.8


def io_counts(pid):
    """(bytes read, read calls) of a process: sendfile() counts as one read
    call of all its bytes."""
    with open("/proc/%d/io" % pid) as f:
        io = dict(line.split(": ") for line in f.read().splitlines())
    return int(io["rchar"]), int(io["syscr"])


def test_file_wrapper_is_a_file_bucket_sent_with_sendfile(apache, tmp_path):
    srv = apache()
    content = os.urandom(4 << 20)
    path = tmp_path / "blob.bin"
    path.write_bytes(content)
    os.chmod(tmp_path, 0o755)
    (child,) = children_of(srv)
    assert fetch(srv.url("/version"))[0] == 200
    rchar, syscr = io_counts(child)
    status, body = fetch(srv.url("/file?path=%s" % path))
    assert status == 200 and body == content
    # Linux counts a sendfile() as one read call of all its bytes.  The
    # whole file read in a few calls is sendfile: Python iterating the file
    # would take 512 reads of 8 KiB, and Apache reading the file bucket
    # itself would mmap it (no read at all)
    rchar2, syscr2 = io_counts(child)
    assert rchar2 - rchar >= len(content)
    assert syscr2 - syscr < 50, syscr2 - syscr
    status, body = fetch(srv.url("/file?path=%s&seek=1000" % path))
    assert status == 200 and body == content[1000:]


# -- Authorization ------------------------------------------------------------

AUTH = {"Authorization": "Basic dXNlcjpwYXNz"}
AUTH_KEYS = "/env?k1=HTTP_AUTHORIZATION&k2=REMOTE_USER"


def test_authorization_hidden_by_default(apache):
    srv = apache()
    status, body = fetch(srv.url(AUTH_KEYS), headers=AUTH)
    assert status == 200
    assert body == b"HTTP_AUTHORIZATION=<absent>\nREMOTE_USER=<absent>"


def test_authorization_passed_with_the_directive(apache):
    srv = apache(extra_config="PyWSGIPassAuthorization On")
    status, body = fetch(srv.url(AUTH_KEYS), headers=AUTH)
    assert body.split(b"\n")[0] == b"HTTP_AUTHORIZATION=Basic dXNlcjpwYXNz"


def test_authorization_passed_in_one_location_only(apache):
    srv = apache(
        {"/": APP, "/open": APP},
        extra_config="<Location /open>\n"
        "    PyWSGIPassAuthorization On\n</Location>",
    )
    assert fetch(srv.url("/open" + AUTH_KEYS), headers=AUTH)[1].startswith(
        b"HTTP_AUTHORIZATION=Basic"
    )
    assert fetch(srv.url(AUTH_KEYS), headers=AUTH)[1].startswith(
        b"HTTP_AUTHORIZATION=<absent>"
    )


# -- environ from the config --------------------------------------------------


def test_pywsgi_env_and_setenv_reach_the_environ(apache):
    srv = apache(
        environ={"DEPLOY_STAGE": "test stage"},
        extra_config='LoadModule env_module %s/mod_env.so\n'
        'SetEnv FROM_SETENV yes\nSetEnv REQUEST_METHOD forged' % MODULES,
    )
    status, body = fetch(
        srv.url("/env?k1=DEPLOY_STAGE&k2=FROM_SETENV&k3=REQUEST_METHOD")
    )
    assert body.decode().split("\n") == [
        "DEPLOY_STAGE=test stage",
        "FROM_SETENV=yes",
        "REQUEST_METHOD=GET",
    ]


def test_virtual_hosts_have_their_own_mounts_and_env(apache, tmp_path):
    vhosts = "\n".join(
        "<VirtualHost *>\n    ServerName %s.example\n    PyWSGIApp /%s %s\n"
        "    PyWSGIEnv VHOST %s\n</VirtualHost>" % (name, name, APP, name)
        for name in ("a", "b")
    )
    srv = apache(extra_config=vhosts)

    def env(host, path):
        return (
            fetch(
                srv.url(path + "/env?k1=SCRIPT_NAME&k2=VHOST"),
                headers={"Host": host},
            )[1]
            .decode()
            .split("\n")
        )

    assert env("a.example", "/a") == ["SCRIPT_NAME=/a", "VHOST=a"]
    assert env("b.example", "/b") == ["SCRIPT_NAME=/b", "VHOST=b"]
    # b does not mount /a: the main server's app at / takes it
    assert env("b.example", "/a") == ["SCRIPT_NAME=", "VHOST=b"]


def test_longest_prefix_wins_and_prefix_is_a_path_segment(apache):
    srv = apache({"/": APP, "/app": APP, "/app/deeper": APP})

    def script_name(path):
        return (
            fetch(srv.url(path + "?k1=SCRIPT_NAME&k2=PATH_INFO"))[1]
            .decode()
            .split("\n")
        )

    assert script_name("/app/deeper/env") == [
        "SCRIPT_NAME=/app/deeper",
        "PATH_INFO=/env",
    ]
    assert script_name("/app/env") == ["SCRIPT_NAME=/app", "PATH_INFO=/env"]
    assert script_name("/application/env") == [
        "SCRIPT_NAME=",
        "PATH_INFO=/application/env",
    ]


def test_an_alias_under_a_mount_serves_static_files(apache, tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "style.css").write_text("body {}\n")
    srv = apache(
        extra_config="LoadModule alias_module %s/mod_alias.so\n"
        "Alias /static %s" % (MODULES, static)
    )
    status, body = fetch(srv.url("/static/style.css"))
    assert (status, body) == (200, b"body {}\n")
    assert fetch(srv.url("/version")) == (200, b"v1")  # the app at /


PEP3333_APP = os.path.join(os.path.dirname(APP), "pep3333_app.py")


@pytest.mark.parametrize("sent", [50, 200000], ids=["small", "large"])
def test_one_chunk_shorter_than_its_content_length_stays_short(apache, sent):
    # Apache's content length filter would rewrite Content-Length to the
    # bytes it saw if the body went with EOS, making a cut response look
    # complete
    srv = apache({"/": PEP3333_APP})
    declared = sent * 2
    data, _ = raw(
        srv,
        b"GET /content_length?declared=%d&sent=%d&one=1 HTTP/1.1\r\n"
        b"Host: h\r\n\r\n" % (declared, sent),
    )
    head, body = head_and_body(data)
    assert "content-length: %d" % declared in head.lower()
    assert len(body) == sent  # then the connection closed


def test_head_keeps_the_declared_content_length(apache):
    srv = apache({"/": PEP3333_APP})
    data, _ = raw(
        srv,
        b"HEAD /content_length?declared=100&sent=100&one=1 HTTP/1.1\r\n"
        b"Host: h\r\nConnection: close\r\n\r\n",
    )
    head, body = head_and_body(data)
    assert (
        head.startswith("HTTP/1.1 200")
        and "content-length: 100" in head.lower()
    )
    assert body == b""
