"""Helpers of the nginx-specific tests.  The `nginx` fixture (an nginx
started per test with tests/apps/nginx_app.py), `app_copy` and `gate` are
tests/conftest.py's, shared with tests/apache."""

import os

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
