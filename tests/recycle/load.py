"""A bounded load on loopback that keeps every answer, to count the
requests a recycling or a reload loses."""

import threading

from tests import harness

CLIENTS = 4
MAX_LOAD = 200000  # requests at most per load; the time bound is 60 s


class Load:
    """CLIENTS threads requesting path on fresh connections until told to
    stop or MAX_LOAD requests were made; every answer is kept."""

    def __init__(self, srv, path="/"):
        self.srv = srv
        self.path = path
        self.results = []
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.run) for _ in range(CLIENTS)
        ]

    def run(self):
        while not self.stop.is_set() and len(self.results) < MAX_LOAD:
            try:
                self.results.append(
                    harness.fetch(self.srv.url(self.path), timeout=30)
                )
            except Exception as exc:  # a lost request is a result too
                self.results.append((None, repr(exc).encode()))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def lost(self):
        return [r for r in self.results if r[0] != 200]

    def bodies(self):
        return [body for status, body in self.results if status == 200]

    def until(self, predicate, timeout=60):
        return harness.wait_until(
            lambda: predicate() or len(self.results) >= MAX_LOAD, timeout
        )


def keepalive_client(srv, requests, results, path="/"):
    """requests on one kept-alive connection, a new one only when the
    server said "Connection: close"; a request that finds its connection
    closed before any answer is lost (no retry)."""
    import http.client

    conn = None
    for _ in range(requests):
        if conn is None:
            conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            results.append((resp.status, resp.read()))
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            results.append((None, repr(exc).encode()))
            conn.close()
            conn = None
    if conn is not None:
        conn.close()
