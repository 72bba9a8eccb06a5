"""Compiling the C test host (pywsgi_host.c) with cc: used by the host
tests' fixture and by bench/gateway_overhead.py.  The host links only our
csrc/ helpers, never libpython: it dlopens the gateway like a server."""

import os
import subprocess
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CSRC = os.path.join(ROOT, "csrc")
SOURCES = [
    os.path.join(HERE, name)
    for name in ("pywsgi_host.c", "host_io.c", "host_requests.c")
]
APP = os.path.join(HERE, "host_app.py")
GATEWAY_FILE = "_gateway" + sysconfig.get_config_var("EXT_SUFFIX")


def gateway_path():
    """The gateway library of this checkout (or $PYWSGI_TEST_GATEWAY, e.g.
    one that tests/host/cffi_matrix.py built); an error if it is not
    built."""
    path = os.environ.get("PYWSGI_TEST_GATEWAY") or os.path.join(
        ROOT, "pywsgi_embed", GATEWAY_FILE
    )
    if not os.path.exists(path):
        raise RuntimeError(
            "%s is missing: build it with `python -m "
            "pywsgi_embed._build` (or make build)" % path
        )
    return path


def build_host(outdir, cc="cc", extra=()):
    """Compile the host into outdir; returns the binary's path."""
    target = os.path.join(str(outdir), "pywsgi_host")
    cmd = (
        [
            cc,
            "-O2",
            "-g",
            "-Wall",
            "-Wextra",
            "-Wno-unused-parameter",
            "-Werror",
            "-I" + CSRC,
            '-DPYWSGI_GATEWAY_FILE="%s"' % GATEWAY_FILE,
            "-I" + HERE,
            "-o",
            target,
        ]
        + SOURCES
        + [
            os.path.join(CSRC, "pywsgi_env.c"),
            os.path.join(CSRC, "pywsgi_loader.c"),
            "-ldl",
            "-lpthread",
        ]
        + list(extra)
    )
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            "compiling the test host failed:\n%s\n%s"
            % (" ".join(cmd), proc.stderr)
        )
    return target
