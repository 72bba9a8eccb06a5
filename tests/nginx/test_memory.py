"""Big bodies both ways stay out of the worker's memory: the request body
goes to nginx's temp file, a streamed response waits for a slow client
(backpressure) instead of piling up, in threads and in inline mode."""

import socket
import time

import pytest

from tests import harness
from tests.nginx.conftest import status_kb, workers_of

MB = 1 << 20


def peak_growth_kb(srv, action):
    """Growth of the worker's peak RSS (VmHWM) over what it had after a
    warm-up request, across action()."""
    (worker,) = workers_of(srv)
    with socket.create_connection((srv.host, srv.port)) as s:
        s.sendall(
            b"GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        )
        s.recv(4096)
    before = status_kb(worker, "VmHWM")
    action()
    return status_kb(worker, "VmHWM") - before


def test_upload_200mb(nginx):
    srv = nginx()
    size = 200 * MB
    answer = []

    def upload():
        with socket.create_connection((srv.host, srv.port), timeout=120) as s:
            s.sendall(
                b"POST /sink HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n" % size
            )
            block = b"u" * MB
            for _ in range(size // MB):
                s.sendall(block)
            answer.append(harness.read_to_close(s))

    growth = peak_growth_kb(srv, upload)
    assert answer[0].endswith(b"\r\n\r\n%d" % size), answer[0][-200:]
    assert growth < 32 * 1024, "worker peak RSS grew %d KiB" % growth


@pytest.mark.parametrize("mode", ["threads", "inline"])
def test_download_1gb_to_a_slow_reader(nginx, mode):
    srv = nginx(mode=mode)
    size = 1 << 30
    received = []

    def download():
        with socket.create_connection((srv.host, srv.port), timeout=120) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(
                b"GET /download?size=%d HTTP/1.1\r\nHost: h\r\n"
                b"Connection: close\r\n\r\n" % size
            )
            time.sleep(1.0)  # the app could fill memory meanwhile
            total = 0
            slow_until = time.monotonic() + 1.0
            while True:
                data = s.recv(1 << 20)
                if not data:
                    break
                total += len(data)
                if time.monotonic() < slow_until:
                    time.sleep(0.01)  # a slow start, then as fast as we can
            received.append(total)

    growth = peak_growth_kb(srv, download)
    header_bytes = received[0] - size
    assert 0 < header_bytes < 1024, received
    assert growth < 32 * 1024, "worker peak RSS grew %d KiB" % growth


@pytest.mark.parametrize("mode", ["threads", "inline"])
def test_400_chunks_of_1mb_to_a_fast_reader(nginx, mode):
    # each chunk is freed once sent: inline mode used to keep them all in
    # r->pool until the response ended (426 MB for this one)
    srv = nginx(mode=mode)
    size = 400 * MB
    received = []

    def download():
        with socket.create_connection((srv.host, srv.port), timeout=120) as s:
            s.sendall(
                b"GET /download?size=%d&block=%d HTTP/1.1\r\nHost: h\r\n"
                b"Connection: close\r\n\r\n" % (size, MB)
            )
            total = 0
            while True:
                data = s.recv(1 << 20)
                if not data:
                    break
                total += len(data)
            received.append(total)

    growth = peak_growth_kb(srv, download)
    header_bytes = received[0] - size
    assert 0 < header_bytes < 1024, received
    assert growth < 32 * 1024, "worker peak RSS grew %d KiB" % growth
