"""nginx `return 200` beside the module in inline and threads mode: one
worker each, the hello-world app, wrk -t1 -c16, medians of interleaved
rounds, and the ratio of each to `return 200` (targets: inline >= 0.85,
threads >= 0.6).

    python bench/nginx_bench.py [--rounds 3] [--seconds 5]
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wrk  # noqa: E402

from tests import harness  # noqa: E402

RETURN_200 = (
    'location = /return200 { default_type text/plain; '
    'return 200 "Hello, World!\\n"; }'
)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    running = []
    with tempfile.TemporaryDirectory(prefix="pywsgi-bench-") as tmp:
        try:
            for mode in ("inline", "threads"):
                running.append(
                    harness.start(
                        "nginx",
                        {"/": wrk.HELLO},
                        os.path.join(tmp, mode),
                        mode=mode,
                        workers=1,
                        threads=16,
                        log_level="error",
                        extra_config=RETURN_200,
                    )
                )
            inline, threads = running
            results = wrk.compare(
                {
                    "nginx return 200": inline.url("/return200"),
                    "pywsgi-embed inline": inline.url("/"),
                    "pywsgi-embed threads": threads.url("/"),
                },
                rounds=args.rounds,
                seconds=args.seconds,
            )
        finally:
            for srv in running:
                srv.kill()
    print(
        wrk.table(
            results,
            "nginx return 200",
            "nginx 1.22.1, 1 worker, hello world, wrk -t1 -c16 -d%ds, "
            "median of %d rounds" % (args.seconds, args.rounds),
        )
    )


if __name__ == "__main__":
    main()
