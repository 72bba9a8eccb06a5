"""--docker: the HTTP suite (tests/http) against containers of the images in
docker/ instead of local servers.

With --docker, every `target` of tests/conftest.py is a container of
pywsgi-embed-nginx or pywsgi-embed-apache, built from this tree with the
docker SDK at the start of the run, started with the image's own command
(`pywsgi-embed serve`, configured by environment variables).  Builds and
containers use the host's network only (network_mode="host"), listening on
127.0.0.1 and a free port.  The test apps are mounted from tests/apps, and
/tmp is shared so that paths the tests pass to the apps exist in both.

The engine: DOCKER_HOST or the default socket if one answers, else a
dockerd that docker/engine.sh starts (root, no bridge, no iptables).
Without an engine the run fails, saying why.
"""

import os
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
DOCKER = os.path.join(ROOT, "docker")
APPS = os.path.join(ROOT, "tests", "apps")


def add_option(parser):
    parser.addoption(
        "--docker",
        action="store_true",
        help="run the HTTP tests against containers of docker/Dockerfile.* "
        "(builds the images; starts an engine if none answers)",
    )


def configure(config):
    if config.getoption("--docker"):
        targets = DockerTargets()
        config.pywsgi_target_factory = targets.start
        config.add_cleanup(targets.close)


def engine_host():
    proc = subprocess.run(
        ["sh", os.path.join(DOCKER, "engine.sh"), "start"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.exit(
            "--docker: no Docker engine can run here:\n" + proc.stderr,
            returncode=3,
        )
    return proc.stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Container:
    """A running container, as tests/conftest.py's start_local returns a
    server: host, port, url(), error_log(), stop()."""

    def __init__(self, container, port):
        self.container = container
        self.host = "127.0.0.1"
        self.port = port

    def url(self, path="/"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def error_log(self):
        return self.container.logs(stdout=True, stderr=True).decode(
            "utf-8", "replace"
        )

    def running(self):
        self.container.reload()
        return self.container.status == "running"

    def wait_ready(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(
                    (self.host, self.port), timeout=0.5
                ):
                    return True
            except OSError:
                if not self.running():
                    return False
                time.sleep(0.2)
        return False

    def stop(self, timeout=15):
        try:
            self.container.stop(timeout=timeout)  # SIGTERM: a graceful stop
        finally:
            self.container.remove(force=True)


class DockerTargets:
    def __init__(self):
        import docker

        host = engine_host()
        os.environ["DOCKER_HOST"] = host
        self.client = docker.DockerClient(base_url=host)
        self.images = {}

    def image(self, server):
        """The image of server, built once per run (layers are cached)."""
        if server not in self.images:
            subprocess.run(
                ["sh", os.path.join(DOCKER, "make-base-image.sh")], check=True
            )
            tag = "pywsgi-embed-%s:test" % server
            self.client.images.build(
                path=ROOT,
                dockerfile="docker/Dockerfile.%s" % server,
                tag=tag,
                network_mode="host",
                rm=True,
            )
            self.images[server] = tag
        return self.images[server]

    def start(self, server, mode, workdir):
        port = free_port()
        env = {
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "WORKERS": "1",
            "THREADS": "8",
            "APP": "/apps/pep3333_app.py",
            "MOUNTS": "/app /",
        }
        env["MODE" if server == "nginx" else "MPM"] = mode
        container = self.client.containers.run(
            self.image(server),
            detach=True,
            network_mode="host",
            environment=env,
            volumes={
                APPS: {"bind": "/apps", "mode": "ro"},
                "/tmp": {"bind": "/tmp", "mode": "rw"},
            },
            name="pywsgi-test-%s-%s-%d" % (server, mode, port),
        )
        running = Container(container, port)
        if not running.wait_ready():
            log = running.error_log()
            running.stop()
            pytest.fail(
                "the %s container did not start on port %d:\n%s"
                % (server, port, log),
                pytrace=False,
            )
        return running

    def close(self):
        self.client.close()
