"""An app that ends its worker with os._exit() never leaves the server
without workers: nginx never respawns a worker that exits with 2, Apache
stops altogether when a child exits with 15.  After each exit a new
worker serves, and the log says what the app did."""

import socket

import pytest

from tests import harness
from tests.faults.conftest import IDS, SERVERS


def pid_served(running):
    """The pid of the worker that answered, or None (none answered)."""
    try:
        status, body = harness.fetch(running.url("/pid"), timeout=5)
    except OSError:
        return None
    return int(body) if status == 200 else None


def exit_in_request(running, status):
    """GET /exit: the worker dies under the request, which gets nothing."""
    try:
        harness.fetch(running.url("/exit?status=%d" % status), timeout=15)
    except (OSError, socket.timeout):
        return
    pytest.fail("the request that called os._exit() got an answer")


@pytest.mark.parametrize("status", [2, 1, 15])
@pytest.mark.parametrize("name, options", SERVERS, ids=IDS)
def test_a_worker_serves_again_after_os_exit(start, name, options, status):
    running = start(name, **options)
    before = pid_served(running)
    assert before is not None
    exit_in_request(running, status)
    assert harness.wait_until(
        lambda: pid_served(running) not in (None, before), timeout=20
    ), "no worker serves after os._exit(%d):\n%s" % (
        status,
        running.error_log()[-2000:],
    )
    after = [pid_served(running) for _ in range(10)]
    served = [pid for pid in after if pid is not None and pid != before]
    assert len(served) == 10, after
    log = running.error_log()
    assert "the app called os._exit(%d)" % status in log
    assert "exited with fatal code" not in log
