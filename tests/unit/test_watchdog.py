"""The request timeout (pywsgi_embed/watchdog.py), in-process: a step past
its time gets RequestTimeout raised in its thread, its stack logged, a
504 if nothing was sent, a dropped connection otherwise; close() runs;
no exception outlives its request.  The apps poll in short sleeps (as an
app waiting on something does), bounded in count."""

import threading
import time

from pywsgi_embed import watchdog
from pywsgi_embed.response import RequestTimeout
from tests.unit.recorder import ABORT, DONE, MORE

TIMEOUT_MS = 200
POLLS = 1000  # 10 s of 10 ms sleeps: far past the timeout


def poll_forever(marker=None):
    """Sleep in short slices until interrupted; False if never was."""
    for _ in range(POLLS):
        if marker is not None:
            marker.set()
        time.sleep(0.01)
    return False


def stuck_app(environ, start_response):
    poll_forever()
    start_response("200 OK", [])
    return [b"too late"]


class Stalling:
    """Yields one chunk, then stalls; counts its close() calls."""

    def __init__(self):
        self.closed = 0

    def __iter__(self):
        yield b"first"
        poll_forever()
        yield b"never"

    def close(self):
        self.closed += 1


def worker_log(server):
    return "\n".join(text for level, text in server.worker_logs)


def test_stuck_app_gets_504_and_its_stack_logged(server):
    app = server.add_app(stuck_app)
    code, seen = server.run(
        app, env=[("REQUEST_URI", "/slow?x=1")], timeout_ms=TIMEOUT_MS
    )
    assert code == DONE
    assert seen.status == 504
    assert bytes(seen.body) == b"504 Gateway Timeout"
    log = worker_log(server)
    assert "request timed out: GET /slow?x=1 HTTP/1.1 from 127.0.0.1" in log
    assert "in poll_forever" in log and "in stuck_app" in log
    assert "timed out: 504" in seen.log_text()
    assert not watchdog._running


def test_step_mode_gets_504(server):
    codes, seen = server.steps(
        server.add_app(stuck_app), timeout_ms=TIMEOUT_MS
    )
    assert codes == [DONE]
    assert seen.status == 504
    assert not watchdog._running


def stalling_app(body):
    def app(environ, start_response):
        start_response("200 OK", [])
        return body

    return app


def test_stall_mid_body_drops_the_connection_and_closes(server):
    body = Stalling()
    code, seen = server.run(server.add_app(stalling_app(body)), timeout_ms=200)
    assert code == ABORT
    assert bytes(seen.body) == b"first"
    assert body.closed == 1
    assert "after its response began" in seen.log_text()


def test_stall_mid_body_in_step_mode(server):
    body = Stalling()
    codes, seen = server.steps(
        server.add_app(stalling_app(body)), timeout_ms=TIMEOUT_MS
    )
    assert codes == [MORE, ABORT]
    assert bytes(seen.body) == b"first"
    assert body.closed == 1


def test_each_chunk_has_its_own_time(server):
    """Chunks that each come within the timeout never time out, however
    long the whole response takes (10 x 60 ms against 200 ms)."""

    def app(environ, start_response):
        start_response("200 OK", [])
        for i in range(10):
            time.sleep(0.06)
            yield b"%d" % i

    code, seen = server.run(server.add_app(app), timeout_ms=TIMEOUT_MS)
    assert code == DONE
    assert bytes(seen.body) == b"0123456789"


def test_no_timeout_is_not_in_the_table_but_in_the_report(server):
    """Without a timeout a request costs the table nothing: the stacks
    dump finds it through its thread's frames."""
    seen = []

    def app(environ, start_response):
        seen.append(threading.get_ident() in watchdog._running)
        seen.append(watchdog.report())
        start_response("200 OK", [])
        return [b"ok"]

    code, _ = server.run(server.add_app(app), env=[("REQUEST_URI", "/u")])
    assert code == DONE
    assert seen[0] is False
    assert "1 request(s) running" in seen[1] and "GET /u HTTP/1.1" in seen[1]
    codes, _ = server.steps(server.add_app(app), env=[("REQUEST_URI", "/s")])
    assert codes == [DONE]
    assert seen[2] is False and "GET /s HTTP/1.1" in seen[3]


def test_a_late_exception_never_reaches_the_next_request(server):
    """The step ended just as RequestTimeout was raised: leave() clears
    it, so the next code of the thread runs undisturbed."""

    def app(environ, start_response):
        flight = watchdog._running[threading.get_ident()]
        watchdog._interrupt(flight, time.monotonic())  # as the watchdog does
        start_response("200 OK", [])
        return [b"ok"]

    code, seen = server.run(server.add_app(app), timeout_ms=60000)
    # raised at the app's next bytecode, or cleared: never afterwards
    assert code == DONE and seen.status in (200, 504)
    for _ in range(1000):  # bytecodes where a pending exception would land
        pass


def test_swallowed_timeout_is_reported_stuck(server, monkeypatch):
    """An app that catches RequestTimeout and goes on is past its grace
    period one timeout later: the worker is asked to retire."""
    reasons = []
    monkeypatch.setattr(watchdog, "on_stuck", reasons.append)

    def app(environ, start_response):
        try:
            poll_forever()
        except RequestTimeout:
            pass
        for _ in range(POLLS):
            if reasons:
                break
            time.sleep(0.01)
        start_response("200 OK", [])
        return [b"survived"]

    code, seen = server.run(server.add_app(app), timeout_ms=TIMEOUT_MS)
    assert code == DONE and bytes(seen.body) == b"survived"
    assert len(reasons) == 1 and "did not unwind" in reasons[0]
    assert "stuck outside Python" in worker_log(server)


def test_report_lists_requests_running(server):
    started = threading.Event()
    release = threading.Event()
    report = []

    def app(environ, start_response):
        started.set()
        release.wait(10)
        start_response("200 OK", [])
        return [b"ok"]

    app_id = server.add_app(app)
    worker = threading.Thread(
        target=server.run,
        args=(app_id,),
        kwargs=dict(env=[("REQUEST_URI", "/held")], timeout_ms=60000),
    )
    worker.start()
    try:
        assert started.wait(10)
        report.append(watchdog.report())
    finally:
        release.set()
        worker.join(10)
    assert "1 request(s) running" in report[0]
    assert "GET /held HTTP/1.1" in report[0]
    assert "release.wait(10)" in report[0]


def test_stacks_signal_logs_the_report(server):
    """SIGURG to the process: the watchdog logs every running request."""
    import os
    import signal

    started = threading.Event()
    release = threading.Event()

    def app(environ, start_response):
        started.set()
        release.wait(10)
        start_response("200 OK", [])
        return [b"ok"]

    app_id = server.add_app(app)
    worker = threading.Thread(
        target=server.run,
        args=(app_id,),
        kwargs=dict(env=[("REQUEST_URI", "/signalled")], timeout_ms=60000),
    )
    worker.start()
    try:
        assert started.wait(10)
        os.kill(os.getpid(), signal.SIGURG)
        for _ in range(1000):
            if "GET /signalled" in worker_log(server):
                break
            time.sleep(0.01)
    finally:
        release.set()
        worker.join(10)
    log = worker_log(server)
    assert "1 request(s) running in this worker" in log
    assert "GET /signalled HTTP/1.1 from 127.0.0.1" in log
    assert "release.wait(10)" in log
