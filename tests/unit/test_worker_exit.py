"""pywsgi_embed/worker_exit.py: an app's os._exit() in the worker is logged
and never gives a status the server reads as an order; a process the
worker forks keeps the real os._exit."""

import os

import pytest

from pywsgi_embed import worker_exit


@pytest.mark.parametrize(
    "status, code", [(0, 0), (1, 1), (2, 1), (7, 1), (15, 1), (255, 1)]
)
def test_worker_status(status, code):
    assert worker_exit.worker_status(status) == code


def run_in_child(body):
    """Fork; body(write) runs in the child, which must exit by itself:
    (its exit status, what it wrote)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        os.close(rfd)
        try:
            body(lambda text: os.write(wfd, text.encode()))
        finally:
            worker_exit._real_exit(99)
    os.close(wfd)
    with os.fdopen(rfd) as f:
        text = f.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), text


def test_os_exit_2_in_the_worker_becomes_1_and_is_logged():
    def worker(write):
        worker_exit.install(write)
        os._exit(2)

    code, log = run_in_child(worker)
    assert code == 1
    assert "the app called os._exit(2) in worker" in log
    assert "a status the server reads as an order" in log


def test_a_process_the_worker_forks_keeps_its_status():
    def worker(write):
        worker_exit.install(write)
        pid = os.fork()
        if pid == 0:
            os._exit(2)  # the app's own child: its status is the app's
        _, status = os.waitpid(pid, 0)
        write("grandchild %d" % os.waitstatus_to_exitcode(status))
        os._exit(0)

    code, log = run_in_child(worker)
    assert code == 0
    assert log.startswith("grandchild 2")
    assert "os._exit(0)" in log  # logged, its status kept
