"""wsgi.file_wrapper over HTTP (checklist item 24)."""

import os

import pytest

from tests.http.client import get, url

DATA = bytes(range(256)) * 800  # 200 KiB


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("files") / "data.bin"
    path.write_bytes(DATA)
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    return str(path)


@pytest.mark.not_cgi(
    "Apache's CGI drops a script's Content-Length and frames the body itself"
)
@pytest.mark.smoke
def test_real_file(target, data_file):
    resp = get(target, url("/app/file_wrapper", path=data_file))
    assert resp.status == 200
    assert resp.header("Content-Length") == str(len(DATA))
    assert resp.body == DATA


@pytest.mark.not_cgi(
    "Apache's CGI drops a script's Content-Length and frames the body itself"
)
def test_starts_at_the_current_position(target, data_file):
    resp = get(target, url("/app/file_wrapper", path=data_file, seek=1000))
    assert resp.body == DATA[1000:]
    assert resp.header("Content-Length") == str(len(DATA) - 1000)


def test_respects_the_apps_content_length(target, data_file):
    resp = get(
        target, url("/app/file_wrapper", path=data_file, seek=10, length=300)
    )
    assert resp.body == DATA[10:310]
    assert resp.complete


def test_without_fileno_bytesio(target):
    resp = get(
        target, url("/app/bytesio_wrapper", size=5000, seek=100, blksize=333)
    )
    expected = (bytes(range(256)) * 20)[:5000][100:]
    assert resp.status == 200
    assert resp.body == expected
