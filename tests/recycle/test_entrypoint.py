"""The Docker images' command (docker/entrypoint.sh) stops gracefully on
SIGTERM, what `docker stop` and Kubernetes send: a request in flight
finishes with a complete 200, then the server exits, within the bound.
Run here as the image runs it (exec'd, configured by the environment),
with this checkout's pywsgi-embed instead of the image's /opt/pywsgi."""

import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

from tests import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
ENTRYPOINT = os.path.join(ROOT, "docker", "entrypoint.sh")
APP = os.path.join(harness.APPS, "recycle_app.py")
BOUND = 35  # seconds: serve kills what is left after 30


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_sigterm_lets_the_request_in_flight_finish(server, tmp_path):
    port = harness.free_port()
    env = dict(
        os.environ,
        PYWSGI_EMBED=os.path.join(
            os.path.dirname(sys.executable), "pywsgi-embed"
        ),
        PYWSGI_SERVER=server,
        APP=APP,
        PORT=str(port),
        WORKERS="2",
        MAX_REQUESTS="1000",
    )
    out = open(tmp_path / "out", "w")
    proc = subprocess.Popen(
        ["sh", ENTRYPOINT], env=env, stdout=out, stderr=subprocess.STDOUT
    )
    out.close()
    try:
        assert harness.wait_for_port(port, proc, timeout=60), (
            tmp_path / "out"
        ).read_text()
        # a worker answers: the apps are loaded
        assert harness.fetch("http://127.0.0.1:%d/" % port)[0] == 200
        marker = tmp_path / "began"
        answer = []
        client = threading.Thread(
            target=lambda: answer.append(
                harness.fetch(
                    "http://127.0.0.1:%d/slow?s=2&marker=%s" % (port, marker)
                )
            )
        )
        client.start()
        assert harness.wait_until(marker.exists, timeout=60)
        proc.send_signal(signal.SIGTERM)  # PID 1 of the container
        assert proc.wait(BOUND) == 0
        client.join(BOUND)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert answer and answer[0][0] == 200, (tmp_path / "out").read_text()
    assert answer[0][1].startswith(b"slow done ")
    assert harness.wait_until(lambda: _closed(port))


def _closed(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True
