"""Where an nginx worker's instructions go, per hello-world request: nginx
`return 200` beside the module's inline and threads modes.

    python bench/nginx_profile.py [--requests 1000] [--top 12]

One nginx process (`master_process off`) runs under callgrind for each
contender, twice: once for a short and once for a long series of
keep-alive requests from one client on loopback, so that start-up (the
Python boot among it) and exit cancel out in the difference.  The
instructions are summed by the object they ran in: nginx itself, the
module (ngx_http_pywsgi_module.so), the gateway library's C (_gateway*.so:
environ, the way into Python, the io calls), CPython (libpython: the app,
the gateway's Python side), cffi, libc, and the rest; then the module's and
the gateway's own functions.  Instruction counts are stable on a noisy
machine where times are not.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind_profile as cg  # noqa: E402
import wrk  # noqa: E402, puts the checkout on sys.path

from pywsgi_embed import servers  # noqa: E402
from pywsgi_embed.servers.base import Mount, Options  # noqa: E402
from tests import harness  # noqa: E402

RETURN_200 = (
    'location = /return200 { default_type text/plain; '
    'return 200 "Hello, World!\\n"; }'
)
CONTENDERS = (
    ("nginx return 200", "inline", "/return200"),
    ("pywsgi-embed inline", "inline", "/"),
    ("pywsgi-embed threads", "threads", "/"),
)
GROUPS = cg.Groups(
    # objects by the name callgrind gives them, first match wins
    (
        ("module", "ngx_http_pywsgi_module"),
        ("gateway C", "_gateway"),
        ("cffi", "_cffi_backend"),
        ("CPython", "libpython"),
        ("nginx", "/nginx"),
        ("libc", "libc.so"),
    ),
    # a function line without its object: its source file
    (
        ("module", "nginx-module/"),
        ("gateway C", "csrc/"),
        ("CPython", "python3"),
        ("CPython", "Python-3"),
        ("libc", "./"),
    ),
)


def config(workdir, mode):
    """An nginx config of one process: the harness's, master off."""
    options = Options(
        mounts=[Mount("/", wrk.HELLO)],
        port=harness.free_port(),
        workers=1,
        threads=16,
        mode=mode,
        log_level="error",
        error_log=os.path.join(workdir, "error.log"),
        extra_config=RETURN_200,
    )
    server = servers.get("nginx")(options, workdir)
    path = server.write_config()
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("master_process on;", "master_process off;"))
    return server, path, options.port


def requests(port, path, count):
    """count keep-alive GETs on connections of 500 (under nginx's
    keepalive_requests, 1000 by default)."""
    while count > 0:
        cg.keepalive_gets(port, path, min(count, 500))
        count -= 500


def stop(proc, port):
    """SIGTERM, then connections until nginx exits and callgrind dumps.

    Under valgrind the signal may reach one of the worker's other threads
    (they are valgrind's threads too), whose handler only sets nginx's
    flag: the event loop sees it on its next event, so give it events.
    """
    proc.terminate()
    for _ in range(240):
        try:
            proc.wait(timeout=0.5)
            return
        except subprocess.TimeoutExpired:
            pass
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            pass
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    sys.exit("nginx under valgrind did not exit on SIGTERM")


def callgrind(workdir, mode, path, count, tag):
    """The annotated profile of one nginx process serving count requests."""
    server, conf, port = config(os.path.join(workdir, tag), mode)
    # %p: the config-time check's child (a fork) dumps a profile too
    out = os.path.join(workdir, "callgrind.%s.%%p" % tag)
    proc = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=" + out,
            "--log-file=" + out + ".log",
        ]
        + server.argv(conf),
        start_new_session=True,
    )
    try:
        if not harness.wait_for_port(port, proc, timeout=120):
            sys.exit("nginx under valgrind did not start (%s)" % tag)
        requests(port, path, count)
    finally:
        stop(proc, port)
    return cg.annotate(out.replace("%p", str(proc.pid)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("needs valgrind (apt-get install -y valgrind)")
    profiles = {}
    with tempfile.TemporaryDirectory(prefix="pywsgi-profile-") as tmp:
        for name, mode, path in CONTENDERS:
            print("profiling %s ..." % name, file=sys.stderr, flush=True)
            small = callgrind(tmp, mode, path, 500, mode + "-small")
            large = callgrind(
                tmp, mode, path, 500 + args.requests, mode + "-large"
            )
            profiles[name] = cg.per_request(small, large, args.requests)
    print_table(profiles, args.requests)
    for name in ("pywsgi-embed inline", "pywsgi-embed threads"):
        print_functions(name, profiles[name], args.top)


def print_table(profiles, count):
    print(
        "instructions per hello-world request, one nginx process under "
        "callgrind, %d keep-alive requests (two runs differenced)\n" % count
    )
    GROUPS.print_table(profiles)


def print_functions(name, profile, top):
    GROUPS.print_functions(
        "%s: the module's and the gateway's own C" % name,
        profile,
        ("module", "gateway C"),
        top,
    )


if __name__ == "__main__":
    main()
