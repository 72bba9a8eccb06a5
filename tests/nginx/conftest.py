"""Helpers of the nginx-specific tests: an nginx started per test with the
nginx test app, and its worker processes."""

import os
import shutil
import time
import urllib.request

import pytest

from tests import harness

APP = os.path.join(harness.APPS, "nginx_app.py")


def workers_of(running):
    """PIDs of the master's worker processes."""
    pids = []
    task_dir = "/proc/%d/task" % running.proc.pid
    for task in os.listdir(task_dir):
        with open(os.path.join(task_dir, task, "children")) as f:
            pids += [int(p) for p in f.read().split()]
    return pids


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def fetch(url, timeout=30, data=None):
    with urllib.request.urlopen(url, data=data, timeout=timeout) as resp:
        return resp.status, resp.read()


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def app_copy(tmp_path):
    """A copy of the nginx test app that a test may rewrite."""
    path = tmp_path / "app.py"
    shutil.copy(APP, path)
    return path


@pytest.fixture
def nginx(tmp_path):
    """start(**options) -> a running nginx serving the test app at /."""
    started = []

    def start(app=APP, **options):
        options.setdefault("workers", 1)
        running = harness.start("nginx", {"/": str(app)}, str(tmp_path / ("srv%d" % len(started))),
                                **options)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()
