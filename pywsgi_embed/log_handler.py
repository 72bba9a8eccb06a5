"""The logging module's last resort in a worker: records go to the server's
error log at the ABI level that matches theirs."""

import logging


class LogHandler(logging.Handler):
    """logging records to the server's error log, at a matching level."""

    def __init__(self, log, levels):
        super().__init__(logging.WARNING)
        self._log = log
        self._levels = levels  # (error, warn, info) levels of the ABI
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record):
        try:
            error, warn, info = self._levels
            level = (
                error
                if record.levelno >= logging.ERROR
                else (warn if record.levelno >= logging.WARNING else info)
            )
            for line in self.format(record).split("\n"):
                self._log(level, line.encode("utf-8", "backslashreplace"))
        except Exception:
            self.handleError(record)
