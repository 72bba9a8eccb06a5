"""Apache lifecycle with Python in its children: graceful restart, stop,
apps that cannot be imported, the config test."""

import concurrent.futures
import signal
import subprocess
import threading
import time

import pytest

from tests import harness
from tests.apache.conftest import APP, children_of, fetch, wait_until


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_graceful_restart_under_load_loses_nothing_and_loads_new_code(
    apache, app_copy, gate, mpm
):
    srv = apache({"/": str(app_copy)}, mpm=mpm, workers=2)
    assert fetch(srv.url("/version")) == (200, b"v1")
    old = set(children_of(srv))
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
    # a request in flight across the restart must finish too
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        held = pool.submit(fetch, srv.url("/sleep?s=0&" + gate.query))
        assert gate.wait_entered(1)
        assert wait_until(lambda: len(results) >= 10, timeout=15)
        harness.set_app_version(app_copy, "v2")
        srv.reload()
        assert wait_until(
            lambda: results and results[-1] == (200, b"v2"), timeout=15
        )
        assert not held.done()
        gate.release()
        assert held.result() == (200, b"slept")
    assert wait_until(lambda: results.count((200, b"v2")) >= 10, timeout=15)
    stop.set()
    for t in loops:
        t.join(30)
    failures = [r for r in results if r[0] != 200]
    assert not failures, failures[:3]
    assert len(results) > 20
    assert {body for _, body in results} == {b"v1", b"v2"}
    assert wait_until(lambda: not old & set(children_of(srv)), timeout=10)
    assert srv.proc.poll() is None


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
@pytest.mark.parametrize("how", ["stop", "graceful-stop"])
def test_stop_after_traffic_is_quick(apache, mpm, how):
    # mod_wsgi's embedded mode hangs here; Python is never finalized by us
    srv = apache(mpm=mpm, workers=2)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: fetch(srv.url("/who")), range(60)))
    assert all(status == 200 for status, _ in results)
    assert fetch(srv.url("/raise"))[0] == 500
    assert fetch(srv.url("/spawn")) == (
        200,
        b"spawned",
    )  # a thread that never ends
    start = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM if how == "stop" else signal.SIGWINCH)
    srv.proc.wait(15)
    took = time.monotonic() - start
    assert took < 3, "%s took %.1f s" % (how, took)
    assert srv.proc.returncode == 0
    assert "still did not exit" not in srv.error_log()


def test_graceful_stop_finishes_in_flight_requests(apache, gate):
    srv = apache(threads=8)
    results, took = harness.stop_while_held(srv, gate, "/sleep?s=0", 4)
    assert results == [(200, b"slept")] * 4
    assert took < 5, "graceful stop took %.1f s" % took


def write_app(tmp_path, text):
    path = tmp_path / "bad_app.py"
    path.write_text(text)
    return path


def test_import_error_at_child_start_is_logged_and_answers_500(
    apache, tmp_path
):
    # the config-time check imports it first (mod_pywsgi_check.c) and that
    # import succeeds: only the children's imports fail
    mark = tmp_path / "imported-once"
    bad = write_app(
        tmp_path,
        "import os\nMARK = %r\n\ndef helper():\n"
        "    raise ValueError('cannot start here')\n\n\n"
        "if os.path.exists(MARK): helper()\n"
        "open(MARK, 'w').close()\n\n\ndef application(e, s):\n    pass\n"
        % str(mark),
    )
    srv = apache({"/bad": str(bad), "/": APP}, workers=2)
    assert wait_until(
        lambda: srv.error_log().count("ValueError: cannot start here") == 2
    )
    pids = children_of(srv, 2)
    log = srv.error_log()
    assert "[pywsgi:crit]" in log
    assert "PyWSGIApp /bad %s" % bad in log and "cannot be loaded" in log
    assert "Traceback (most recent call last)" in log
    assert 'line 8, in <module>' in log and "in helper" in log
    # the broken mount answers 500 at once, the others keep working
    for _ in range(5):
        assert fetch(srv.url("/bad/x"))[0] == 500
    assert fetch(srv.url("/version")) == (200, b"v1")
    assert "did not load in this child" in srv.error_log()
    # no respawn loop: the children that logged it served all that
    assert children_of(srv) == pids
    assert srv.error_log().count("ValueError: cannot start here") == 2


def config_test(tmp_path, spec, **options):
    options = harness.servers.Options(
        mounts=[harness.Mount("/", spec)], port=harness.free_port(), **options
    )
    server = harness.servers.get("apache")(options, str(tmp_path / "w"))
    return server.check_config(server.write_config())


def test_config_test_reports_a_missing_app_file(tmp_path):
    problem = config_test(tmp_path, str(tmp_path / "missing.py:app"))
    assert problem is not None
    assert "%s: no such file" % (tmp_path / "missing.py") in problem
    assert "Syntax error on line" in problem


def test_config_test_accepts_modules_and_existing_files(tmp_path):
    good = write_app(tmp_path, "def application(e, s):\n    pass\n")
    assert config_test(tmp_path, str(good) + ":application") is None
    assert (
        config_test(tmp_path, "bad_app:application", python_path=[tmp_path])
        is None
    )


def test_config_test_reports_a_missing_module(tmp_path):
    problem = config_test(tmp_path, "some.module:app")
    assert problem and "PyWSGIApp / some.module:app" in problem
    assert "some.module: no such module on sys.path" in problem


def test_config_test_reports_a_missing_python_home(tmp_path):
    good = write_app(tmp_path, "def application(e, s):\n    pass\n")
    problem = config_test(
        tmp_path, str(good), python_home=str(tmp_path / "novenv")
    )
    assert (
        problem
        and "PyWSGIPythonHome" in problem
        and "no such directory" in problem
    )


def test_an_app_that_cannot_be_imported_fails_the_config_test_and_start(
    tmp_path,
):
    bad = write_app(
        tmp_path,
        "def helper():\n    raise ValueError('cannot start here')\n\n"
        "helper()\n",
    )
    problem = config_test(tmp_path, str(bad))
    assert problem and "PyWSGIApp / %s" % bad in problem
    assert "cannot be loaded" in problem
    assert "ValueError: cannot start here" in problem
    assert "line 4, in <module>" in problem
    # Apache opens its ports on the first of its two readings, the check
    # runs on the second: the server exits at once, without serving
    options = harness.servers.Options(
        mounts=[harness.Mount("/", str(bad))], port=harness.free_port()
    )
    server = harness.servers.get("apache")(options, str(tmp_path / "srv"))
    proc = subprocess.run(
        server.argv(server.write_config()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "ValueError: cannot start here" in proc.stderr
    assert "Configuration check failed" in proc.stderr
