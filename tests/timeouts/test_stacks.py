"""The stacks dump over real HTTP: SIGURG to a worker logs the request
line, age and Python stack of every request it runs, and serving goes on
(nginx threads and inline, Apache prefork).  Apache's threaded MPMs
(event, worker) take every signal of a child in its main thread with
sigwait() and drop those they do not know, SIGURG included: there the
dump is the status handler's (test_status.py)."""

import os
import signal
import threading

import pytest

from tests import harness

APP = os.path.join(harness.APPS, "timeout_app.py")

TARGETS = [
    ("nginx", {"mode": "threads"}),
    ("nginx", {"mode": "inline"}),
    ("apache", {"mpm": "prefork"}),
]
IDS = ["nginx-threads", "nginx-inline", "apache-prefork"]


@pytest.mark.parametrize("name, options", TARGETS, ids=IDS)
def test_sigurg_dumps_the_requests_in_flight(tmp_path, name, options):
    running = harness.start(
        name,
        {"/": APP},
        str(tmp_path / "srv"),
        workers=1,
        threads=4,
        **options,
    )
    try:
        marks = tmp_path / "marks"
        marks.mkdir()
        os.chmod(marks, 0o777)  # the workers write there
        mark, release = marks / "held", marks / "release"
        got = []
        held = threading.Thread(
            target=lambda: got.append(
                harness.fetch(
                    running.url("/hold?mark=%s&release=%s" % (mark, release))
                )
            )
        )
        held.start()
        try:
            assert harness.wait_until(mark.exists)
            assert harness.wait_until(lambda: mark.read_text().strip())
            pid = int(mark.read_text())
            os.kill(pid, signal.SIGURG)
            assert harness.wait_until(
                lambda: "in poll_until" in running.error_log()
            ), running.error_log()
        finally:
            release.write_text("go")
            held.join(30)
        log = running.error_log()
        assert "1 request(s) running in this worker" in log
        assert "GET /hold?mark=" in log and "s old" in log
        assert got == [(200, b"released")]
        # the worker serves on
        assert harness.fetch(running.url("/who")) == (200, b"%d" % pid)
    finally:
        running.kill()
