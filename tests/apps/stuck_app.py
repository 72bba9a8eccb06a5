"""An app whose requests never end: each writes a line to the file
`entered` next to this file (the tests copy it into a temporary
directory), so a test knows a request is inside the app, then blocks for
good.  Stopping a server with such a request in flight is what the CLI's
stop tests exercise."""

import os
import threading

MARKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "entered")


def application(environ, start_response):
    with open(MARKER, "a") as f:
        f.write("entered\n")
    threading.Event().wait()  # never set
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"never\n"]
