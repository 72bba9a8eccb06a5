"""Soak: the RSS of each worker as a million requests go by, in each mode
(nginx threads, nginx inline, Apache event), printed as a curve: a table
of the RSS after each slice of load.  A worker that leaks shows a column
that keeps climbing; a healthy one levels off after its first requests.

One worker (Apache: one child of 16 threads), the hello-world app, wrk
-c16 in slices of about a tenth of the requests each.  Bounded: each mode
stops at --requests or after --max-seconds of load, whichever comes
first (the table says how many requests it saw).

    python bench/soak.py [--requests 1000000] [--max-seconds 240]
                         [--modes nginx-threads,nginx-inline,apache]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wrk  # noqa: E402

from tests import harness  # noqa: E402

MODES = {
    "nginx-threads": ("nginx", {"mode": "threads", "threads": 16}),
    "nginx-inline": ("nginx", {"mode": "inline", "threads": 16}),
    "apache": ("apache", {"mpm": "event", "threads": 16}),
}
SLICES = 10  # rows of the curve, about


def rss_kb(pid):
    """VmRSS of pid in KiB, or None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def load(url, seconds):
    """(requests served, errors) of one wrk run of `seconds`."""
    out = subprocess.run(
        [shutil.which("wrk"), "-t1", "-c16", "-d%ds" % seconds, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    served = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"timeout (\d+)"):
        match = re.search(pattern, out)
        if match:
            errors += int(match.group(1))
    return served, errors


def soak(name, server, options, workdir, target, budget):
    """The curve of one mode: [(requests so far, {pid: RSS KiB})]."""
    running = harness.start(
        server,
        {"/": wrk.HELLO},
        workdir,
        workers=1,
        log_level="error",
        **options,
    )
    try:
        url = running.url("/")
        harness.fetch(url)
        pids = harness.children(running)
        curve = [(0, {pid: rss_kb(pid) for pid in pids})]
        done = errors = 0
        slice_seconds = 2
        started = time.monotonic()
        while done < target:
            left = budget - (time.monotonic() - started)
            if left < 1:
                break
            t0 = time.monotonic()
            served, failed = load(url, max(1, min(slice_seconds, int(left))))
            rate = served / max(time.monotonic() - t0, 0.001)
            done += served
            errors += failed
            curve.append((done, {pid: rss_kb(pid) for pid in pids}))
            # the next slices: about a tenth of the requests each
            slice_seconds = max(1, int(target / SLICES / max(rate, 1)))
            print(
                "  %s: %d requests, %.0f req/s" % (name, done, rate),
                file=sys.stderr,
                flush=True,
            )
        return curve, errors, time.monotonic() - started
    finally:
        running.stop()


def print_curve(name, curve, errors, seconds):
    pids = sorted(curve[0][1])
    print()
    print(
        "%s: RSS per worker (MiB) over %d requests in %.0f s, %d errors"
        % (name, curve[-1][0], seconds, errors)
    )
    print("%12s  %s" % ("requests", "  ".join("pid %-7d" % p for p in pids)))
    for done, sizes in curve:
        cells = [
            "%11s"
            % ("gone" if sizes[p] is None else "%.1f" % (sizes[p] / 1024))
            for p in pids
        ]
        print("%12d  %s" % (done, "  ".join(cells)))
    first, last = curve[1][1] if len(curve) > 1 else curve[0][1], curve[-1][1]
    for p in pids:
        if first[p] is not None and last[p] is not None:
            print(
                "  pid %d: %+.1f MiB from the first slice to the last"
                % (p, (last[p] - first[p]) / 1024)
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000000)
    parser.add_argument("--max-seconds", type=int, default=240)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does)")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        sys.exit("--modes: unknown %s" % ", ".join(sorted(unknown)))
    with tempfile.TemporaryDirectory(prefix="pywsgi-soak-") as tmp:
        for name in modes:
            server, options = MODES[name]
            curve, errors, seconds = soak(
                name,
                server,
                options,
                os.path.join(tmp, name),
                args.requests,
                args.max_seconds,
            )
            print_curve(name, curve, errors, seconds)


if __name__ == "__main__":
    main()
