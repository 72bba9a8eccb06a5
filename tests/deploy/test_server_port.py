"""An HTTP/1.0 request without a Host header gets the SERVER_NAME and
SERVER_PORT the server listens on (Apache took the port of ServerName,
and `serve` wrote it without one: 80)."""

import socket

import pytest

from tests import harness

APP = """\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%(SERVER_NAME)s %(SERVER_PORT)s" % environ).encode()]
"""


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_no_host_header_reports_the_listening_port(tmp_path, server):
    app = tmp_path / "app.py"
    app.write_text(APP)
    running = harness.start(server, {"/": str(app)}, str(tmp_path / "srv"))
    try:
        with socket.create_connection((running.host, running.port)) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answer = harness.read_to_close(s)
    finally:
        running.kill()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0]
    assert body.decode() == "%s %d" % (running.host, running.port)
