"""Requests in flight and the watchdog that times them out.

The same for both servers: each worker's gateway keeps a table of the
requests whose app code runs right now (thread id -> InFlight: the
environ, when the request and its current step began, its timeout).  A
step is the app's call up to its first body chunk, or one more chunk of
its iterable.  A request with a timeout starts the watchdog, one daemon
thread per worker, which every tick looks for steps past their time:

  RUNNING      the step runs; past its timeout the watchdog logs the
               request line, its age and the Python stack of its thread,
               and raises RequestTimeout in that thread
               (PyThreadState_SetAsyncExc) -> INTERRUPTED
  INTERRUPTED  the exception is on its way: it surfaces at the thread's
               next Python bytecode, the response answers 504 (nothing
               sent yet) or drops the connection, close() of the
               iterable runs, the thread serves again.  A thread that is
               still in the step a grace period (one more timeout) later
               is stuck in C (a blocking call never returns to Python):
               -> STUCK, and the worker is asked to retire (on_stuck)
  STUCK        logged once; the worker retires gracefully

An asynchronous exception only reaches Python code: a thread blocked in C
(time.sleep(60), a database driver waiting on its socket, ctypes) sees it
when that call returns.  Inline mode on nginx runs the app on the event
loop thread: the same exception reaches pure-Python code there, but while
the loop is blocked in C nothing of the worker moves, so the watchdog can
only log the stack.

report() gives the stack of every request whose app code runs, with its
request line and age, without stopping anything (the stacks dump): the
watchdog logs it when the worker gets SIGURG (`kill -URG <worker pid>`),
a signal both servers leave alone and whose default is to be ignored.
"""

import ctypes
import os
import select
import signal
import sys
import threading
import time
import traceback

from pywsgi_embed import metrics, response
from pywsgi_embed._gateway import ffi, lib
from pywsgi_embed.response import ABORT, MORE, RequestTimeout, Response

RUNNING = "running"
INTERRUPTED = "interrupted"
STUCK = "stuck"

_monotonic = time.monotonic
_get_ident = threading.get_ident

_running = {}  # thread id -> InFlight while app code of a step runs (a
# request with a timeout or counted; report() finds the others' frames)
_lock = threading.Lock()  # the watchdog's check-and-raise against the
# thread's own leave(): an exception never outlives its step
_thread = None  # the watchdog, started by the first app's load
_tick = None  # seconds between rounds (a tenth of the shortest timeout),
# None until a request has a timeout: the watchdog only waits for a signal
_wake_r = _wake_w = -1  # its pipe: the stacks signal, a new tick
STACKS_SIGNAL = signal.SIGURG  # ignored by default, used by neither server
_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int


def _retire(reason):
    """Retire this worker gracefully (the recycle mechanism: csrc/
    pywsgi_recycle.c): it stops taking connections, lets the requests in
    flight on other threads finish, exits, and the server starts a fresh
    one; the stuck thread is bounded by the retire timeout."""
    lib.pywsgi_gw_retire(
        ("a request timed out and " + reason).encode(
            "utf-8", "backslashreplace"
        )
    )


on_stuck = _retire  # called once per stuck thread, with the reason


class InFlight:
    """One request whose app code runs on a thread."""

    __slots__ = (
        "tid",
        "environ",
        "began",
        "step",
        "timeout",
        "state",
        "fired",
        "app",
    )

    def __init__(self, tid, environ, timeout, app=0):
        self.app = app  # the gateway's id, for the metrics
        self.tid = tid
        self.environ = environ
        self.began = self.step = _monotonic()
        self.timeout = timeout  # seconds, 0: none
        self.state = RUNNING
        self.fired = 0.0  # when RequestTimeout was raised

    def line(self):
        """The request line, for the log."""
        env = self.environ
        return "%s %s %s from %s" % (
            env.get("REQUEST_METHOD", "-"),
            env.get("REQUEST_URI")
            or env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", ""),
            env.get("SERVER_PROTOCOL", "-"),
            env.get("REMOTE_ADDR", "-"),
        )


def enter(environ, timeout, app=0):
    """The calling thread runs the first step of this request (timeout in
    seconds, 0 for none; app: the gateway's id of its app)."""
    tid = _get_ident()
    flight = _running[tid] = InFlight(tid, environ, timeout, app)
    if metrics.state:
        metered(flight)
    if timeout and (_tick is None or timeout < _tick * 10):
        _set_tick(timeout)
    return flight


def resume(flight):
    """The request goes on with its next chunk, on the calling thread (in
    step mode, maybe another one): its step clock restarts."""
    flight.tid = tid = _get_ident()
    flight.step = _monotonic()
    flight.state = RUNNING
    _running[tid] = flight


def leave(flight):
    """The step is over.  No RequestTimeout may be left pending for this
    thread: it would land in whatever the thread runs next."""
    tid = flight.tid
    if not flight.timeout:  # the watchdog never acts on it
        _running.pop(tid, None)
        return
    with _lock:
        if _running.get(tid) is flight:
            del _running[tid]
        fired = flight.state is not RUNNING
    if fired:
        _set_async_exc(tid, ctypes.py_object())  # NULL: clear it


def timed(resp, fn, *args):
    """fn(*args), a step of resp, watched.  A RequestTimeout that
    surfaces in the gateway's own code (raised just as the app's part
    ended) still gives the 504 or the dropped connection."""
    try:
        try:
            return fn(*args)
        finally:
            leave(resp.flight)
    except RequestTimeout:
        return resp.timed_out()


def metered(flight):
    """The request of flight begins: count it (metrics.py)."""
    if metrics.state == metrics.WANTED:
        metrics.enable()
    metrics.begin(flight.app, flight.tid)


def ended(resp, code):
    """resp ended with code (DONE or ABORT): count it."""
    flight = resp.flight
    if flight is not None and metrics.state == metrics.ON:
        status = getattr(resp, "code", 0) if resp.started else 0
        metrics.end(
            flight.app, status, _monotonic() - flight.began, code == ABORT
        )


def first_step(handle, environ, call, timeout, app=0):
    """response.start() watched (pywsgi_start: nginx): DONE or ABORT, or
    the Response, whose next steps next_step() takes."""
    resp = Response(handle, environ, call)
    resp.flight = enter(environ, timeout, app)
    code = timed(resp, resp.begin, call)
    if code == MORE:
        return resp
    resp.close()
    ended(resp, code)
    return code


def next_step(resp):
    """One more chunk of resp, watched (pywsgi_next)."""
    resume(resp.flight)
    code = timed(resp, resp.pull)
    if code != MORE:
        resp.close()
        ended(resp, code)
    return code


def run(handle, environ, call, timeout, app=0):
    """response.run() watched: one request to its end, each chunk a step
    (pywsgi_handle: Apache, the tests' host)."""
    resp = Response(handle, environ, call)
    flight = resp.flight = enter(environ, timeout, app)
    try:
        try:
            code = resp.begin(call)
            while code == MORE:
                resume(flight)
                code = resp.pull()
        finally:
            leave(flight)
    except RequestTimeout:
        code = resp.timed_out()
    resp.close()
    ended(resp, code)
    return code


def start():
    """Start this worker's watchdog (gateway.load, once per process): it
    waits for the stacks signal and, once a request has a timeout, looks
    at the steps every tick."""
    global _thread, _wake_r, _wake_w
    with _lock:
        if _thread is not None:
            return
        _wake_r, _wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        if lib.pywsgi_gw_stacks_signal(STACKS_SIGNAL, _wake_w) != 0:
            response.log(
                0,
                response.LOG_WARN,
                "pywsgi: no stacks dump on signal %d: %s"
                % (STACKS_SIGNAL, os.strerror(ffi.errno)),
            )
        _thread = threading.Thread(
            target=_watch, name="pywsgi-watchdog", daemon=True
        )
        _thread.start()


def _set_tick(timeout):
    """Rounds a tenth of the shortest timeout apart, 10 ms to 1 s."""
    global _tick
    _tick = min(max(timeout / 10.0, 0.01), 1.0)
    if _thread is None:
        start()
    try:
        os.write(_wake_w, b"t")  # the watchdog takes the new tick now
    except BlockingIOError:
        pass


def _watch():
    while True:
        try:
            if select.select([_wake_r], [], [], _tick)[0]:
                if b"s" in os.read(_wake_r, 512):
                    response.log(0, response.LOG_ERROR, report())
            if _tick is not None:
                _round(_monotonic())
        except Exception:
            response.log(
                0,
                response.LOG_ERROR,
                "pywsgi: watchdog error\n" + traceback.format_exc(),
            )


def _round(now):
    for flight in list(_running.values()):
        if not flight.timeout:
            continue
        if flight.state is RUNNING and now - flight.step > flight.timeout:
            _interrupt(flight, now)
        elif (
            flight.state is INTERRUPTED and now - flight.fired > flight.timeout
        ):
            _stuck(flight, now)


def _interrupt(flight, now):
    """Log the late step's stack, then raise RequestTimeout in its thread:
    in that order, under the lock, so that the log has the reason before
    the request's 504 (or dropped connection) can go out."""
    stack = _stack_of(flight.tid)
    with _lock:
        if (
            _running.get(flight.tid) is not flight
            or flight.state is not RUNNING
        ):
            return
        flight.state = INTERRUPTED
        flight.fired = now
        response.log(
            0,
            response.LOG_ERROR,
            "pywsgi: request timed out: %s, %.1f s in its current step "
            "(timeout %g s), %.1f s in all; RequestTimeout raised in its "
            "thread %d, which was at:\n%s"
            % (
                flight.line(),
                now - flight.step,
                flight.timeout,
                now - flight.began,
                flight.tid,
                stack,
            ),
        )
        _set_async_exc(flight.tid, ctypes.py_object(RequestTimeout))
    metrics.timed_out(flight.app)


def _stuck(flight, now):
    flight.state = STUCK
    reason = (
        "the thread of %s did not unwind %.1f s after its RequestTimeout: "
        "stuck outside Python" % (flight.line(), now - flight.fired)
    )
    response.log(
        0,
        response.LOG_ERROR,
        "pywsgi: %s; it is at:\n%s" % (reason, _stack_of(flight.tid)),
    )
    on_stuck(reason)


_HERE = os.path.dirname(os.path.abspath(__file__))
_GATEWAY = {  # the files of the frames above an app's first one
    os.path.join(_HERE, name)
    for name in ("gateway.py", "watchdog.py", "response.py")
}


def _stack_of(tid):
    """The Python stack of a thread, from the app's first frame (the
    gateway's own frames above it say nothing about the app)."""
    frame = sys._current_frames().get(tid)
    if frame is None:
        return "  (no Python frame)"
    stack = traceback.extract_stack(frame)
    first = 0
    while first < len(stack) - 1 and stack[first].filename in _GATEWAY:
        first += 1
    return "".join(traceback.format_list(stack[first:])).rstrip("\n")


_untimed = ()  # code objects of the gateway's frames with environ, began
_untimed_in_c = list  # () -> (thread id, environ, began) of the others


def untimed_frames(codes, running):
    """The gateway's functions that run a request without a timeout: they
    keep `environ` and `began` as locals, found here through the frame;
    running() gives the same of the apps that C called without a frame of
    ours (csrc/gateway_respond.c)."""
    global _untimed, _untimed_in_c
    _untimed = codes
    _untimed_in_c = running


def _flights():
    """Every request running app code: the table's, and the untimed ones
    found in the threads' frames."""
    flights = list(_running.values())
    timed = {flight.tid for flight in flights}
    for tid, frame in sys._current_frames().items():
        if tid in timed:
            continue
        while frame is not None and frame.f_code not in _untimed:
            frame = frame.f_back
        if frame is None:
            continue
        found = frame.f_locals
        if "began" not in found or "environ" not in found:
            continue
        flights.append(_untimed_flight(tid, found["environ"], found["began"]))
        timed.add(tid)
    for tid, environ, began in _untimed_in_c():
        if tid not in timed:  # a thread is listed once
            flights.append(_untimed_flight(tid, environ, began))
    return flights


def _untimed_flight(tid, environ, began):
    flight = InFlight(tid, environ, 0)
    flight.began = flight.step = began
    return flight


def _began(flight):
    return flight.began


def report():
    """Every request whose app code runs now: its request line, age, state
    and Python stack (the stacks dump)."""
    now = _monotonic()
    flights = sorted(_flights(), key=_began)
    parts = ["pywsgi: %d request(s) running in this worker" % len(flights)]
    for flight in flights:
        parts.append(
            "%s: %.3f s old, %.3f s in its current step, %s, thread %d:\n%s"
            % (
                flight.line(),
                now - flight.began,
                now - flight.step,
                flight.state,
                flight.tid,
                _stack_of(flight.tid),
            )
        )
    return "\n".join(parts)
