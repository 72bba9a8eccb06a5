"""Where the gateway's instructions go, stage by stage, per hello-world
request (the request of bench/gateway_overhead.py).

    python bench/gateway_profile.py

Instruction counts from callgrind (stable on a noisy machine, unlike
times), each the difference of two runs (1000 and 3000 iterations) so
that start-up cancels:
  - the whole request through the C host (pywsgi_host --bench);
  - serve() called from Python with a C io table (cffi-compiled here):
    the host's figure minus this is cffi's entry (C -> Python, the GIL,
    the argument objects);
  - the stages of serve(): environ building, Response + start_response,
    the app alone (what the straight call costs), the start() call into C;
    the rest is run()'s own logic, the calls between, and freeing.
Each stage is measured alone, less the loop's own cost; stages overlap a
little (the app's call into start_response is in two of them), so the
rest is approximate.  PYTHONHASHSEED is fixed so that dict probing is the
same in every run.
"""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.host import build  # noqa: E402

IO_SOURCE = r"""
#include "pywsgi.h"
static size_t total;
static ssize_t r(void *h, char *b, size_t n) { return 0; }
static int s(void *h, int st, const char *l, size_t ll, const char *hd,
             size_t hl, size_t nh, const char *b, size_t bl, int f)
{ total += bl + hl + ll; return 0; }
static int w(void *h, const char *b, size_t n) { total += n; return 0; }
static int sf(void *h, int fd, int64_t o, int64_t n) { return 0; }
static void lg(void *h, int l, const char *m, size_t n) { }
pywsgi_io bench_io = { r, s, w, sf, lg };
"""

SETUP = r"""
import sys
sys.path.insert(0, %(root)r)
sys.path.insert(0, %(tmp)r)
import bench_io
from pywsgi_embed import gateway, response
from pywsgi_embed._gateway import ffi, lib
io = ffi.cast("pywsgi_io *", bench_io.ffi.addressof(bench_io.lib.bench_io))
gateway.set_io(io)
blob = open(%(blob)r, "rb").read()
cfg = ffi.new("pywsgi_config *")
keep = [ffi.new("char[]", %(app)r.encode()), ffi.new("char[]", b"")]
cfg.app, cfg.python_path = keep
cfg.io = io
err = ffi.new("char[]", 4096)
app_id = gateway.load(cfg, err, 4096) - 1
assert app_id >= 0, ffi.string(err)
cenv = ffi.new("char[]", blob)
env = ffi.cast("const char *", cenv)
n = len(blob)
h = 1  # handles are ints on the Python side (csrc/gateway.h)
serve = gateway.serve
app = gateway._apps[app_id]
call = app.call
environ = gateway.environ_of(app, env, n, 0, h)
def start_response(status, headers, exc_info=None):
    return None
R = response.Response
headers = [("Content-Type", "text/plain")]
resp = R(h, environ)
resp.start_response("200 OK", list(headers))
head, count = resp.head, resp.count
start = lib.pywsgi_gw_start
body = b"Hello, world!"
assert serve(app_id, env, n, 0, h) == 0
"""

STAGES = [
    (
        "serve() from Python: the gateway less cffi's entry",
        "serve(app_id, env, n, 0, h)",
    ),
    (
        "  environ: copy template, unpack, decode, split, update",
        "gateway.environ_of(app, env, n, 0, h)",
    ),
    (
        "  Response() + start_response() + its write",
        "R(h, environ).start_response('200 OK', [('Content-Type', "
        "'text/plain')])",
    ),
    (
        "  the app, called straight (its own start_response)",
        "call(environ, start_response)",
    ),
    (
        "  start() into C: status, headers, length, body",
        "start(h, head, len(head), count, body, len(body), 257)",
    ),
]


def callgrind(argv, env=None):
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        + argv,
        capture_output=True,
        text=True,
        env=env,
    )
    match = re.search(r"Collected : ([0-9]+)|refs:\s+([0-9,]+)", proc.stderr)
    if match is None or proc.returncode != 0:
        sys.exit("callgrind failed:\n" + proc.stderr[-3000:])
    return int((match.group(1) or match.group(2)).replace(",", ""))


def per_iteration(setup, stmt, env):
    def ir(count):
        code = "exec(open(%r).read())\nfor _ in range(%d):\n    %s\n" % (
            setup,
            count,
            stmt,
        )
        return callgrind([sys.executable, "-c", code], env)

    return (ir(3000) - ir(1000)) / 2000.0


def host_per_request(host, gateway, env):
    def ir(count):
        return callgrind(
            [
                "--collect-atstart=no",
                host,
                "--gateway",
                gateway,
                "--app",
                build.APP,
                "--bench",
                str(count),
                "--rounds",
                "1",
            ],
            env,
        )

    return (ir(3000) - ir(1000)) / 2000.0


def build_io(tmp):
    import cffi

    from pywsgi_embed import _build

    ffi = cffi.FFI()
    ffi.cdef(
        _build.header_section("CFFI C").replace(
            "const char *pywsgi_gateway_path(void);", ""
        )
        + "extern pywsgi_io bench_io;"
    )
    ffi.set_source("bench_io", IO_SOURCE, include_dirs=[build.CSRC])
    ffi.compile(tmpdir=tmp, verbose=False)


def main():
    env = dict(os.environ, PYTHONHASHSEED="0")
    gateway = build.gateway_path()
    with tempfile.TemporaryDirectory() as tmp:
        host = build.build_host(tmp)
        blob = os.path.join(tmp, "blob")
        with open(blob, "wb") as f:
            f.write(
                subprocess.run(
                    [
                        host,
                        "--gateway",
                        gateway,
                        "--app",
                        build.APP,
                        "--dump-env",
                    ],
                    check=True,
                    capture_output=True,
                ).stdout
            )
        build_io(tmp)
        setup = os.path.join(tmp, "setup.py")
        with open(setup, "w") as f:
            f.write(
                SETUP
                % {"root": ROOT, "tmp": tmp, "blob": blob, "app": build.APP}
            )
        total = host_per_request(host, gateway, env)
        loop = per_iteration(setup, "pass", env)
        rows = [
            (name, per_iteration(setup, stmt, env) - loop)
            for name, stmt in STAGES
        ]
    serve = rows[0][1]
    parts = sum(ir for _, ir in rows[1:])
    table = (
        [
            ("pywsgi_handle() from the C host, whole request", total),
            (
                "cffi's entry: C -> Python, GIL, argument objects",
                total - serve,
            ),
        ]
        + rows
        + [("  the rest: run()'s logic, calls, freeing", serve - parts)]
    )
    print("instructions per hello-world request (18-pair environ)")
    print("%-58s %8s %6s" % ("", "Ir", "share"))
    for name, ir in table:
        print("%-58s %8.0f %5.1f%%" % (name, ir, 100.0 * ir / total))
    app = rows[3][1]
    print(
        "%-58s %8.0f %5.1f%%"
        % (
            "added by the gateway (whole - app)",
            total - app,
            100.0 * (total - app) / total,
        )
    )


if __name__ == "__main__":
    main()
