"""Helpers of the Apache-specific tests: an Apache started per test with
tests/apps/apache_app.py, raw HTTP, and the children of the parent."""

import os
import shutil
import socket
import time
import urllib.request

import pytest

from tests import harness

APP = os.path.join(harness.APPS, "apache_app.py")


def children_of(running):
    """PIDs of the Apache parent's child processes."""
    pids = []
    task_dir = "/proc/%d/task" % running.proc.pid
    for task in os.listdir(task_dir):
        with open(os.path.join(task_dir, task, "children")) as f:
            pids += [int(p) for p in f.read().split()]
    return pids


def fetch(url, timeout=30, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def raw(running, data, timeout=15):
    """Send bytes, read until the server closes: (bytes, closed cleanly)."""
    with socket.create_connection((running.host, running.port), timeout=timeout) as sock:
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


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


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
        running = harness.start("apache", mounts or {"/": APP},
                                str(tmp_path / ("srv%d" % len(started))), **options)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()
