"""The app of tests/faults: an app that ends its worker, one that never
reads its upload, one that holds a request until the test releases it."""

import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = {k: v[-1] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    if path == "/exit":
        os._exit(int(q["status"]))
    if path == "/hold":
        # tells the test it is running (a marker file), then waits for the
        # test to remove it, at most ?s= seconds
        marker = os.path.join(q["dir"], q["id"])
        # written aside and renamed: the test polls for the marker and must
        # never see it before the pid is in it
        with open(marker + ".new", "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(marker + ".new", marker)
        deadline = time.monotonic() + float(q.get("s", "30"))
        while os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.02)
    # everything else, /unread included, answers without reading the body
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d" % os.getpid()]
