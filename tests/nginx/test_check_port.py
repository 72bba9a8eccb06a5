"""The config test of `serve` (NginxServer.check_config: before the server
starts and at each --reload) opens no socket on the served port.  nginx -t
binds and listens on its config's ports once it has read it, so a client
that connected then (a readiness probe, a port wait) was taken in by a
process about to exit, before the server that answers ran: a test's port
wait once returned while serve was still in its check, and its first
request was refused."""

import re

from tests import harness

HELLO = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
"""


def hello_app(tmp_path):
    app = tmp_path / "hello.py"
    app.write_text(HELLO)
    return str(app)


def traced_server(tmp_path, app):
    """An nginx of `serve`'s config whose config test runs under strace,
    each bind() it makes written to the trace file."""
    server = harness.servers.get("nginx")(
        harness.servers.Options(
            mounts=[harness.Mount("/", str(app))],
            port=harness.free_port(),
            error_log=str(tmp_path / "error.log"),
        ),
        str(tmp_path / "w"),
    )
    trace = tmp_path / "trace"
    untraced = server.test_argv
    server.test_argv = lambda conf: (
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=bind",
            "-o",
            str(trace),
        ]
        + untraced(conf)
    )
    return server, trace


def binds(trace):
    return trace.read_text().splitlines()


def test_the_config_test_binds_no_socket_on_the_served_port(tmp_path):
    server, trace = traced_server(tmp_path, hello_app(tmp_path))
    conf = server.write_config()
    assert server.check_config(conf) is None
    port = server.options.port
    calls = binds(trace)
    assert [c for c in calls if "bind(" in c], "strace saw no bind()"
    assert not [c for c in calls if "htons(%d)" % port in c], calls
    # nginx -t's own listen was the socket file in the work directory
    assert any("check.sock" in c for c in calls), calls
    # the check's copy and socket file are removed, the config is the one
    # written
    assert not (tmp_path / "w" / "check").exists()
    assert ("listen 127.0.0.1:%d;" % port) in open(conf).read()


def test_the_config_test_names_the_config_it_was_given(tmp_path):
    server, _ = traced_server(tmp_path, hello_app(tmp_path))
    conf = server.write_config()
    with open(conf, "a") as f:
        f.write("no_such_directive on;\n")
    problem = server.check_config(conf)
    # nginx's message names the file and line of the config serve wrote,
    # not the copy the test read
    assert re.search(
        r'unknown directive "no_such_directive" in %s:\d+' % re.escape(conf),
        problem,
    ), problem
    assert "/check/" not in problem


def test_the_check_of_a_running_server_passes_and_it_serves_on(tmp_path):
    # serve --reload tests the config while the server holds the port
    running = harness.start(
        "nginx", {"/": hello_app(tmp_path)}, str(tmp_path / "s")
    )
    try:
        assert running.server.check_config(running.config_path) is None
        assert harness.fetch(running.url("/")) == (200, b"hello")
    finally:
        running.stop()
