"""Shared by the benchmark scripts: run wrk against a URL and collect
medians, interleaving the contenders round by round so that the drift of a
shared, noisy 2-core machine hits them all alike.  Results are ratios."""

import os
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

HELLO = os.path.join(ROOT, "bench", "hello_app.py")


def wrk(url, seconds=5, connections=16, threads=1):
    """Requests per second that wrk measured, failing on any error."""
    binary = shutil.which("wrk")
    if binary is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does)")
    out = subprocess.run(
        [
            binary,
            "-t%d" % threads,
            "-c%d" % connections,
            "-d%ds" % seconds,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        sys.exit("wrk saw errors on %s:\n%s" % (url, out))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def compare(contenders, rounds=3, seconds=5, warmup=1):
    """{name: [req/s of each round]} for contenders {name: url}."""
    results = {name: [] for name in contenders}
    for url in contenders.values():
        wrk(url, seconds=warmup)
    for r in range(rounds):
        for name, url in contenders.items():
            results[name].append(wrk(url, seconds=seconds))
            print(
                "  round %d %-28s %9.0f req/s"
                % (r + 1, name, results[name][-1]),
                file=sys.stderr,
                flush=True,
            )
    return results


def table(results, baseline, title):
    """The medians, and each one's ratio to the baseline's median."""
    base = statistics.median(results[baseline])
    lines = [
        title,
        "",
        "| %-30s | %10s | %12s |" % ("", "req/s", "/ " + baseline),
        "|%s|%s|%s|" % ("-" * 32, "-" * 12, "-" * 14),
    ]
    for name, values in results.items():
        med = statistics.median(values)
        lines.append("| %-30s | %10.0f | %12.2f |" % (name, med, med / base))
    return "\n".join(lines)
