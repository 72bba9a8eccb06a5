"""The app of the recycling tests: which worker answered, a way to retire
it, a leak, and a version stamp for reloads."""

import os
import time
from urllib.parse import parse_qs

import pywsgi_embed

VERSION = "v1"  # tests rewrite this line to check reloads

_leak = []


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/retire":
        pywsgi_embed.retire("the test asked")
        body = b"retiring %d" % os.getpid()
    elif path == "/leak":
        _leak.append(b"x" * (1 << 20))  # 1 MiB kept for good, resident
        body = b"%d %d" % (os.getpid(), len(_leak))
    elif path == "/slow":
        # tells the test it began (a marker file), then takes its time
        q = {k: v[-1] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
        with open(q["marker"], "w") as f:
            f.write("%d" % os.getpid())
        time.sleep(float(q.get("s", "2")))
        body = b"slow done %d" % os.getpid()
    elif path == "/version":
        body = b"%s %d" % (VERSION.encode(), os.getpid())
    else:
        body = b"%d" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
