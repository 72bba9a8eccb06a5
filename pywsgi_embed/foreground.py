"""Running a server in the foreground until it exits or is told to stop.

The stop escalates through named states, each bounded in time:

    RUNNING   the server serves; SIGINT/SIGTERM -> GRACEFUL
    GRACEFUL  the server's graceful stop (in-flight requests finish), for
              at most `graceful_timeout` seconds; then, or on a second
              signal -> FAST
    FAST      the server's fast stop (requests are dropped), for at most
              FAST_STOP_TIMEOUT seconds; then, or on a third signal -> KILLED
    KILLED    SIGKILL to the server's whole process group

so a stop never takes longer than graceful_timeout + FAST_STOP_TIMEOUT,
even with a request stuck in the app (nginx waits for its thread pools,
and a thread running Python cannot be interrupted).

Signals arrive through signal.set_wakeup_fd and select(): a handler that
only records them, and a wait that returns when one arrives, instead of
Popen.wait(), which Python restarts after every handler (PEP 475) and so
never sees its own deadline.
"""

import enum
import fcntl
import os
import select
import signal
import stat
import subprocess
import sys
import time

FAST_STOP_TIMEOUT = 5.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class State(enum.Enum):
    RUNNING = "running"
    GRACEFUL = "graceful"
    FAST = "fast"
    KILLED = "killed"


def say(message):
    print("pywsgi-embed: " + message, file=sys.stderr, flush=True)


class Foreground:
    """One server process and the state of its stop."""

    def __init__(
        self, server, argv, graceful_timeout, watch=None, started=None
    ):
        self.server = server
        self.argv = argv
        self.graceful_timeout = graceful_timeout
        # while RUNNING, watch.poll(server, proc) every watch.interval s
        # (serve --reload); started(proc) once the server runs, which may
        # return what to do once it ended
        self.watch = watch
        self.started = started
        self.state = State.RUNNING
        self.deadline = None  # when the current state gives up
        self.proc = None

    def escalate(self, reason):
        """Move to the next state and act on the server."""
        name = self.server.name
        if self.state is State.RUNNING:
            self.state = State.GRACEFUL
            self.deadline = time.monotonic() + self.graceful_timeout
            say(
                "stopping %s (%s): in-flight requests have %g s to finish; "
                "Ctrl-C again to stop now"
                % (name, reason, self.graceful_timeout)
            )
            self.signal(self.server.stop_signal)
        elif self.state is State.GRACEFUL:
            self.state = State.FAST
            self.deadline = time.monotonic() + FAST_STOP_TIMEOUT
            say(
                "%s: fast stop of %s, dropping the requests in flight"
                % (reason, name)
            )
            self.signal(self.server.hard_stop_signal)
        elif self.state is State.FAST:
            self.state = State.KILLED
            self.deadline = None
            say("%s: killing %s" % (reason, name))
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def signal(self, signum):
        try:
            self.proc.send_signal(signum)
        except ProcessLookupError:
            pass

    def timeout(self):
        if self.deadline is None:
            if self.state is State.RUNNING and self.watch is not None:
                return self.watch.interval
            return None
        return max(0.0, self.deadline - time.monotonic())

    def run(self):
        """Start the server and wait; the exit status of `serve`."""
        for fd in (1, 2):
            append_if_file(fd)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        handlers = {s: signal.signal(s, _record) for s in STOP_SIGNALS}
        handlers[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, _record)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        try:
            # its own session: the terminal's Ctrl-C reaches only us, and
            # SIGKILL can take the whole group (master and workers)
            self.proc = subprocess.Popen(self.argv, start_new_session=True)
            ended = self.started(self.proc) if self.started else None
            try:
                return self._wait(wake_r)
            finally:
                if ended is not None:
                    self.proc.wait()
                    ended()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            os.close(wake_r)
            os.close(wake_w)
            if self.proc is not None and self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def _wait(self, wake_r):
        while True:
            code = self.proc.poll()
            if code is not None:
                break
            ready, _, _ = select.select([wake_r], [], [], self.timeout())
            if ready:
                for signum in os.read(wake_r, 512):
                    if signum in STOP_SIGNALS:
                        self.escalate(signal.Signals(signum).name)
            elif self.deadline is not None:
                self.escalate("%s did not stop in time" % self.server.name)
            elif self.state is State.RUNNING and self.watch is not None:
                self.watch.poll(self.server, self.proc)
        if self.state is State.RUNNING:
            return code  # the server stopped by itself
        return 0


def append_if_file(fd):
    """Our output redirected to a file (`> log`) shares it with servers
    that open the file again (Apache's /dev/stderr, both servers'
    /dev/stdout): each open has its own offset, and ours, not at the end,
    would overwrite their lines.  In append mode every write goes to the
    end, whoever makes it."""
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_APPEND)
    except OSError:
        pass  # closed or not ours to change: nothing to protect


def _record(signum, frame):
    """The wakeup fd carries the signal; nothing to do here."""


def run(server, argv, graceful_timeout, watch=None, started=None):
    return Foreground(server, argv, graceful_timeout, watch, started).run()
