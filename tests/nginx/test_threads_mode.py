"""Threads mode: the event loop never runs Python; the dispatcher gives a
request that waits (a database, an API) a thread of its own at once,
keeps CPU-bound steps on few threads, and lets a short request past a
long computation.  The app counts what runs at once
(tests/apps/nginx_app.py): these tests count events and time nothing."""

import concurrent.futures
import socket

from pywsgi_embed.servers import nginx as nginx_server
from tests import harness
from tests.nginx.conftest import APP, fetch

WAIT_TIMEOUT = 60  # s: a bound for a hung build, not a measure


def stats(srv):
    """What the app runs now: waiting, most_waiting (since it started),
    held, spinning."""
    status, body = fetch(srv.url("/stats"), timeout=WAIT_TIMEOUT)
    assert status == 200, body
    names = ("waiting", "most_waiting", "held", "spinning")
    return dict(zip(names, map(int, body.split())))


def read_response(sock):
    """(status, body) of one response on a keep-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed: %r" % data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":", 1)[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the body"
        body += chunk
    return int(head.split()[1]), body


def clients(srv, path, count, rounds):
    """`count` keep-alive connections; each round sends one request on
    every one at once, then reads every answer: all the statuses.  Raw
    sockets: a pool of Python client threads cannot keep 100 requests in
    flight on a busy machine, and the clients must not be what limits."""
    request = ("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path).encode()
    socks = [
        socket.create_connection((srv.host, srv.port), timeout=WAIT_TIMEOUT)
        for _ in range(count)
    ]
    statuses = []
    try:
        for _ in range(rounds):
            for sock in socks:
                sock.sendall(request)
            statuses.extend(read_response(sock)[0] for sock in socks)
    finally:
        for sock in socks:
            sock.close()
    return statuses


def hold(srv, pool, count):
    """`count` requests held in the app until /release: their futures,
    once the app counts them all."""
    held = [
        pool.submit(fetch, srv.url("/hold"), WAIT_TIMEOUT)
        for _ in range(count)
    ]
    assert harness.wait_until(
        lambda: stats(srv)["held"] == count, WAIT_TIMEOUT
    ), stats(srv)
    return held


def test_requests_that_wait_all_run_at_once(nginx):
    # 32 clients of a 20 ms request on a 32-thread pool: each gets a
    # thread of its own.  The dispatcher before this one added a thread
    # per 2 ms and let them go after each step: about 10 at once here
    srv = nginx(threads=32)
    fetch(srv.url("/hello"))
    statuses = clients(srv, "/wait?ms=20", 32, 6)
    assert statuses == [200] * 32 * 6
    assert stats(srv)["most_waiting"] >= 30, stats(srv)


def test_a_hundred_requests_that_wait_run_at_once(nginx):
    srv = nginx(threads=100)
    fetch(srv.url("/hello"))
    statuses = clients(srv, "/wait?ms=50", 100, 4)
    assert statuses == [200] * 100 * 4
    assert stats(srv)["most_waiting"] >= 90, stats(srv)


def test_waiting_requests_get_the_threads_held_ones_leave(nginx):
    # 16 requests stuck in the app do not slow the others: those get the
    # 32 threads still free, at once
    srv = nginx(threads=48)
    fetch(srv.url("/hello"))
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        held = hold(srv, pool, 16)
        statuses = clients(srv, "/wait?ms=20", 30, 5)
        assert stats(srv)["held"] == 16
        fetch(srv.url("/release"))
        assert [f.result()[0] for f in held] == [200] * 16
    assert statuses == [200] * 30 * 5
    assert stats(srv)["most_waiting"] >= 28, stats(srv)


def burst(srv, path, count):
    """`count` requests sent at once on as many connections: the bodies."""
    socks = [
        socket.create_connection((srv.host, srv.port), timeout=30)
        for _ in range(count)
    ]
    request = (
        "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path
    ).encode()
    for sock in socks:
        sock.sendall(request)
    bodies = []
    for sock in socks:
        with sock:
            head, _, body = harness.read_to_close(sock).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        bodies.append(body)
    return bodies


def test_cpu_bound_steps_share_few_threads(nginx):
    # 64 requests of 1 ms of computing, all at once, on a pool of 16: with
    # the GIL more threads would only hand it round, so the dispatcher keeps
    # them on the thread that holds it, adding one only beside a step that
    # has run for 2 ms.  1 or 2 threads on a quiet machine, 16 before the
    # first dispatcher; a runner that a loaded machine keeps from its core
    # looks like one that waits or computes long, hence the best of five
    # bursts, and at most half the pool (a dispatcher that gives each step a
    # thread uses all 16)
    srv = nginx(threads=16)
    fetch(srv.url("/compute?s=0"))
    counts = []
    for _ in range(5):
        counts.append(len(set(burst(srv, "/compute?s=0.001", 64))))
        if counts[-1] <= 2:
            break
    assert min(counts) <= 8, (
        "pool threads that ran CPU-bound bursts: %s" % counts
    )


def test_each_thread_pool_runs_its_own_locations(nginx, monkeypatch):
    # pywsgi_thread_pool: steps are queued per pool and run on its threads
    render = nginx_server.NginxServer.render
    monkeypatch.setattr(
        nginx_server.NginxServer,
        "render",
        lambda self: render(self).replace(
            "thread_pool pywsgi",
            "thread_pool other threads=2;\nthread_pool pywsgi",
        ),
    )
    srv = nginx(
        threads=4,
        extra_config="location /other/ { pywsgi_app %s; "
        "pywsgi_thread_pool other; }" % APP,
    )
    assert fetch(srv.url("/other/hello")) == (200, b"hello")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        main = pool.submit(burst, srv, "/compute?s=0.002", 32)
        other = pool.submit(burst, srv, "/other/compute?s=0.002", 32)
        main, other = set(main.result()), set(other.result())
    assert main and other and not main & other, (main, other)


def test_a_short_request_gets_past_a_long_computation(nginx):
    # a step that computes for long holds the GIL: the next request gets
    # a runner of its own anyway, and the GIL's switch interval shares it
    # (without that, /stats and /hello would wait for /release)
    srv = nginx(threads=4)
    fetch(srv.url("/hello"))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        spin = pool.submit(fetch, srv.url("/spin"), WAIT_TIMEOUT)
        assert harness.wait_until(
            lambda: stats(srv)["spinning"] == 1, WAIT_TIMEOUT
        )
        assert fetch(srv.url("/hello"), timeout=WAIT_TIMEOUT) == (
            200,
            b"hello",
        )
        assert stats(srv)["spinning"] == 1, "the computation ended early"
        fetch(srv.url("/release"))
        assert spin.result() == (200, b"spun")


def test_static_location_answers_while_apps_are_held(nginx, tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "hello.txt").write_text("static file\n")
    static.chmod(0o755)
    srv = nginx(
        threads=36, extra_config="location /static/ { alias %s/; }" % static
    )
    fetch(srv.url("/static/hello.txt"))
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        held = hold(srv, pool, 32)
        for _ in range(20):
            assert fetch(srv.url("/static/hello.txt")) == (
                200,
                b"static file\n",
            )
        assert stats(srv)["held"] == 32, "held requests ended early"
        fetch(srv.url("/release"))
        assert [f.result()[0] for f in held] == [200] * 32


def test_inline_mode_serves(nginx):
    srv = nginx(mode="inline")
    assert fetch(srv.url("/hello")) == (200, b"hello")
