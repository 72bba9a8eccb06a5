"""wsgi.input: the request body, read through the server's read callback.

The server hands over the body as it is (nginx has read it already, Apache
reads it through its input filters, de-chunked by both).  This stream never
asks for more than the declared Content-Length and reports the end of the
body as b'' (PEP 3333 "simulate an end-of-file"); a chunked body is read
until the server says it ended, which is why wsgi.input_terminated is True.
"""

from pywsgi_embed._gateway import ffi

CHUNK = 65536

# the type realized once, at import: cffi realizes types lazily on first
# use, and a worker's threads should not race to do it (cffi issue 271)
_CHARS = ffi.typeof("char[]")


class InputError(OSError):
    """The body could not be read: the client went away or timed out."""


class Input:
    """A binary read-only stream over read(handle, buf, n) -> count."""

    __slots__ = ("_read", "_handle", "_left", "_buf", "_cbuf")

    def __init__(self, read, handle, length):
        self._read = read
        self._handle = handle
        self._left = length  # bytes still at the server; -1: unknown
        self._buf = bytearray()  # read from the server, not yet by the app
        self._cbuf = None

    def _raw(self, n):
        """Up to n bytes from the server, b'' once the body has ended."""
        left = self._left
        if left == 0:
            return b""
        if 0 < left < n:
            n = left
        cbuf = self._cbuf
        if cbuf is None or len(cbuf) < n:
            cbuf = self._cbuf = ffi.new(_CHARS, max(n, CHUNK))
        got = self._read(self._handle, cbuf, n)
        if got < 0:
            raise InputError(
                "reading the request body failed (client gone or timed out)"
            )
        if got == 0:
            self._left = 0
            if left > 0:
                # a Content-Length body that ends early was cut off: saying
                # b'' would hand the app a truncated body as if complete
                raise InputError(
                    "the request body ended %d bytes before "
                    "its Content-Length" % left
                )
            return b""
        if left > 0:
            self._left = left - got
        return ffi.buffer(cbuf, got)[:]

    def _fill(self, want=CHUNK):
        """Append one read to the buffer; False at the end of the body."""
        data = self._raw(want)
        if not data:
            return False
        self._buf += data
        return True

    def read(self, size=-1):
        buf = self._buf
        if size is None or size < 0:
            while self._fill(max(CHUNK, self._left)):
                pass
            data = bytes(buf)
            buf.clear()
            return data
        if not buf and size:
            data = self._raw(size)  # the common case: no copy through buf
            if len(data) == size or not data:
                return data
            buf += data
        while len(buf) < size and self._fill(max(CHUNK, size - len(buf))):
            pass
        data = bytes(buf[:size])
        del buf[:size]
        return data

    def readline(self, size=-1):
        if size is None:
            size = -1
        buf = self._buf
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end >= 0:
                n = end + 1
                break
            if 0 <= size <= len(buf):
                n = size
                break
            start = len(buf)
            if not self._fill():
                n = len(buf)
                break
        if 0 <= size < n:
            n = size
        data = bytes(buf[:n])
        del buf[:n]
        return data

    def readlines(self, hint=-1):
        if hint is None:
            hint = -1
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def readable(self):
        return True

    def close(self):
        pass

    def end(self):
        """The request is over (its Response ended): the handle is the
        server's again, and a read of the app's that would reach it raises
        instead (another request's body, or a freed record's)."""
        self._read = _read_after_end


def _read_after_end(handle, buf, n):
    raise ValueError("wsgi.input read after the response ended")


class EmptyInput:
    """wsgi.input of a request without a body: one shared, stateless object."""

    __slots__ = ()

    def read(self, size=-1):
        return b""

    def readline(self, size=-1):
        return b""

    def readlines(self, hint=-1):
        return []

    def __iter__(self):
        return iter(())

    def readable(self):
        return True

    def close(self):
        pass


EMPTY = EmptyInput()
