"""Run the C test host against gateways built with several cffi versions,
each in a venv of its own (cffi's thread-state handling lives in
_cffi_backend, so the version that runs is the venv's).

    python tests/host/cffi_matrix.py 2.1.1 2.0.0 1.17.1 1.15.1 [--rounds 5]
    python tests/host/cffi_matrix.py debian=/usr/bin/python3

A NAME=PYTHON argument uses that interpreter and the cffi it has, no venv
(Debian's python3 with python3-cffi 1.15.1, as in the Docker images).

For each version: a venv under build/cffi-matrix/ with `pip install
cffi==VERSION`, a copy of pywsgi_embed/ with a gateway built by that venv's
python, then --rounds runs of the host (2 children x 4 threads, --requests
requests each), one with 16 threads and one with a new thread every 10
requests (thread states freed while Python runs).  Prints a table; exit
status 1 if any run failed.  Needs PyPI (pip) the first time.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from tests.host import build  # noqa: E402

WORK = os.path.join(ROOT, "build", "cffi-matrix")

BUILD_GATEWAY = r"""
import os, sys
sys.path.insert(0, %(root)r)
from pywsgi_embed import _build
suffix = _build.sysconfig.get_config_var("EXT_SUFFIX")
target = os.path.join(%(pkg)r, "_gateway" + suffix)
built = _build.make_builder().compile(
    tmpdir=%(tmp)r, target=target, verbose=False
)
print(built)
"""


def venv(version):
    path = os.path.join(WORK, "venv-" + version)
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "cffi==" + version,
            "setuptools",
        ],
        check=True,
    )
    return python


def gateway(version, python):
    """A copy of the package, with a gateway built by python."""
    top = os.path.join(WORK, "gw-" + version)
    pkg = os.path.join(top, "pywsgi_embed")
    shutil.rmtree(top, ignore_errors=True)
    shutil.copytree(
        os.path.join(ROOT, "pywsgi_embed"),
        pkg,
        ignore=shutil.ignore_patterns("*.so", "__pycache__", "modules"),
    )
    out = subprocess.run(
        [
            python,
            "-c",
            BUILD_GATEWAY
            % {"root": ROOT, "pkg": pkg, "tmp": os.path.join(top, "tmp")},
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.strip().splitlines()[-1]


def run(host, lib, children, threads, requests, churn, timeout=300):
    env = dict(os.environ, PYWSGI_HOST_VERSIONS="1")
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            host,
            "--gateway",
            lib,
            "--app",
            build.APP,
            "--children",
            str(children),
            "--threads",
            str(threads),
            "--requests",
            str(requests),
            "--churn",
            str(churn),
            "--timeout",
            str(timeout),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout + 60,
    )
    seen = [
        line.split("host_app: ", 1)[1]
        for line in proc.stderr.splitlines()
        if "host_app: " in line
    ]
    return proc, time.monotonic() - t0, seen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("versions", nargs="+")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    host = build.build_host(WORK)
    rows, bad = [], False
    for version in args.versions:
        if "=" in version:  # NAME=/path/to/python, as it is
            version, python = version.split("=", 1)
        else:
            python = venv(version)
        lib = gateway(version, python)
        results, backend = [], set()
        plan = [(2, 4, 0)] * args.rounds + [(1, 16, 0), (2, 4, 10)]
        for children, threads, churn in plan:
            proc, secs, seen = run(
                host, lib, children, threads, args.requests, churn
            )
            backend.update(seen)
            ok = proc.returncode == 0
            bad |= not ok
            results.append("ok" if ok else "rc=%d" % proc.returncode)
            if not ok:
                sys.stderr.write(
                    "cffi %s, %d x %d threads:\n%s\n%s\n"
                    % (
                        version,
                        children,
                        threads,
                        proc.stdout[-2000:],
                        proc.stderr[-3000:],
                    )
                )
        rows.append((version, results, sorted(backend)))
    print(
        "%-8s %-40s %s"
        % (
            "cffi",
            "runs: 2x4 threads..., 1x16, 2x4 churn",
            "backend seen in the workers",
        )
    )
    for version, results, backend in rows:
        print(
            "%-8s %-40s %s" % (version, " ".join(results), "; ".join(backend))
        )
    print("requests per run: %d" % args.requests)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
