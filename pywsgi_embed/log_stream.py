"""Text streams into the server's error log: wsgi.errors and
sys.stdout/stderr (log_handler.py takes the logging module's records).

Writes are line-buffered per thread (print() writes the text and the newline
in two calls, and threads must not splice each other's lines), and each
complete line goes to the log callback as one message.
"""

import threading


class LogStream:
    """A write-only text stream whose lines become server log messages."""

    encoding = "utf-8"
    errors = "backslashreplace"

    def __init__(self, log, level, fd=2):
        self._log = log  # log(level, message bytes), no handle
        self._level = level
        self._fd = fd
        self._local = threading.local()

    def write(self, text):
        if type(text) is not str:
            text = (
                str(text, "utf-8", "replace")
                if isinstance(text, (bytes, bytearray))
                else str(text)
            )
        pending = getattr(self._local, "pending", "") + text
        lines = pending.split("\n")
        self._local.pending = lines.pop()
        for line in lines:
            self._emit(line)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pending = getattr(self._local, "pending", "")
        if pending:
            self._local.pending = ""
            self._emit(pending)

    def _emit(self, line):
        self._log(self._level, line.encode("utf-8", "backslashreplace"))

    def fileno(self):
        # the real stderr: nginx and Apache point it at their error log, so
        # faulthandler and friends that need a descriptor still land there
        return self._fd

    def isatty(self):
        return False

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    @property
    def closed(self):
        return False

    def close(self):
        self.flush()
