"""The queue timeout of nginx's threads mode (pywsgi_queue_timeout, serve
--queue-timeout): a burst larger than the pool; the requests that waited
for a thread longer than the queue timeout get a 503 and never reach the
app; every request is answered and counted."""

import concurrent.futures
import os

from prometheus_client.parser import text_string_to_metric_families

from pywsgi_embed import metrics
from tests import harness

APP = os.path.join(harness.APPS, "timeout_app.py")
STATUS = "pywsgi_embed.status:application"


def shed_counts(running):
    """pywsgi_shed_total by reason, from the status handler."""
    status, body = harness.fetch(running.url("/status?format=prometheus"))
    assert status == 200
    return {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == "pywsgi_shed_total"
    }


def forget(running):
    try:
        os.unlink(metrics.path_of(running.proc.pid))
    except FileNotFoundError:
        pass


POOL = 2
QUEUED = 6


def test_burst_past_the_pool_gets_503s(tmp_path):
    """POOL requests hold both pool threads until their request timeout
    (2 s) ends them with a 504; QUEUED more wait behind them, far longer
    than the queue timeout (0.3 s): each gets a 503 from the thread that
    takes it, and the app sees none of them (it counts its calls)."""
    running = harness.start(
        "nginx",
        {"/": APP, "/status": STATUS},
        str(tmp_path / "srv"),
        workers=1,
        threads=POOL,
        timeout=2.0,
        queue_timeout=0.3,
    )
    try:
        marks = tmp_path / "marks"
        marks.mkdir()
        os.chmod(marks, 0o777)
        with concurrent.futures.ThreadPoolExecutor(POOL + QUEUED) as pool:
            held = [
                pool.submit(
                    harness.fetch,
                    running.url(
                        "/hold?mark=%s&release=%s"
                        % (marks / ("h%d" % i), marks / "never")
                    ),
                )
                for i in range(POOL)
            ]
            assert harness.wait_until(
                lambda: all(
                    (marks / ("h%d" % i)).exists() for i in range(POOL)
                )
            )
            queued = [
                pool.submit(
                    harness.fetch,
                    running.url("/count?dir=%s&id=q%d" % (marks, i)),
                )
                for i in range(QUEUED)
            ]
            held = [f.result() for f in held]
            queued = [f.result() for f in queued]
        assert held == [(504, b"504 Gateway Timeout")] * POOL
        assert queued == [(503, b"503 Service Unavailable")] * QUEUED
        assert not [p for p in os.listdir(marks) if p.startswith("q")]
        log = running.error_log()
        assert log.count("past pywsgi_queue_timeout 300 ms: 503") == QUEUED
        # the pool is free again: a request now is served
        assert harness.fetch(running.url("/who"))[0] == 200
        assert shed_counts(running) == {
            "queue_timeout": QUEUED,
            "queue_full": 0,
        }
    finally:
        forget(running)
        running.kill()


def test_nginx_refuses_a_bad_queue_timeout(tmp_path):
    options = harness.servers.Options(
        mounts=[harness.Mount("/", APP)],
        port=harness.free_port(),
        extra_config="location /t/ { pywsgi_queue_timeout 2x; }",
    )
    server = harness.servers.get("nginx")(options, str(tmp_path / "w"))
    problem = server.check_config(server.write_config())
    assert problem and '"pywsgi_queue_timeout" directive invalid value' in (
        problem
    ), problem


QUEUE_MAX = 2
BURST = 5


def test_queue_max_refuses_past_the_bound(tmp_path):
    """With both pool threads held and at most QUEUE_MAX requests allowed
    to wait, a burst of BURST: QUEUE_MAX wait and are served once the
    held ones time out, the others get a 503 at once; the app is called
    QUEUE_MAX times (it counts its calls)."""
    running = harness.start(
        "nginx",
        {"/": APP, "/status": STATUS},
        str(tmp_path / "srv"),
        workers=1,
        threads=POOL,
        timeout=2.0,
        queue_max=QUEUE_MAX,
    )
    try:
        marks = tmp_path / "marks"
        marks.mkdir()
        os.chmod(marks, 0o777)
        with concurrent.futures.ThreadPoolExecutor(POOL + BURST) as pool:
            held = [
                pool.submit(
                    harness.fetch,
                    running.url(
                        "/hold?mark=%s&release=%s"
                        % (marks / ("h%d" % i), marks / "never")
                    ),
                )
                for i in range(POOL)
            ]
            assert harness.wait_until(
                lambda: all(
                    (marks / ("h%d" % i)).exists() for i in range(POOL)
                )
            )
            burst = [
                pool.submit(
                    harness.fetch,
                    running.url("/count?dir=%s&id=q%d" % (marks, i)),
                )
                for i in range(BURST)
            ]
            codes = sorted(f.result()[0] for f in burst)
            held = [f.result()[0] for f in held]
        assert held == [504] * POOL
        assert codes == [200] * QUEUE_MAX + [503] * (BURST - QUEUE_MAX)
        called = [p for p in os.listdir(marks) if p.startswith("q")]
        assert len(called) == QUEUE_MAX
        log = running.error_log()
        assert log.count("pywsgi_queue_max 2: 503") == BURST - QUEUE_MAX
        assert shed_counts(running) == {
            "queue_timeout": 0,
            "queue_full": BURST - QUEUE_MAX,
        }
    finally:
        forget(running)
        running.kill()


def test_nginx_refuses_a_bad_queue_max(tmp_path):
    options = harness.servers.Options(
        mounts=[harness.Mount("/", APP)],
        port=harness.free_port(),
        extra_config="location /t/ { pywsgi_queue_max -3; }",
    )
    server = harness.servers.get("nginx")(options, str(tmp_path / "w"))
    problem = server.check_config(server.write_config())
    assert problem and '"pywsgi_queue_max" directive invalid number' in (
        problem
    ), problem
