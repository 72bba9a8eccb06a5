"""Reading valgrind memcheck's text logs: which errors are ours.

CPython itself is not valgrind-clean (3.11 reads an uninitialised digit in
int.from_bytes(b'') during start-up, among others), and a worker that never
finalizes Python leaves its objects "still reachable".  The test asks a
narrower question: is there an error in OUR code (the host, csrc/, the
cffi-generated _gateway.c)?
  - invalid read/write/free, overlap, bad syscall parameter: ours if any
    frame of the error's stack is ours (a bad pointer we passed down);
  - use of an uninitialised value: ours if the innermost frame outside
    libc and valgrind is ours;
  - "definitely lost": ours if the innermost frame that is not the
    allocator is ours.
"""

import glob
import re

OURS = re.compile(
    r"\((?:pywsgi_host|host_io|host_requests|gateway|_gateway|pywsgi_env|"
    r"pywsgi_loader)\.c:\d+\)"
    r"|\(pywsgi_headers\.h:\d+\)"
    r"|\(in [^)]*(?:/pywsgi_host|/_gateway[^/)]*\.so)\)"
)
SYSTEM = re.compile(
    r"\(in /usr/libexec/valgrind/|\(in /(?:usr/)?lib/"
    r"[^)]*/(?:libc|ld-linux)[^)]*\)"
)
ALLOCATORS = re.compile(
    r": (?:malloc|calloc|realloc|strdup|strndup|"
    r"posix_memalign|aligned_alloc|memalign) "
)
FRAME = re.compile(r"^\s+(?:at|by) 0x")
INVALID = (
    "Invalid read",
    "Invalid write",
    "Invalid free",
    "Mismatched free",
    "Source and destination overlap",
    "Syscall param",
)
UNINIT = ("Conditional jump", "Use of uninitialised value")


def blocks(text):
    """The error blocks of one log: lists of lines without the ==pid==."""
    out, cur = [], []
    for line in text.splitlines():
        m = re.match(r"==\d+== ?(.*)$", line)
        if m is None:
            continue
        body = m.group(1)
        if body.strip() == "":
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(body)
    if cur:
        out.append(cur)
    return out


def first_stack(block):
    frames = []
    for line in block[1:]:
        if FRAME.match(line):
            frames.append(line)
        elif frames:
            break
    return frames


def is_ours(block):
    """None, or why this error block is ours."""
    head = block[0]
    stack = first_stack(block)
    if head.startswith(INVALID):
        if any(OURS.search(f) for f in stack):
            return "invalid access in our frames"
    elif head.startswith(UNINIT):
        inner = [f for f in stack if not SYSTEM.search(f)]
        if inner and OURS.search(inner[0]):
            return "uninitialised value used in our code"
    elif "definitely lost" in head:
        inner = [
            f
            for f in stack
            if not ALLOCATORS.search(f) and not SYSTEM.search(f)
        ]
        if inner and OURS.search(inner[0]):
            return "memory definitely lost in our code"
    return None


def scan(log_glob):
    """(our errors as text, count of other errors, number of logs)."""
    ours, others, logs = [], 0, 0
    for path in sorted(glob.glob(log_glob)):
        logs += 1
        with open(path, errors="replace") as f:
            text = f.read()
        for block in blocks(text):
            head = block[0]
            if not (
                head.startswith(INVALID + UNINIT) or "definitely lost" in head
            ):
                continue
            why = is_ours(block)
            if why:
                ours.append("%s: %s\n%s" % (path, why, "\n".join(block)))
            else:
                others += 1
    return ours, others, logs
