"""Request metrics of every worker of a server, in memory they all share.

The same for nginx and Apache: a file in /dev/shm named after the
server's master process (the parent of the workers, with its start time,
so a reused pid starts afresh), mapped by every worker.  It holds one
slot of 64-bit counters per worker; a worker claims the first slot it
can lock (fcntl, for as long as it lives: a dead worker's lock goes with
it) and only ever writes its own slot.  A new worker that takes the slot
of a dead one keeps its counters, so totals never go down when workers
are recycled (Prometheus counters must not), and resets its gauges; a
reader counts the gauges of live workers only.

Counting is wanted once the status app is loaded (a location with
`pywsgi_app pywsgi_embed.status:application;`, see status.py) and starts
with the first request of the worker (not in the child that checks the
apps at config time): a server without one pays nothing.  Then each
request is counted once it ends: its status class, its latency (a
histogram), a cut connection; and, from its start to its end, in flight.
The watchdog adds timeouts; the module adds its own counts and gauges
in C (the 503s and the length of nginx's queue).

A counter's increment and its read are separate operations: they are
made under the worker's lock, so the threads of a worker never lose one.
Readers (the status app, in any worker) read the others' slots without
locks: a figure may be a request behind, never torn (aligned 64 bits).
"""

import fcntl
import mmap
import os
import threading
import time

SLOTS = 128  # workers of one server, alive or recycled
APPS = 8  # apps per worker that get their own figures
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# fields of an app's part of a slot
CLASSES = 0  # 6 counters: 1xx, 2xx, 3xx, 4xx, 5xx, no status
IN_FLIGHT = 6
TIMEOUTS = 7
CUT = 8  # responses ended by a dropped connection
LATENCY_SUM = 9  # microseconds
HISTOGRAM = 10  # len(BUCKETS) + 1 counters, the last one +Inf
# the module's gauges (pywsgi_gauge_add() in C), PYWSGI_GAUGES of them
GAUGES = HISTOGRAM + len(BUCKETS) + 1
QUEUED = GAUGES + 0  # PYWSGI_GAUGE_QUEUED: requests waiting for a thread
APP_FIELDS = QUEUED + 1
# fields of a slot before its apps
PID = 0
STARTS = 1  # workers that took this slot
THREADS = 2  # threads that ran a request in the worker now in the slot
QUEUE_TIMEOUTS = 3  # 503s of the module's queue timeout (pywsgi_count()
QUEUE_FULL = 4  # in C: PYWSGI_COUNT_QUEUE_TIMEOUT, _FULL), of its bound
HEAD = 5
SLOT_FIELDS = HEAD + APPS * APP_FIELDS
SLOT_BYTES = SLOT_FIELDS * 8

_lock = threading.Lock()
_view = None  # the whole file as 64-bit integers, once enabled
_base = -1  # our slot's first field
_threads = set()
names = {}  # app id -> its spec, for the labels

OFF = 0  # no status app: nothing is counted
WANTED = 1  # the status app is loaded: count from the first request
ON = 2  # counting, in our slot
state = OFF


def want():
    global state
    if state == OFF:
        state = WANTED


def path_of(master):
    """The shared file of the server whose master process is `master`."""
    try:
        with open("/proc/%d/stat" % master) as f:
            started = f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = "0"
    return "/dev/shm/pywsgi-metrics-%d-%s-%d" % (master, started, os.getuid())


def enable(master=None):
    """Count from now on in this worker (idempotent)."""
    global _view, _base, state
    with _lock:
        if state == ON:
            return
        path = path_of(master or os.getppid())
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(fd).st_size < SLOTS * SLOT_BYTES:
            os.ftruncate(fd, SLOTS * SLOT_BYTES)
        mapped = mmap.mmap(fd, SLOTS * SLOT_BYTES)
        for slot in range(SLOTS):
            try:
                fcntl.lockf(
                    fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot * SLOT_BYTES
                )
            except OSError:
                continue
            break
        else:
            os.close(fd)
            raise RuntimeError("no free metrics slot in %s" % path)
        # fd stays open: closing any descriptor of the file drops the lock
        _view = memoryview(mapped).cast("q")
        _base = slot * SLOT_FIELDS
        _view[_base + PID] = os.getpid()
        _view[_base + STARTS] += 1
        _view[_base + THREADS] = 0
        for app in range(APPS):
            _view[_base + HEAD + app * APP_FIELDS + IN_FLIGHT] = 0
            _view[_base + HEAD + app * APP_FIELDS + QUEUED] = 0
        _count_in_c(mapped, slot)
        state = ON


def _count_in_c(mapped, slot):
    """pywsgi_count() and pywsgi_gauge_add() of the module add to our
    slot from now on."""
    from pywsgi_embed._gateway import ffi, lib

    global _c_view
    _c_view = ffi.from_buffer("int64_t[]", mapped)  # kept: C holds it
    base = slot * SLOT_FIELDS
    lib.pywsgi_gw_set_counters(_c_view + base + QUEUE_TIMEOUTS)
    lib.pywsgi_gw_set_gauges(_c_view + base + HEAD + GAUGES, APP_FIELDS, APPS)


_c_view = None


def begin(app, tid):
    """A request's app code starts running (app: the gateway's id)."""
    if app >= APPS:
        return
    with _lock:
        _view[_base + HEAD + app * APP_FIELDS + IN_FLIGHT] += 1
        if tid not in _threads:
            _threads.add(tid)
            _view[_base + THREADS] = len(_threads)


def end(app, code, seconds, cut):
    """A request ended: its status code (0: none), latency, and whether
    its connection was dropped."""
    if app >= APPS:
        return
    at = _base + HEAD + app * APP_FIELDS
    cls = code // 100 - 1 if 100 <= code < 600 else 5
    bucket = HISTOGRAM + len(BUCKETS)
    for i, bound in enumerate(BUCKETS):
        if seconds <= bound:
            bucket = HISTOGRAM + i
            break
    view = _view
    with _lock:
        view[at + IN_FLIGHT] -= 1
        view[at + CLASSES + cls] += 1
        view[at + LATENCY_SUM] += int(seconds * 1e6)
        view[at + bucket] += 1
        if cut:
            view[at + CUT] += 1


def timed_out(app):
    if state == ON and app < APPS:
        with _lock:
            _view[_base + HEAD + app * APP_FIELDS + TIMEOUTS] += 1


# -- reading ----------------------------------------------------------------


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def snapshot():
    """The figures of every app summed over all workers of the server, and
    the workers' own: a dict (the JSON of the status app)."""
    view = _view
    workers = []
    apps = {app: _empty(name) for app, name in names.items() if app < APPS}
    starts = shed_late = shed_full = 0
    for slot in range(SLOTS):
        base = slot * SLOT_FIELDS
        if not view[base + STARTS]:
            continue
        starts += view[base + STARTS]
        shed_late += view[base + QUEUE_TIMEOUTS]
        shed_full += view[base + QUEUE_FULL]
        pid = view[base + PID]
        alive = _alive(pid)
        busy = queued = 0
        for app, figures in apps.items():
            at = base + HEAD + app * APP_FIELDS
            _add(figures, view, at, alive)
            busy += view[at + IN_FLIGHT] if alive else 0
            queued += view[at + QUEUED] if alive else 0
        if alive:
            threads = view[base + THREADS]
            workers.append(
                {
                    "pid": pid,
                    "busy_threads": busy,
                    "idle_threads": max(threads - busy, 0),
                    "queued": queued,
                }
            )
    return {
        "time": time.time(),
        "workers": workers,
        "worker_starts": starts,
        "recycles": max(starts - len(workers), 0),
        "shed": {"queue_timeout": shed_late, "queue_full": shed_full},
        "busy_threads": sum(w["busy_threads"] for w in workers),
        "idle_threads": sum(w["idle_threads"] for w in workers),
        "queued": sum(w["queued"] for w in workers),
        "apps": list(apps.values()),
    }


def _empty(name):
    return {
        "app": name,
        "requests": {c: 0 for c in ("1xx", "2xx", "3xx", "4xx", "5xx")},
        "no_status": 0,
        "in_flight": 0,
        "queued": 0,
        "timeouts": 0,
        "cut": 0,
        "latency": {
            "sum_seconds": 0.0,
            "buckets": {str(b): 0 for b in BUCKETS + ("+Inf",)},
        },
    }


def _add(figures, view, at, alive):
    requests = figures["requests"]
    for i, cls in enumerate(("1xx", "2xx", "3xx", "4xx", "5xx")):
        requests[cls] += view[at + CLASSES + i]
    figures["no_status"] += view[at + CLASSES + 5]
    if alive:
        figures["in_flight"] += view[at + IN_FLIGHT]
        figures["queued"] += view[at + QUEUED]
    figures["timeouts"] += view[at + TIMEOUTS]
    figures["cut"] += view[at + CUT]
    latency = figures["latency"]
    latency["sum_seconds"] += view[at + LATENCY_SUM] / 1e6
    running = 0
    buckets = latency["buckets"]
    for i, bound in enumerate(BUCKETS + ("+Inf",)):
        running += view[at + HISTOGRAM + i]
        buckets[str(bound)] += running  # cumulative, as Prometheus has it
