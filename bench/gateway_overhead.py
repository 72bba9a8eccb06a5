"""What the gateway adds to a request: pywsgi_handle() called by a C host
beside the same app called straight from Python.

    python bench/gateway_overhead.py [--calls N] [--rounds R] [--profile]
                                     [--against OTHER_GATEWAY]

Both sides run the hello-world route of tests/host/host_app.py with the
same 18-pair environ (11 CGI variables and 7 browser headers, the blob the
C host builds with csrc/pywsgi_env.c), on one thread:
  - through the gateway: tests/host/pywsgi_host.c --bench (dlopen, boot,
    then N calls of pywsgi_handle per round; the callbacks copy the body);
  - straight: app(environ, start_response) with a trivial start_response,
    its body iterated, in this Python.
Each figure is the median of R rounds; --against times another gateway
build in turn with this one (before/after: build an older commit with
`git archive COMMIT | tar -x -C DIR; cd DIR; python -m pywsgi_embed._build`).
The host runs with --nonblocking, as both servers do for a hello world
(--blocking: not); --step calls pywsgi_start and pywsgi_next, as nginx
does, instead of pywsgi_handle (Apache's way).  --profile also runs the
host under callgrind (only the timed loop is collected) and prints
instructions per request and where they go: instruction counts are stable
on a noisy machine where times are not.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.host import build  # noqa: E402

TARGET_US = 1.5
# the host says its callbacks never block, as both servers do for a small
# whole body (nginx: io_nonblocking, Apache: PYWSGI_IO_SMALL_LAST): the
# start() call holds the GIL (pywsgi_embed._fastio); --blocking: not
HOST_FLAGS = ["--nonblocking"]


def host_median_us(host, gateway, calls, rounds):
    out = subprocess.run(
        [
            host,
            "--gateway",
            gateway,
            "--app",
            build.APP,
            "--bench",
            str(calls),
            "--rounds",
            str(rounds),
        ]
        + HOST_FLAGS,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(re.search(r"median_ns ([0-9.]+)", out).group(1)) / 1000.0


def interleaved_us(host, gateways, calls, rounds):
    """Median per gateway of `rounds` host runs taken in turn, so that a
    machine whose speed drifts (this one does, by 1.5x) treats them alike."""
    times = [[] for _ in gateways]
    for _ in range(rounds):
        for i, gateway in enumerate(gateways):
            times[i].append(host_median_us(host, gateway, calls, 3))
    return [statistics.median(t) for t in times]


def environ_of(blob):
    """The environ the gateway builds from blob, for the straight call."""
    from pywsgi_embed.file_wrapper import FileWrapper
    from pywsgi_embed.log_stream import LogStream
    from pywsgi_embed.wsgi_input import EMPTY

    environ = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": EMPTY,
        "wsgi.errors": LogStream(print, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.file_wrapper": FileWrapper,
        "SERVER_SOFTWARE": "bench",
        "pywsgi_embed.version": "0",
    }
    parts = blob[:-1].decode("latin-1").split("\0")
    environ.update(zip(parts[0::2], parts[1::2]))
    return environ


def direct_median_us(app, environ, calls, rounds):
    """app(environ, start_response) straight from Python, body iterated."""

    def start_response(status, headers, exc_info=None):
        return None

    def one_round():
        t0 = time.perf_counter()
        for _ in range(calls):
            for _chunk in app(environ, start_response):
                pass
        return (time.perf_counter() - t0) / calls

    one_round()  # warm up
    return statistics.median(one_round() for _ in range(rounds)) * 1e6


def load_app():
    import importlib.util

    spec = importlib.util.spec_from_file_location("host_app", build.APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.application


def callgrind_ir(host, gateway, calls, outdir, tag):
    """Instructions of `calls` requests (only the timed loop collected)."""
    out = os.path.join(outdir, "callgrind.%s.out" % tag)
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--callgrind-out-file=" + out,
            host,
            "--gateway",
            gateway,
            "--app",
            build.APP,
            "--bench",
            str(calls),
            "--rounds",
            "1",
        ]
        + HOST_FLAGS,
        check=True,
        capture_output=True,
        text=True,
    )
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=99", out],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total = int(
        re.search(r"^([0-9,]+) \(100.0%\)\s+PROGRAM TOTALS", text, re.M)
        .group(1)
        .replace(",", "")
    )
    return total, text


def profile(host, gateway, top):
    """Instructions per request: two runs differenced, so that the fixed
    cost of the toggles cancels; then the functions that take them."""
    if shutil.which("valgrind") is None:
        sys.exit("--profile needs valgrind (apt-get install -y valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        small, _ = callgrind_ir(host, gateway, 1000, tmp, "small")
        large, text = callgrind_ir(host, gateway, 3000, tmp, "large")
    per_request = (large - small) / 2000.0
    print("\ncallgrind: %.0f instructions per request" % per_request)
    print("%10s %6s  %s" % ("Ir/req", "share", "function (exclusive)"))
    rows = re.findall(r"^\s*([0-9,]+) \(\s*([0-9.]+)%\)\s+(\S.*)$", text, re.M)
    shown = 0
    for ir, share, name in rows:
        if "PROGRAM TOTALS" in name:
            continue
        print(
            "%10.0f %5s%%  %s"
            % (int(ir.replace(",", "")) / 3000.0, share, name[:90])
        )
        shown += 1
        if shown >= top:
            break


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--gateway",
        default=None,
        help="the gateway library (default: this checkout's)",
    )
    parser.add_argument(
        "--against",
        default=None,
        help="another gateway library to time in turn with "
        "this one (e.g. an older build)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also count instructions with callgrind",
    )
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--step",
        action="store_true",
        help="call pywsgi_start/next (nginx's way) instead of pywsgi_handle",
    )
    parser.add_argument(
        "--blocking",
        action="store_true",
        help="the host's callbacks may block: start() releases the GIL",
    )
    args = parser.parse_args()
    if args.blocking:
        HOST_FLAGS.remove("--nonblocking")
    if args.step:
        HOST_FLAGS.append("--step")

    gateway = args.gateway or build.gateway_path()
    with tempfile.TemporaryDirectory() as tmp:
        host = build.build_host(tmp)
        blob = subprocess.run(
            [host, "--gateway", gateway, "--app", build.APP, "--dump-env"],
            check=True,
            capture_output=True,
        ).stdout
        environ = environ_of(blob)
        assert len(blob.split(b"\0")) // 2 == 18, "expected 18 pairs"
        app = load_app()
        direct = direct_median_us(app, environ, args.calls, args.rounds)
        gateways = [gateway] + ([args.against] if args.against else [])
        through = interleaved_us(host, gateways, args.calls, args.rounds)

        print(
            "gateway overhead: hello world, 18-pair environ, 1 thread, "
            "median of %d rounds of %d calls" % (args.rounds, args.calls)
        )
        print("%-44s %8s %8s" % ("", "us/req", "added"))
        print(
            "%-44s %8.2f" % ("app(environ, start_response) in Python", direct)
        )
        names = [
            (
                "pywsgi_start/next() from the C host"
                if args.step
                else "pywsgi_handle() from the C host"
            ),
            "the same, gateway of --against",
        ]
        for name, us in zip(names, through):
            print("%-44s %8.2f %8.2f" % (name, us, us - direct))
        print("target: added <= %.1f us" % TARGET_US)
        if args.profile:
            profile(host, gateway, args.top)


if __name__ == "__main__":
    main()
