"""Threads mode: the event loop never runs Python, so slow apps overlap and
a static location on the same worker stays fast."""

import concurrent.futures
import os
import time

from tests.nginx.conftest import fetch


def test_slow_requests_overlap(nginx):
    srv = nginx(threads=16)
    fetch(srv.url("/sleep?s=0"))
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: fetch(srv.url("/sleep?s=0.3")), range(16)))
    elapsed = time.monotonic() - started
    assert all(status == 200 for status, _ in results)
    # one after another would take 4.8 s: they ran side by side
    assert elapsed < 2.0, "16 x 300 ms took %.2f s" % elapsed


def test_static_location_answers_while_apps_are_slow(nginx, tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "hello.txt").write_text("static file\n")
    os.chmod(static, 0o755)
    srv = nginx(threads=32, extra_config="location /static/ { alias %s/; }" % static)
    fetch(srv.url("/static/hello.txt"))

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        slow = [pool.submit(fetch, srv.url("/sleep?s=2")) for _ in range(32)]
        time.sleep(0.5)                     # all 32 are in the app now
        assert not any(f.done() for f in slow)
        latencies = []
        for _ in range(5):
            t0 = time.monotonic()
            status, body = fetch(srv.url("/static/hello.txt"), timeout=5)
            latencies.append(time.monotonic() - t0)
            assert status == 200 and body == b"static file\n"
        assert not any(f.done() for f in slow), "the slow requests ended too early"
        assert max(latencies) < 0.05, latencies
        assert all(f.result()[0] == 200 for f in slow)


def test_inline_mode_serves(nginx):
    srv = nginx(mode="inline")
    assert fetch(srv.url("/hello")) == (200, b"hello")
