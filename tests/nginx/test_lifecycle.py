"""nginx lifecycle with apps in its workers: reload, graceful quit, a killed
worker, apps that cannot be imported."""

import os
import signal
import subprocess
import threading

import pytest

from tests import harness
from tests.nginx.conftest import fetch, wait_until, workers_of


def test_reload_under_load_loses_nothing_and_loads_new_code(nginx, app_copy):
    srv = nginx(app=app_copy, workers=2)
    assert fetch(srv.url("/version")) == (200, b"v1")
    stop = threading.Event()
    results = []
    loops = [
        threading.Thread(
            target=harness.request_loop, args=(srv, stop, results)
        )
        for _ in range(4)
    ]
    for t in loops:
        t.start()
    try:
        # some requests served by the old code first
        assert wait_until(lambda: len(results) >= 10, timeout=15)
        # a different length: CPython's .pyc check is mtime (in seconds)
        # and size, and this edit lands within the second of the first
        harness.set_app_version(app_copy, "v2-reloaded")
        srv.reload()
        assert wait_until(
            lambda: results and results[-1] == (200, b"v2-reloaded"),
            timeout=15,
        )
        # and some more by the new code
        assert wait_until(
            lambda: results.count((200, b"v2-reloaded")) >= 10, timeout=15
        )
    finally:
        stop.set()
        for t in loops:
            t.join(30)
    failures = [r for r in results if r[0] != 200]
    assert not failures, failures[:3]
    assert len(results) > 20
    assert {body for _, body in results} == {b"v1", b"v2-reloaded"}


def test_reload_with_a_broken_app_keeps_serving(nginx, app_copy):
    srv = nginx(app=app_copy)
    assert fetch(srv.url("/version")) == (200, b"v1")
    workers = workers_of(srv)
    app_copy.write_text(
        app_copy.read_text() + "\nraise ImportError('broken on purpose')\n"
    )
    srv.reload()
    log = ""
    assert wait_until(
        lambda: "broken on purpose" in srv.error_log(), timeout=15
    )
    log = srv.error_log()
    assert "cannot be loaded" in log and str(app_copy) in log
    # the master refused the new config where it logged why: the old
    # workers are the ones there, and serve
    assert workers_of(srv) == workers
    assert fetch(srv.url("/version")) == (200, b"v1")


def test_quit_finishes_in_flight_requests(nginx, gate):
    srv = nginx(threads=8)
    results, took = harness.stop_while_held(srv, gate, "/sleep?s=0", 4)
    assert [status for status, _ in results] == [200] * 4
    assert took < 5, "graceful stop took %.1f s" % took


def test_killed_worker_is_respawned(nginx):
    srv = nginx(workers=1)
    assert fetch(srv.url("/hello"))[0] == 200
    (old,) = workers_of(srv)
    os.kill(old, signal.SIGKILL)
    assert wait_until(
        lambda: workers_of(srv) and workers_of(srv) != [old], timeout=10
    )
    assert fetch(srv.url("/hello")) == (200, b"hello")


def write_app(tmp_path, text):
    path = tmp_path / "bad_app.py"
    path.write_text(text)
    return path


def test_import_error_fails_the_config_test(tmp_path):
    app = write_app(
        tmp_path, "import json\nraise ValueError('cannot start')\n"
    )
    options = harness.servers.Options(
        mounts=[harness.Mount("/", str(app))], port=harness.free_port()
    )
    server = harness.servers.get("nginx")(options, str(tmp_path / "w"))
    problem = server.check_config(server.write_config())
    assert problem is not None
    assert str(app) in problem and "line 2" in problem
    assert "ValueError: cannot start" in problem
    assert "test failed" in problem


@pytest.mark.parametrize(
    "spec, reason",
    [
        ("{dir}/missing.py", "no such file"),
        ("{dir}/bad_app.py:nothere", "has no 'nothere'"),
        ("no_such_module_xyz:app", "no such module"),
    ],
)
def test_unloadable_specs_fail_the_config_test(tmp_path, spec, reason):
    write_app(tmp_path, "def application(e, s):\n    pass\n")
    spec = spec.format(dir=tmp_path)
    options = harness.servers.Options(
        mounts=[harness.Mount("/", spec)], port=harness.free_port()
    )
    server = harness.servers.get("nginx")(options, str(tmp_path / "w"))
    problem = server.check_config(server.write_config())
    assert problem and reason in problem, problem


def test_import_error_at_worker_start_answers_500_and_stays(tmp_path):
    # with the config-time check off, the worker is the first to import the
    # app: it logs the traceback once and answers 500, as on Apache.  It
    # must not exit: with status 2 (NGX_ERROR from init_process) the
    # master would never respawn it, with another a crash loop
    app = write_app(tmp_path, "raise RuntimeError('fails in the worker')\n")
    workdir = tmp_path / "w"
    options = harness.servers.Options(
        mounts=[harness.Mount("/", str(app))],
        port=harness.free_port(),
        error_log=str(tmp_path / "error.log"),
    )
    server = harness.servers.get("nginx")(options, str(workdir))
    conf = server.write_config()
    text = (
        open(conf).read().replace("http {", "http {\n    pywsgi_check off;", 1)
    )
    open(conf, "w").write(text)
    proc = subprocess.Popen(server.argv(conf), start_new_session=True)

    def log():
        return (
            (tmp_path / "error.log").read_text()
            if (tmp_path / "error.log").exists()
            else ""
        )

    try:
        assert harness.wait_for_port(options.port, proc), log()
        url = "http://127.0.0.1:%d/" % options.port
        statuses = [fetch(url, timeout=10)[0] for _ in range(5)]
        assert statuses == [500] * 5
        assert (
            log().count("RuntimeError: fails in the worker") == options.workers
        )
        assert "it answers 500 in this worker" in log()
        assert "cannot be respawned" not in log()
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
