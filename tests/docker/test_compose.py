"""examples/compose/compose.yaml, run by docker-compose with host
networking: two replicas of the nginx image behind the load balancer.
Every request through the balancer is a complete 200, also while one
replica is stopped (SIGTERM, graceful) and started again.  Runs with
--docker (make test-docker), which builds the images."""

import os
import socket
import subprocess
import threading

import pytest

from tests import harness
from tests.docker import plugin

COMPOSE = os.path.join(plugin.ROOT, "examples", "compose", "compose.yaml")


@pytest.fixture
def compose(request):
    if not request.config.getoption("--docker"):
        pytest.fail("tests/docker runs with --docker (make test-docker)")
    targets = request.config.pywsgi_target_factory.__self__
    ports = {
        "LB_PORT": harness.free_port(),
        "APP1_PORT": harness.free_port(),
        "APP2_PORT": harness.free_port(),
    }
    env = dict(
        os.environ,
        IMAGE=targets.image("nginx"),
        # serve --status comes with the status handler; until then the
        # healthchecks ask /
        STATUS="",
        **{k: str(v) for k, v in ports.items()},
    )
    project = "pywsgi-test-%d" % ports["LB_PORT"]

    def run(*args):
        return subprocess.run(
            ["docker-compose", "-f", COMPOSE, "-p", project] + list(args),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    up = run("up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        for port in ports.values():
            assert harness.wait_until(
                lambda port=port: not _closed(port), timeout=120
            ), run("logs").stdout
        yield run, ports
    finally:
        run("down", "-t", "35")


def _closed(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def test_two_replicas_behind_the_balancer_lose_no_request(compose):
    run, ports = compose
    lb = "http://127.0.0.1:%d/" % ports["LB_PORT"]
    for port in (ports["APP1_PORT"], ports["APP2_PORT"]):
        assert harness.fetch("http://127.0.0.1:%d/" % port)[0] == 200
    results = []
    stop = threading.Event()

    def load():
        while not stop.is_set() and len(results) < 5000:
            try:
                results.append(harness.fetch(lb, timeout=30)[0])
            except Exception as exc:
                results.append(repr(exc))

    clients = [threading.Thread(target=load) for _ in range(4)]
    for t in clients:
        t.start()
    try:
        assert harness.wait_until(lambda: len(results) >= 50, timeout=60)
        stopped = run("stop", "-t", "35", "app1")  # SIGTERM: graceful
        assert stopped.returncode == 0, stopped.stderr
        mark = len(results)
        assert harness.wait_until(lambda: len(results) >= mark + 50, 60)
        started = run("start", "app1")
        assert started.returncode == 0, started.stderr
        assert harness.wait_until(
            lambda: not _closed(ports["APP1_PORT"]), timeout=120
        )
    finally:
        stop.set()
        for t in clients:
            t.join(60)
    lost = [r for r in results if r != 200]
    print("compose: %d requests, %d lost" % (len(results), len(lost)))
    assert not lost, lost[:3]
