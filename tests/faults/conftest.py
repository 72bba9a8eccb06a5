"""Faults an app or a client causes, against a server started per test
(the test may take a worker down or hold it) on every server and mode:
nginx threads, nginx inline, Apache event."""

import os

import pytest

from tests import harness

APP = os.path.join(harness.APPS, "fault_app.py")

SERVERS = [
    ("nginx", {"mode": "threads"}),
    ("nginx", {"mode": "inline"}),
    ("apache", {"mpm": "event"}),
]
IDS = ["nginx-threads", "nginx-inline", "apache-event"]


@pytest.fixture
def start(tmp_path):
    """start(name, app=APP, **options) -> a running server, one worker,
    the app at /; killed after the test."""
    started = []

    def start(name, app=APP, **options):
        options.setdefault("workers", 1)
        running = harness.start(
            name,
            {"/": app},
            str(tmp_path / ("srv%d" % len(started))),
            **options,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()


@pytest.fixture
def marks(tmp_path):
    """A directory the server's workers may write their markers into."""
    path = tmp_path / "marks"
    path.mkdir()
    os.chmod(path, 0o777)
    return path
