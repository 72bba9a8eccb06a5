"""The app that waits: each request sleeps the milliseconds of the path's
last part (GET /5 sleeps 5 ms), the stand-in for a database query; and
/0 answers at once, like hello_app.py."""

import time


def application(environ, start_response):
    ms = environ.get("PATH_INFO", "/").rsplit("/", 1)[-1]
    if ms and ms != "0":
        time.sleep(float(ms) / 1000.0)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, World!\n"]
