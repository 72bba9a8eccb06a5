"""wsgi.file_wrapper: lets the server send a file with sendfile().

The gateway recognises its own type (PEP 3333 allows that, and only that)
and hands the descriptor, the current position and the size to the
server's sendfile callback.  Anything without a usable descriptor (BytesIO,
a pipe, a socket) is sent by iterating, blksize bytes at a time.
"""

import os
import stat


class FileWrapper:
    __slots__ = ("filelike", "blksize")

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize if blksize and blksize > 0 else 8192

    def __iter__(self):
        read = self.filelike.read
        blksize = self.blksize
        while True:
            data = read(blksize)
            if not data:
                return
            yield data

    def close(self):
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    def span(self):
        """(fd, offset, count) of what is left of a regular file, from its
        current position; None when it has no usable descriptor."""
        try:
            fd = self.filelike.fileno()
            st = os.fstat(fd)
        except Exception:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        try:
            offset = self.filelike.tell()
        except Exception:
            offset = os.lseek(fd, 0, os.SEEK_CUR)
        return fd, offset, max(st.st_size - offset, 0)
