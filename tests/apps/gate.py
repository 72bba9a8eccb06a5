"""A gate for requests, so that tests wait on events instead of sleeping.

The test side (Gate) makes a directory and adds gate.query to the URLs it
sends; the app side (pass_gate, called by the test apps with the query
parameters) leaves a file there when a request enters the app, then holds
the request until the test releases the gate.  A test thus knows that N
requests are in the app, and keeps them there while it reloads or stops
the server, without guessing how long that takes.

The test apps import this file as their neighbour (the loader puts an app
file's directory on sys.path); tests copying an app copy it too.
"""

import os
import tempfile
import time
from urllib.parse import quote

ENTERED = "entered."  # prefix of the file a request leaves on entry
RELEASE = "release"  # the file whose creation opens the gate
HOLD_MAX = 60.0  # seconds a request waits at most for the release


def pass_gate(params):
    """The app side: params are the request's query parameters.
    ?entered=DIR leaves a file in DIR; ?hold=PATH then waits until PATH
    exists (at most HOLD_MAX seconds, so a failed test cannot wedge the
    server)."""
    if "entered" in params:
        fd, _ = tempfile.mkstemp(prefix=ENTERED, dir=params["entered"])
        os.close(fd)
    if "hold" in params:
        deadline = time.monotonic() + HOLD_MAX
        while not os.path.exists(params["hold"]):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)


class Gate:
    """The test side, over a fresh directory."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o777)  # the server's workers write there
        self.dir = str(directory)
        self.query = "entered=%s&hold=%s" % (
            quote(self.dir),
            quote(os.path.join(self.dir, RELEASE)),
        )

    def entered(self):
        """How many requests have entered the app so far."""
        return sum(1 for n in os.listdir(self.dir) if n.startswith(ENTERED))

    def wait_entered(self, count, timeout=30.0):
        """True once `count` requests are in the app, False on timeout."""
        deadline = time.monotonic() + timeout
        while self.entered() < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def release(self):
        """Let the held requests (and any later ones) go on."""
        open(os.path.join(self.dir, RELEASE), "w").close()
