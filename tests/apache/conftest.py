"""Helpers of the Apache-specific tests: an Apache started per test with
tests/apps/apache_app.py, raw HTTP, and the children of the parent."""

import os
import shutil
import socket

import pytest

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


@pytest.fixture
def app_copy(tmp_path):
    """A copy of the test app that a test may rewrite."""
    path = tmp_path / "app.py"
    shutil.copy(APP, path)
    return path


@pytest.fixture
def apache(tmp_path):
    """start(mounts=None, **options) -> a running Apache; mounts default
    to the test app at /.  One child, event MPM, unless told."""
    started = []

    def start(mounts=None, **options):
        options.setdefault("workers", 1)
        options.setdefault("threads", 4)
        options.setdefault("mpm", "event")
        running = harness.start(
            "apache",
            mounts or {"/": APP},
            str(tmp_path / ("srv%d" % len(started))),
            **options,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()
