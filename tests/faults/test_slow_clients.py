"""Slow clients (slowloris): connections that drip their request headers
a byte at a time hold Apache's threads, which read headers blocking.
`serve`'s Apache config loads mod_reqtimeout, so a client too slow to
send its headers is dropped and normal requests are answered."""

import socket
import threading
import time

from tests import harness

DRIPS = 50
DRIP_FOR = 60.0  # seconds, at most: each drip stops when it is dropped


class Drips(threading.Thread):
    """DRIPS connections sending one header byte each per half second."""

    def __init__(self, running):
        super().__init__(daemon=True)
        self.socks = []
        for _ in range(DRIPS):
            sock = socket.create_connection(
                (running.host, running.port), timeout=5
            )
            sock.sendall(b"GET /pid HTTP/1.1\r\nHost: h\r\nX-Slow: ")
            self.socks.append(sock)
        self.dropped = 0
        self.stop = threading.Event()

    def run(self):
        deadline = time.monotonic() + DRIP_FOR
        while self.socks and not self.stop.wait(0.5):
            if time.monotonic() > deadline:
                break
            for sock in list(self.socks):
                try:
                    sock.sendall(b"a")
                except OSError:
                    self.socks.remove(sock)
                    sock.close()
                    self.dropped += 1

    def close(self):
        self.stop.set()
        self.join(10)
        for sock in self.socks:
            sock.close()


def test_drip_fed_connections_do_not_starve_normal_requests(start):
    # fewer threads than drips: each round of drips holds them all
    running = start("apache", mpm="event", threads=25)
    drips = Drips(running)
    drips.start()
    try:
        answered = 0
        for _ in range(5):
            try:
                status, _ = harness.fetch(running.url("/pid"), timeout=45)
            except OSError:
                continue
            answered += status == 200
        assert answered == 5, "%d of 5 answered" % answered
        assert drips.dropped >= 25  # reqtimeout's 408s, not their end
    finally:
        drips.close()
