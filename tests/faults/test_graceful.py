"""Apache's graceful restart while a request runs in the app: the old
child keeps its scoreboard slot until that request ends, so `serve`'s
config must leave room (ServerLimit) for a new child to serve
meanwhile."""

import os
import threading
import uuid

import pytest

from tests import harness


@pytest.mark.parametrize("mpm", ["event", "worker"])
def test_graceful_restart_with_a_running_request(start, marks, mpm):
    running = start("apache", mpm=mpm, threads=4)
    ident = uuid.uuid4().hex
    marker = marks / ident
    held = []
    holder = threading.Thread(
        target=lambda: held.append(
            harness.fetch(
                running.url("/hold?dir=%s&id=%s&s=60" % (marks, ident)),
                timeout=90,
            )
        )
    )
    holder.start()
    try:
        assert harness.wait_until(marker.exists, timeout=15)
        old = int(marker.read_text())
        running.reload()  # SIGUSR1: graceful restart
        served = []

        def new_child_serves():
            try:
                status, body = harness.fetch(running.url("/pid"), timeout=3)
            except OSError:
                return False
            if status == 200 and int(body) != old:
                served.append(int(body))
            return len(served) >= 5

        assert harness.wait_until(new_child_serves, timeout=20), (
            "served by new children: %r\n%s"
            % (served, running.error_log()[-2000:])
        )
        assert marker.exists()  # the old request still runs
        assert os.path.exists("/proc/%d" % old)
    finally:
        if marker.exists():
            marker.unlink()  # release the held request
        holder.join(90)
    assert held and held[0][0] == 200, held
