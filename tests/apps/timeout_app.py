"""The app of the timeout tests (tests/timeouts): requests that never end
on their own, in Python or in C, and a plain one that tells its pid.

Routes:
  /who          200, the worker's pid
  /poll         waits in 10 ms sleeps (as an app polling for something
                does) for up to 30 s: only a timeout ends it early
  /stall        streams one chunk, then polls as /poll does
  /stuck-in-c   one C call that holds the thread (libc sleep() through
                ctypes, GIL released) for ?s= seconds, then 200
  /hold         writes ?mark= (a file), then polls until ?release= exists
  /count        writes a file ?id= in ?dir= (the app was called), 200
  /missing      404

Under /free/ (a location without a timeout) the same routes.
"""

import ctypes
import os
import time
from urllib.parse import parse_qs

POLLS = 3000


def poll_until(done=lambda: False):
    for _ in range(POLLS):
        if done():
            return True
        time.sleep(0.01)
    return False


def stall(start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first"
    poll_until()
    yield b"never"


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/free/"):  # Apache: the app is mounted at / only
        path = path[len("/free") :]
    q = {k: v[-1] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    if path == "/stall":
        return stall(start_response)
    if path == "/poll":
        poll_until()
        body = b"not interrupted"
    elif path == "/stuck-in-c":
        ctypes.CDLL(None).sleep(int(q.get("s", "5")))
        body = b"back from C"
    elif path == "/hold":
        # written aside and renamed: a test polling for the mark never
        # sees it empty
        with open(q["mark"] + ".new", "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(q["mark"] + ".new", q["mark"])
        poll_until(lambda: os.path.exists(q["release"]))
        body = b"released"
    elif path == "/missing":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such thing"]
    elif path == "/count":
        with open(os.path.join(q["dir"], q["id"]), "w") as f:
            f.write("called\n")
        body = b"counted"
    else:
        body = b"%d" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
