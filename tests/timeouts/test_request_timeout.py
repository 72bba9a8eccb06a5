"""The request timeout over real HTTP (pywsgi_timeout / PyWSGITimeout /
serve --timeout; the watchdog of pywsgi_embed/watchdog.py): on nginx in
threads and inline mode, Apache with the event and the prefork MPM, one
worker each."""

import os
import socket
import threading

import pytest

from tests import harness

APP = os.path.join(harness.APPS, "timeout_app.py")
TIMEOUT = 1.0

TARGETS = [
    ("nginx", {"mode": "threads"}),
    ("nginx", {"mode": "inline"}),
    ("apache", {"mpm": "event"}),
    ("apache", {"mpm": "prefork"}),
]
IDS = ["nginx-threads", "nginx-inline", "apache-event", "apache-prefork"]


@pytest.fixture(params=TARGETS, ids=IDS)
def server(request, tmp_path):
    name, options = request.param
    running = harness.start(
        name,
        {"/": APP},
        str(tmp_path / "srv"),
        workers=1,
        threads=4,
        timeout=TIMEOUT,
        **options,
    )
    running.name = "%s-%s" % (name, list(options.values())[0])
    yield running
    running.kill()


def raw_get(running, path):
    """Everything the server sends for GET path, until it closes."""
    with socket.create_connection(
        (running.host, running.port), timeout=30
    ) as sock:
        sock.sendall(
            b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
            % path.encode()
        )
        try:
            return harness.read_to_close(sock)
        except ConnectionResetError:
            return b"(reset)"


def test_past_the_timeout_gives_504_and_the_stack(server):
    status, pid = harness.fetch(server.url("/who"))
    assert status == 200
    status, body = harness.fetch(server.url("/poll?q=1"))
    assert (status, body) == (504, b"504 Gateway Timeout")
    log = server.error_log()
    assert "request timed out: GET /poll?q=1 HTTP/1.1 from 127.0.0.1" in log
    assert "in poll_until" in log and "in application" in log
    # the same worker serves on
    assert harness.fetch(server.url("/who")) == (200, pid)


def test_a_stall_mid_body_cuts_the_connection(server):
    data = raw_get(server, "/stall")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data
    assert b"first" in body
    assert b"never" not in body
    assert not body.endswith(b"0\r\n\r\n"), "looks complete: %r" % data
    log = server.error_log()
    assert "request timed out: GET /stall" in log
    assert "after its response began" in log


def free_location(name):
    """/free/: the app again, without a timeout."""
    if name == "nginx":
        return "location /free/ { pywsgi_app %s; pywsgi_timeout 0; }" % APP
    return "<Location /free>\n    PyWSGITimeout 0\n</Location>"


HELD = 3


@pytest.mark.parametrize(
    "name, options",
    [
        ("nginx", {"mode": "threads", "workers": 1}),
        ("apache", {"mpm": "event", "workers": 1}),
        ("apache", {"mpm": "prefork", "workers": HELD + 1}),
    ],
    ids=["nginx-threads", "apache-event", "apache-prefork"],
)
def test_stuck_in_c_retires_the_worker_and_loses_nothing(
    tmp_path, name, options
):
    """A thread in libc sleep() never sees its RequestTimeout: a grace
    period later the watchdog calls it stuck and the worker retires, while
    the requests in flight beside it (held on other threads, or on other
    children for prefork) finish: every one a 200.  A fresh worker serves
    next.  (Inline mode is left out: its one thread is the stuck one.)"""
    running = harness.start(
        name,
        {"/": APP},
        str(tmp_path / "srv"),
        threads=HELD + 2,
        timeout=TIMEOUT,
        extra_config=free_location(name),
        **options,
    )
    try:
        marks = tmp_path / "marks"
        marks.mkdir()
        os.chmod(marks, 0o777)
        release = marks / "release"
        results = []

        def get(path):
            try:
                results.append(harness.fetch(running.url(path), timeout=60))
            except Exception as exc:
                results.append((None, repr(exc).encode()))

        held = [
            threading.Thread(
                target=get,
                args=(
                    "/free/hold?mark=%s&release=%s"
                    % (marks / ("h%d" % i), release),
                ),
            )
            for i in range(HELD)
        ]
        for thread in held:
            thread.start()
        assert harness.wait_until(
            lambda: all((marks / ("h%d" % i)).exists() for i in range(HELD))
        )
        stuck = threading.Thread(target=get, args=("/stuck-in-c?s=6",))
        stuck.start()
        assert harness.wait_until(
            lambda: "retires" in running.error_log(), timeout=30
        ), running.error_log()
        release.write_text("go")
        for thread in held + [stuck]:
            thread.join(60)
        log = running.error_log()
        assert "request timed out: GET /stuck-in-c?s=6" in log
        assert "did not unwind" in log and "stuck outside Python" in log
        assert sorted(results).count((200, b"released")) == HELD, results
        assert len(results) == HELD + 1
        # a fresh worker (or child) takes the place of the retired one
        assert harness.fetch(running.url("/who"))[0] == 200
    finally:
        running.kill()


def config_problem(tmp_path, name, timeout=None, extra=""):
    options = harness.servers.Options(
        mounts=[harness.Mount("/", APP)],
        port=harness.free_port(),
        extra_config=extra,
    )
    server = harness.servers.get(name)(options, str(tmp_path / "w"))
    return server.check_config(server.write_config())


@pytest.mark.parametrize("value", ["abc", "-1", "1x", "25h"])
def test_nginx_refuses_a_bad_timeout(tmp_path, value):
    problem = config_problem(
        tmp_path, "nginx", extra="location /t/ { pywsgi_timeout %s; }" % value
    )
    assert problem and "pywsgi_timeout" in problem, problem
    assert "nginx.conf:" in problem  # the file and line
    if value == "25h":
        assert "must be at most 24h" in problem


@pytest.mark.parametrize("value", ["abc", "-1", "1x", "86401", "nan"])
def test_apache_refuses_a_bad_timeout(tmp_path, value):
    problem = config_problem(
        tmp_path, "apache", extra='PyWSGITimeout "%s"' % value
    )
    assert problem and "Syntax error on line" in problem, problem
    assert "PyWSGITimeout" in problem and "is not a number of seconds" in (
        problem
    )


def test_good_timeouts_are_accepted(tmp_path):
    assert (
        config_problem(
            tmp_path, "nginx", extra="location /t/ { pywsgi_timeout 1500ms; }"
        )
        is None
    )
    assert (
        config_problem(tmp_path, "apache", extra="PyWSGITimeout 2.5") is None
    )


@pytest.mark.parametrize(
    "flag, value, why",
    [
        ("--timeout", "abc", "is not a number of seconds"),
        ("--timeout", "-1", "is not a number of seconds"),
        ("--timeout", "86401", "is not a number of seconds"),
        ("--queue-timeout", "x", "is not a number of seconds"),
        ("--queue-max", "-2", "is not a whole number"),
    ],
)
def test_serve_refuses_a_bad_timeout(flag, value, why):
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pywsgi_embed",
            "config",
            "nginx",
            APP,
            flag,
            value,
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert flag in proc.stderr
    assert why in proc.stderr
