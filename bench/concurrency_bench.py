"""Apps that wait (a database query, an API call) beside hello world, on
every server a user might pick, in one run: pywsgi-embed's nginx module in
threads mode, its Apache module, gunicorn's gthread worker and Granian's
WSGI interface, each with one process and a pool of T threads, driven by
`wrk -t1 -cT`.  The app (bench/sleep_app.py) sleeps MS milliseconds, so no
server can beat T / MS requests a second (the ideal bound); the figures
are req/s, the ratio to that bound, and wrk's p50/p99 latency.  Hello
world is also given as a ratio to nginx's own `return 200`, and a static
file's p99 is measured on the nginx worker while it runs 100 slow
requests.  gunicorn and Granian are installed from PyPI into
bench/.venv-peers.

    python bench/concurrency_bench.py [--seconds 5] [--quick]
"""

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
import wrk  # noqa: E402

from tests import harness  # noqa: E402

SLEEP_APP = os.path.join(wrk.ROOT, "bench", "sleep_app.py")

# (ms the app sleeps, pool threads = wrk connections); 0 is hello world
ROWS = [(5, 16), (1, 16), (50, 100), (50, 16), (0, 16)]

RETURN_200 = (
    'location = /return200 { default_type text/plain; '
    'return 200 "Hello, World!\\n"; }'
)


def wrk_latency(url, seconds, connections):
    """(req/s, p50 ms, p99 ms) of a wrk run, failing on any error."""
    out = subprocess.run(
        [
            shutil.which("wrk"),
            "-t1",
            "-c%d" % connections,
            "-d%ds" % seconds,
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        sys.exit("wrk saw error statuses on %s:\n%s" % (url, out))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), "
        r"timeout (\d+)",
        out,
    )
    if errors and sum(map(int, errors.groups())):
        # peers close keep-alive connections now and then: say so
        print(
            "  wrk socket errors on %s: %s" % (url, errors.group(0)),
            file=sys.stderr,
        )
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rate, percentile(out, "50%"), percentile(out, "99%")


def percentile(out, name):
    value, unit = re.search(
        r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(name), out, re.M
    ).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


@contextlib.contextmanager
def ours(server, threads, tmp, **options):
    """pywsgi-embed on nginx (threads mode) or Apache (event MPM)."""
    running = harness.start(
        server,
        {"/": SLEEP_APP},
        os.path.join(tmp, "%s-%d" % (server, threads)),
        workers=1,
        threads=threads,
        log_level="error",
        **options,
    )
    try:
        yield running.url
    finally:
        running.kill()


@contextlib.contextmanager
def peer(argv, port, tmp):
    """A peer server started from bench/.venv-peers, until it answers."""
    log = open(os.path.join(tmp, "peer-%d.log" % port), "w")
    proc = subprocess.Popen(
        argv,
        cwd=os.path.dirname(SLEEP_APP),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    try:
        if not harness.wait_for_port(port, proc):
            sys.exit("%s did not start: see %s" % (argv[0], log.name))
        yield lambda path="/": "http://127.0.0.1:%d%s" % (port, path)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()


def gunicorn(threads, tmp):
    port = harness.free_port()
    return peer(
        [
            peers.bin("gunicorn"),
            "--worker-class",
            "gthread",
            "--workers",
            "1",
            "--threads",
            str(threads),
            "--bind",
            "127.0.0.1:%d" % port,
            "--log-level",
            "warning",
            "sleep_app:application",
        ],
        port,
        tmp,
    )


def granian(threads, tmp):
    port = harness.free_port()
    return peer(
        [
            peers.bin("granian"),
            "--interface",
            "wsgi",
            "--workers",
            "1",
            "--blocking-threads",
            str(threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "sleep_app:application",
        ],
        port,
        tmp,
    )


SERVERS = {
    "pywsgi-embed nginx threads": lambda t, tmp: ours("nginx", t, tmp),
    "pywsgi-embed Apache": lambda t, tmp: ours("apache", t, tmp),
    "gunicorn gthread": gunicorn,
    "Granian WSGI": granian,
}


def measure_row(ms, threads, seconds, tmp):
    """{server: (req/s, p50, p99)} for one row, each server in turn."""
    results = {}
    for name, start in SERVERS.items():
        with start(threads, tmp) as url:
            wrk_latency(url("/%d" % ms), 1, threads)  # warm-up
            results[name] = wrk_latency(url("/%d" % ms), seconds, threads)
        print(
            "  %-6s %-28s %9.0f req/s" % ("%dms" % ms, name, results[name][0]),
            file=sys.stderr,
            flush=True,
        )
    return results


def return_200(seconds, tmp):
    """nginx `return 200` on the same config and worker as the module's
    hello world, measured just before it and again just after (the
    machine's load drifts): the median of the hello world row's bound."""
    rates = []
    with ours("nginx", 16, tmp, extra_config=RETURN_200) as url:
        wrk.wrk(url("/return200"), seconds=1)
        for _ in range(2):
            rates.append(wrk_latency(url("/return200"), seconds, 16)[0])
            wrk_latency(url("/0"), seconds, 16)
        rates.append(wrk_latency(url("/return200"), seconds, 16)[0])
    return sorted(rates)[1]


def static_p99_under_slow_load(seconds, tmp):
    """p99 of a static file on the nginx worker while wrk keeps 100 slow
    (50 ms) requests running on it."""
    static = os.path.join(tmp, "static")
    os.makedirs(static, exist_ok=True)
    with open(os.path.join(static, "hello.txt"), "w") as f:
        f.write("static file\n")
    os.chmod(tmp, 0o755)
    os.chmod(static, 0o755)
    extra = "location /static/ { alias %s/; }" % static
    with ours("nginx", 100, tmp, extra_config=extra) as url:
        slow = threading.Thread(
            target=wrk_latency, args=(url("/50"), seconds + 2, 100)
        )
        slow.start()
        time.sleep(1)  # a benchmark, not a test: let the slow load build
        rate, p50, p99 = wrk_latency(url("/static/hello.txt"), seconds, 1)
        slow.join()
    return p50, p99


def print_table(rows, base200, seconds):
    print(
        "\n1 process, pool of T threads, wrk -t1 -cT -d%ds; the app sleeps "
        "MS ms (0: hello world); ratio to the ideal bound T/MS, hello world "
        "to nginx `return 200` (%.0f req/s)\n" % (seconds, base200)
    )
    names = list(SERVERS)
    print(
        "| MS, T | bound | "
        + " | ".join("%s req/s (ratio) p50/p99 ms" % n for n in names)
        + " |"
    )
    print("|---|---|" + "---|" * len(names))
    for (ms, threads), results in rows:
        bound = threads * 1000.0 / ms if ms else base200
        cells = [
            "%.0f (%.2f) %.1f/%.1f" % (r, r / bound, p50, p99)
            for r, p50, p99 in (results[n] for n in names)
        ]
        label = "%d ms, %d" % (ms, threads) if ms else "hello, %d" % threads
        bound_text = "%.0f" % bound if ms else "return 200"
        print("| %s | %s | %s |" % (label, bound_text, " | ".join(cells)))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument(
        "--quick", action="store_true", help="pywsgi-embed nginx only"
    )
    args = parser.parse_args()
    if args.quick:
        for name in list(SERVERS)[1:]:
            del SERVERS[name]
    else:
        peers.install(["gunicorn", "granian"])
    with tempfile.TemporaryDirectory(prefix="pywsgi-bench-") as tmp:
        rows = [
            ((ms, t), measure_row(ms, t, args.seconds, tmp)) for ms, t in ROWS
        ]
        base200 = return_200(args.seconds, tmp)
        static = static_p99_under_slow_load(args.seconds, tmp)
    print_table(rows, base200, args.seconds)
    print(
        "\nnginx static file beside 100 running 50 ms requests (same "
        "worker): p50 %.2f ms, p99 %.2f ms" % static
    )


if __name__ == "__main__":
    main()
