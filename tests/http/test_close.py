"""The iterable's close() (checklist items 21, 23)."""

import os
import uuid

import pytest

from tests import harness
from tests.http.client import build, connect, get, url


@pytest.fixture
def marks(tmp_path):
    os.chmod(tmp_path, 0o777)  # the server's workers write there

    def read(ident, timeout=10.0):
        """The marks of the iterable once the server has let go of it
        (its "gone" mark): a second close() could only come before."""
        path = tmp_path / ident

        def lines():
            return path.read_text().split() if path.exists() else []

        assert harness.wait_until(lambda: "gone" in lines(), timeout), (
            "the server never let go of the iterable: %s" % lines()
        )
        return lines()

    read.dir = str(tmp_path)
    return read


def close_count(lines):
    return lines.count("close")


@pytest.mark.smoke
def test_close_once_on_success(target, marks):  # 21
    ident = uuid.uuid4().hex
    resp = get(target, url("/app/close", dir=marks.dir, id=ident, kind="ok"))
    assert resp.body == b"one two"
    assert close_count(marks(ident)) == 1


@pytest.mark.not_cgi(
    'a CGI cannot drop the connection: the host ends the body it framed'
)
def test_close_once_when_iteration_raises(target, marks):  # 21
    ident = uuid.uuid4().hex
    resp = get(
        target, url("/app/close", dir=marks.dir, id=ident, kind="raise")
    )
    assert not resp.complete
    assert close_count(marks(ident)) == 1


def test_close_once_when_the_client_disconnects(target, marks):  # 21
    ident = uuid.uuid4().hex
    path = url("/app/close", dir=marks.dir, id=ident, kind="slow")
    with connect(target) as sock:
        sock.sendall(build(target, "GET", path))
        sock.recv(65536)  # the response began
    lines = marks(ident, timeout=30)
    assert close_count(lines) == 1, lines
    # the iterator stopped long before its 2000 chunks
    assert len([line for line in lines if line == "yield"]) < 2000
    assert get(target, "/app/one").status == 200
