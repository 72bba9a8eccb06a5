"""A large upload to an app that never reads it is answered without the
server storing it: `serve`'s config limits request bodies (--max-body,
1 GiB by default, Apache's own default), and a Content-Length above the
limit is answered 413 before the body is read.  nginx reads a body below
the limit in full before the app runs (threads mode needs it so), into
temp files under the limit."""

import os
import socket
import threading

import pytest

from tests.faults.conftest import IDS, SERVERS

GIB = 1 << 30
SENT_AT_MOST = 16 << 20  # what the client sends of its "2 GiB" body


class TempWatch(threading.Thread):
    """The peak of the bytes in a server's temp directory, polled until
    stopped (nginx deletes a body's temp file with its request)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.peak = 0
        self.done = threading.Event()

    def size(self):
        total = 0
        for root, _, files in os.walk(self.path):
            for name in files:
                try:
                    total += os.stat(os.path.join(root, name)).st_size
                except FileNotFoundError:
                    pass
        return total

    def run(self):
        while not self.done.wait(0.005):
            self.peak = max(self.peak, self.size())

    def stop(self):
        self.done.set()
        self.join(10)
        return max(self.peak, self.size())


def upload(running, head, body_pieces):
    """Send head, then body pieces from a thread while reading the answer:
    the status line, or None if nothing came within the timeout."""
    sock = socket.create_connection((running.host, running.port), timeout=15)

    def send():
        try:
            sock.sendall(head)
            for piece in body_pieces:
                sock.sendall(piece)
        except OSError:
            pass  # the server answered and closed: what we want

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        data = b""
        while b"\r\n" not in data:
            more = sock.recv(65536)
            if not more:
                break
            data += more
        return data.split(b"\r\n", 1)[0].decode("latin-1") or None
    except socket.timeout:
        return None
    finally:
        sock.close()
        sender.join(15)


def pieces(total, size=1 << 20):
    block = b"u" * size
    for _ in range(total // size):
        yield block


def temp_dir(running):
    return os.path.join(running.workdir, "temp")


@pytest.mark.parametrize("name, options", SERVERS, ids=IDS)
def test_an_unread_2gib_upload_is_refused_before_it_is_stored(
    start, name, options
):
    running = start(name, **options)
    watch = TempWatch(temp_dir(running))
    watch.start()
    head = (
        b"POST /unread HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n"
        % (2 * GIB)
    )
    status = upload(running, head, pieces(SENT_AT_MOST))
    peak = watch.stop()
    assert status is not None and " 413 " in status + " ", status
    assert peak < (1 << 20), "%d bytes in the temp dir" % peak


def chunked(total, size=1 << 16):
    block = b"c" * size
    for _ in range(total // size):
        yield b"%x\r\n%s\r\n" % (size, block)
    yield b"0\r\n\r\n"


@pytest.mark.parametrize("name, options", SERVERS, ids=IDS)
def test_a_chunked_upload_past_max_body_is_refused(start, name, options):
    limit = 1 << 20
    running = start(name, max_body=limit, **options)
    watch = TempWatch(temp_dir(running))
    watch.start()
    head = (
        b"POST /unread HTTP/1.1\r\nHost: h\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    status = upload(running, head, chunked(4 * limit))
    peak = watch.stop()
    assert status is not None, "no answer"
    if name == "nginx":
        assert " 413 " in status + " ", status
    # Apache calls the app before it reads the body: this app answers at
    # once, then Apache discards the body, up to the limit
    assert peak <= limit + (64 << 10), "%d bytes in the temp dir" % peak
