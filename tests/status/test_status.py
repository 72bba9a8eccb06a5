"""The status handler (pywsgi_embed.status, serve --status): the figures
of every worker summed through shared memory add up to the requests sent,
in JSON and in the Prometheus text format (read with prometheus_client's
own parser); ?stacks shows the requests running.  nginx threads mode with
two workers, Apache event with two children and prefork with three; the
length of nginx's queue on one worker with a small pool."""

import concurrent.futures
import json
import os
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pywsgi_embed import metrics
from tests import harness

APP = os.path.join(harness.APPS, "timeout_app.py")
STATUS = "pywsgi_embed.status:application"
OK, MISSING, TIMED_OUT = 30, 4, 2

TARGETS = [
    ("nginx", {"mode": "threads", "workers": 2}),
    ("apache", {"mpm": "event", "workers": 2}),
    ("apache", {"mpm": "prefork", "workers": 3}),
]
IDS = ["nginx-threads", "apache-event", "apache-prefork"]


@pytest.fixture(params=TARGETS, ids=IDS)
def server(request, tmp_path):
    name, options = request.param
    running = harness.start(
        name,
        {"/": APP, "/status": STATUS},
        str(tmp_path / "srv"),
        threads=4,
        timeout=1.0,
        **options,
    )
    counters = metrics.path_of(running.proc.pid)  # while it runs
    yield running
    kill_and_clean(running, counters)


def kill_and_clean(running, counters):
    """Stop a server and remove its status figures' shared file."""
    running.kill()
    try:
        os.unlink(counters)
    except FileNotFoundError:
        pass


def send_traffic(server):
    paths = ["/who"] * OK + ["/missing"] * MISSING + ["/poll"] * TIMED_OUT
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(lambda p: harness.fetch(server.url(p))[0], paths)
        )
    assert sorted(results) == sorted(
        [200] * OK + [404] * MISSING + [504] * TIMED_OUT
    )


def samples(text):
    """{(name, frozenset(labels)): value} of a Prometheus exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def app_sample(found, name, **labels):
    return found[(name, frozenset(dict(app=APP, **labels).items()))]


def test_metrics_add_up_to_the_requests_sent(server):
    send_traffic(server)
    status, body = harness.fetch(server.url("/status?format=prometheus"))
    assert status == 200
    found = samples(body.decode())
    assert app_sample(found, "pywsgi_requests_total", code="2xx") == OK
    assert app_sample(found, "pywsgi_requests_total", code="4xx") == MISSING
    assert app_sample(found, "pywsgi_requests_total", code="5xx") == TIMED_OUT
    assert app_sample(found, "pywsgi_requests_total", code="1xx") == 0
    assert app_sample(found, "pywsgi_timeouts_total") == TIMED_OUT
    assert app_sample(found, "pywsgi_in_flight") == 0
    total = OK + MISSING + TIMED_OUT
    assert app_sample(found, "pywsgi_request_duration_seconds_count") == total
    assert (
        app_sample(found, "pywsgi_request_duration_seconds_bucket", le="+Inf")
        == total
    )
    # the two timed-out requests took at least their timeout
    assert (
        app_sample(found, "pywsgi_request_duration_seconds_bucket", le="0.5")
        <= total - TIMED_OUT
    )
    assert app_sample(found, "pywsgi_queued") == 0
    assert found[("pywsgi_workers", frozenset())] >= 1
    assert found[("pywsgi_recycles_total", frozenset())] == 0

    # the same figures as JSON, and through the Accept header
    status, body = harness.fetch(server.url("/status"))
    snap = json.loads(body)
    (ours,) = [a for a in snap["apps"] if a["app"] == APP]
    assert ours["requests"] == {
        "1xx": 0,
        "2xx": OK,
        "3xx": 0,
        "4xx": MISSING,
        "5xx": TIMED_OUT,
    }
    assert snap["queued"] == ours["queued"] == 0  # Apache: no queue of ours
    req = urllib.request.Request(
        server.url("/status"),
        headers={"Accept": "text/plain;version=0.0.4;q=0.9,*/*;q=0.1"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert "version=0.0.4" in resp.headers["Content-Type"]
        samples(resp.read().decode())  # parses


NGINX_APP = os.path.join(harness.APPS, "nginx_app.py")
POOL, WAITING = 2, 3


def status_of(running):
    return json.loads(harness.fetch(running.url("/status"))[1])


def app_of(snap, spec):
    (figures,) = [a for a in snap["apps"] if a["app"] == spec]
    return figures


def settled(running, predicate):
    """The first status (JSON) that satisfies predicate, polled by
    harness.wait_until, or the last one seen."""
    seen = []

    def ready():
        seen[:] = [status_of(running)]
        return predicate(seen[0])

    harness.wait_until(ready)
    return seen[0]


def test_queued_counts_the_requests_waiting_for_a_thread(tmp_path, gate):
    """nginx threads mode, one worker, a pool of POOL threads: of POOL +
    WAITING requests held at the gate, POOL run in the app and WAITING
    wait in the module's queue, which `queued` shows in the JSON (in all,
    per app, per worker) and as pywsgi_queued; once the gate opens and
    every request is answered, it is 0 again.  The status handler runs
    inline, on the loop, so that it answers while the pool is taken."""
    running = harness.start(
        "nginx",
        [
            harness.Mount("/", NGINX_APP),
            harness.Mount("/status", STATUS, mode="inline"),
        ],
        str(tmp_path / "srv"),
        workers=1,
        threads=POOL,
    )
    counters = metrics.path_of(running.proc.pid)  # while it runs
    try:
        url = running.url("/sleep?s=0&" + gate.query)
        with concurrent.futures.ThreadPoolExecutor(POOL + WAITING) as pool:
            sent = [
                pool.submit(harness.fetch, url) for _ in range(POOL + WAITING)
            ]
            snap = settled(
                running,
                lambda s: (
                    (app_of(s, NGINX_APP)["in_flight"], s["queued"])
                    == (POOL, WAITING)
                ),
            )
            ours = app_of(snap, NGINX_APP)
            assert (ours["in_flight"], ours["queued"]) == (POOL, WAITING)
            assert snap["queued"] == WAITING
            assert [w["queued"] for w in snap["workers"]] == [WAITING]
            assert gate.entered() == POOL  # the others never ran
            status, body = harness.fetch(
                running.url("/status?format=prometheus")
            )
            found = samples(body.decode())
            key = ("pywsgi_queued", frozenset({("app", NGINX_APP)}))
            assert found[key] == WAITING
            gate.release()
            assert [f.result()[0] for f in sent] == [200] * (POOL + WAITING)
        snap = status_of(running)
        assert snap["queued"] == app_of(snap, NGINX_APP)["queued"] == 0
        assert app_of(snap, NGINX_APP)["in_flight"] == 0
    finally:
        kill_and_clean(running, counters)


def test_stacks_of_the_status_handler(server):
    status, body = harness.fetch(server.url("/status?stacks"))
    assert status == 200
    text = body.decode()
    assert "request(s) running in this worker" in text
    assert "GET /status?stacks" in text  # itself, with its stack
    assert "in application" in text


@pytest.mark.parametrize(
    "name, directive",
    [
        ("nginx", "location = /st { pywsgi_status; }"),
        ("apache", "PyWSGIStatus /st"),
    ],
)
def test_the_status_directive_mounts_it(tmp_path, name, directive):
    running = harness.start(
        name,
        {"/": APP},
        str(tmp_path / "srv"),
        workers=1,
        extra_config=directive,
    )
    counters = metrics.path_of(running.proc.pid)
    try:
        assert harness.fetch(running.url("/who"))[0] == 200
        status, body = harness.fetch(running.url("/st?format=prometheus"))
        assert status == 200
        found = samples(body.decode())
        assert app_sample(found, "pywsgi_requests_total", code="2xx") == 1
    finally:
        kill_and_clean(running, counters)


def run_cli(*args):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "pywsgi_embed", *args],
        capture_output=True,
        text=True,
    )


def test_serve_status_flag_mounts_it_and_refuses_a_bad_path():
    proc = run_cli("config", "apache", APP, "--status", "/status")
    assert proc.returncode == 0, proc.stderr
    assert "PyWSGIApp /status pywsgi_embed.status:application" in (
        proc.stdout.replace('"', "")
    )
    proc = run_cli("config", "nginx", APP, "--status", "status")
    assert proc.returncode == 2
    assert "--status" in proc.stderr and "is not a URL path" in proc.stderr


def test_serve_status_answers_and_cleans_up(tmp_path):
    """`serve --status` really serves the handler; after the stop the
    counters' file is gone."""
    import signal
    import subprocess
    import sys

    def counter_files():
        return {
            p
            for p in os.listdir("/dev/shm")
            if p.startswith("pywsgi-metrics-")
        }

    before = counter_files()
    port = harness.free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pywsgi_embed",
            "serve",
            APP,
            "--port",
            str(port),
            "--status",
            "/status",
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert harness.wait_for_port(port, proc)
        url = "http://127.0.0.1:%d" % port
        assert harness.wait_until(
            lambda: harness.fetch(url + "/who")[0] == 200
        )
        status, body = harness.fetch(url + "/status")
        assert status == 200
        (app,) = [a for a in json.loads(body)["apps"] if a["app"] == APP]
        assert app["requests"]["2xx"] >= 1
        ours = counter_files() - before
        assert len(ours) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not counter_files() & ours
