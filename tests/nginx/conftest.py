"""Helpers of the nginx-specific tests: an nginx started per test with the
nginx test app, and its worker processes."""

import os
import shutil

import pytest

from tests import harness

APP = os.path.join(harness.APPS, "nginx_app.py")


def workers_of(running, count=1):
    """PIDs of the master's worker processes, once `count` are there."""
    return harness.children(running, count)


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


fetch = harness.fetch
wait_until = harness.wait_until


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
        running = harness.start(
            "nginx",
            {"/": str(app)},
            str(tmp_path / ("srv%d" % len(started))),
            **options,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()
