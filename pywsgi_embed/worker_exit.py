"""os._exit() from an app: the worker's exit status is the server's.

Servers read a worker's exit status as an order: nginx never respawns a
worker that exits with 2 (with one worker the site is down for good, the
master holding the port), Apache shuts the whole server down when a
child exits with 15 (APEXIT_CHILDFATAL) and slows its spawning on 7
(APEXIT_CHILDSICK).  An app that calls os._exit(2) must not give either
order.  So an app's os._exit(n) is logged, with where it was called, and
the worker exits with 1 instead of any status but 0 and 1: both servers
answer that with a new worker.

os._exit() calls _exit() at once (no atexit, no exception anyone could
catch), so the function itself is replaced, in os and in posix (where
"from os import _exit" and "posix._exit" find it), before the app is
imported.  sys.exit() needs nothing: it raises SystemExit, which a request
turns into a 500.  A process the worker forks keeps the real _exit: its
status is the app's business.
"""

import operator
import os
import posix
import traceback

_real_exit = posix._exit
_worker_pid = None
_log = None


def install(log):
    """From now on, os._exit() in this process goes through guarded_exit;
    log(text) writes to the server's error log."""
    global _worker_pid, _log
    _worker_pid = os.getpid()
    _log = log
    os._exit = posix._exit = guarded_exit


def worker_status(status):
    """The exit status the worker gets for the app's os._exit(status)."""
    return status if status in (0, 1) else 1


def guarded_exit(status):
    """os._exit(), with the status remapped in the worker (see above)."""
    status = operator.index(status)
    if os.getpid() != _worker_pid:
        _real_exit(status)
    code = worker_status(status)
    try:
        where = "".join(traceback.format_stack(limit=8)[:-1])
        _log(
            "pywsgi: the app called os._exit(%d) in worker %d: it exits "
            "with status %d%s\n%s"
            % (
                status,
                _worker_pid,
                code,
                ""
                if code == status
                else " (a status the server reads as an order)",
                where,
            )
        )
    finally:
        _real_exit(code)
