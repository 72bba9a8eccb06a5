"""Helpers of the Apache-specific tests: raw HTTP, and the children of the
parent.  The `apache` fixture (an Apache started per test with
tests/apps/apache_app.py, one child of the event MPM unless told),
`app_copy` and `gate` are tests/conftest.py's, shared with tests/nginx."""

import os
import socket

from tests import harness

APP = os.path.join(harness.APPS, "apache_app.py")


def children_of(running, count=1):
    """PIDs of the Apache parent's children, once `count` are there."""
    return harness.children(running, count)


fetch = harness.fetch
wait_until = harness.wait_until


def raw(running, data, timeout=15):
    """Send bytes, read until the server closes: (bytes, closed cleanly)."""
    with socket.create_connection(
        (running.host, running.port), timeout=timeout
    ) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                return b"".join(chunks), False
            if not part:
                return b"".join(chunks), True
            chunks.append(part)
