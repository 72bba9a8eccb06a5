"""The app of the recycling tests: which worker answered, a way to retire
it, a leak, and a version stamp for reloads."""

import os

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
    elif path == "/version":
        body = b"%s %d" % (VERSION.encode(), os.getpid())
    else:
        body = b"%d" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
