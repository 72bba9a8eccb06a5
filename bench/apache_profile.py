"""Where an Apache process's instructions go, per hello-world request:
Apache serving a small static file beside Apache + mod_pywsgi.

    python bench/apache_profile.py [--requests 1000] [--top 15]

valgrind comes from tools/install-deps.sh when it is missing.

One Apache process (`apache2 -X`: no parent, one child's threads in the
foreground), on the config bench/apache_bench.py builds (event MPM, no
access log), runs under callgrind for each contender, twice: once for a
short and once for a long series of keep-alive requests from one client on
loopback, so that start-up (the Python boot among it) and exit cancel out
in the difference.  The instructions are summed by the object they ran in:
httpd (apache2 and its own modules: the MPM, mod_mime, ...), the module
(mod_pywsgi.so), the gateway library's C (_gateway*.so: environ, the way
into Python), CPython (libpython: the app, the gateway's Python side),
APR (libapr, libaprutil), libc, and the rest; then the module's and the
gateway's own functions.  Instruction counts are stable on a noisy machine
where times are not.

The server under valgrind is stopped with SIGTERM, on which `apache2 -X`
exits (callgrind dumps its profile at exit); it runs in a session of its
own, and a valgrind that outlives its bounded wait is killed with its
session.
"""

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apache_bench  # noqa: E402
import callgrind_profile as cg  # noqa: E402
import wrk  # noqa: E402, puts the checkout on sys.path

from pywsgi_embed.servers import Mount, Options  # noqa: E402
from pywsgi_embed.servers.apache import ApacheServer  # noqa: E402
from tests import harness  # noqa: E402

CONTENDERS = (
    ("Apache static file", "/static.txt"),
    ("pywsgi-embed Apache", "/hello"),
)
GROUPS = cg.Groups(
    # objects by the name callgrind gives them, first match wins
    (
        ("module", "mod_pywsgi"),
        ("gateway C", "_gateway"),
        ("CPython", "libpython"),
        ("httpd", "apache2"),
        ("APR", "libapr"),
        ("libc", "libc.so"),
    ),
    # a function inlined from a header comes without its object: its file
    (
        ("module", "apache-module/"),
        ("gateway C", "csrc/"),
        ("CPython", "/Python-3."),
    ),
)
INSTALL_DEPS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "tools",
    "install-deps.sh",
)
SMALL = 200  # requests of the short run
# the module's entries, and the gateway's inside its handler
INCLUSIVE = (
    "mod_pywsgi_translate",
    "mod_pywsgi_map_to_storage",
    "mod_pywsgi_type_checker",
    "mod_pywsgi_handler",
    "pywsgi_handle",
    "mod_pywsgi_start",
    "mod_pywsgi_finish",
)


def config(workdir):
    """apache_bench.py's Apache config, few threads: one client."""
    options = Options(
        mounts=[Mount("/hello", wrk.HELLO)],
        port=harness.free_port(),
        mpm="event",
        workers=1,
        threads=4,
        log_level="error",
        error_log=os.path.join(workdir, "error.log"),
        # one connection for all: Apache closes it after 100 by default
        extra_config="MaxKeepAliveRequests 0",
    )
    server = ApacheServer(options, workdir)
    path = server.write_config()
    with open(os.path.join(workdir, "htdocs", "static.txt"), "wb") as f:
        f.write(apache_bench.STATIC_BODY)
    return server, path, options.port


def stop(proc):
    """SIGTERM: apache2 -X exits and callgrind dumps.  A valgrind still
    there after the bounded wait is killed with its session (and would
    dump nothing)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        sys.exit("apache2 -X did not exit on SIGTERM: no profile")
    except ProcessLookupError:
        pass


def callgrind(workdir, path, count, tag):
    """The annotated profile of one Apache process serving count
    requests."""
    workdir = os.path.join(workdir, tag)
    server, conf, port = config(workdir)
    # %p: the module's config-time check forks a child, which dumps too
    out = os.path.join(workdir, "callgrind.%p")
    proc = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=" + out,
            "--log-file=" + out + ".log",
        ]
        + server.argv(conf)
        + ["-X"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if not harness.wait_for_port(port, proc, timeout=180):
            sys.exit(
                "Apache under valgrind did not start (%s): see %s"
                % (tag, server.options.error_log)
            )
        cg.keepalive_gets(port, path, count, apache_bench.STATIC_BODY)
    finally:
        stop(proc)
    dump = out.replace("%p", str(proc.pid))
    if not os.path.exists(dump):
        sys.exit("callgrind wrote no profile for %s (%s)" % (tag, dump))
    return cg.annotate(dump, "no"), cg.annotate(dump, "yes")


def print_table(profiles, count):
    print(
        "instructions per hello-world request, one Apache process "
        "(apache2 -X) under callgrind, %d keep-alive requests (two runs "
        "differenced)\n" % count
    )
    GROUPS.print_table(profiles)


def print_inclusive(profile):
    """The module's hooks and callbacks with all they call.  The module's
    own work is the hooks and the handler, less the gateway's
    pywsgi_handle() and the response's way down Apache's filters
    (mod_pywsgi_finish), plus the start callback that pywsgi_handle()
    calls."""
    rows = collections.defaultdict(float)
    for name, ir in profile.items():
        # a function comes once per file its lines are in (inlined
        # headers), each with about the whole inclusive cost: the largest
        function = cg.function_of(name)
        if function in INCLUSIVE:
            rows[function] = max(rows[function], ir)
    print("\npywsgi-embed Apache: with what they call")
    for function in INCLUSIVE:
        print("%8.0f  %s" % (rows[function], function))
    own = (
        sum(rows[f] for f in INCLUSIVE[:4])
        - rows["pywsgi_handle"]
        - rows["mod_pywsgi_finish"]
        + rows["mod_pywsgi_start"]
    )
    print("%8.0f  the module's own work, its callees in Apache, APR" % own)
    print("          and libc with it (the record, the head)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:  # tools/install-deps.sh has it
        subprocess.run(["sh", INSTALL_DEPS], timeout=1800, check=False)
    if shutil.which("valgrind") is None:
        sys.exit("needs valgrind (apt-get install -y valgrind)")
    profiles, inclusive = {}, {}
    with tempfile.TemporaryDirectory(prefix="pywsgi-profile-") as tmp:
        for name, path in CONTENDERS:
            print("profiling %s ..." % name, file=sys.stderr, flush=True)
            tag = name.split()[-1].lower()
            small = callgrind(tmp, path, SMALL, tag + "-small")
            large = callgrind(tmp, path, SMALL + args.requests, tag + "-large")
            profiles[name] = cg.per_request(small[0], large[0], args.requests)
            inclusive[name] = cg.per_request(small[1], large[1], args.requests)
    print_table(profiles, args.requests)
    ours = profiles["pywsgi-embed Apache"]
    GROUPS.print_functions(
        "pywsgi-embed Apache: the module's own C", ours, ("module",), args.top
    )
    GROUPS.print_functions(
        "pywsgi-embed Apache: the gateway's C", ours, ("gateway C",), args.top
    )
    GROUPS.print_functions(
        "pywsgi-embed Apache: httpd and APR", ours, ("httpd", "APR"), args.top
    )
    print_inclusive(inclusive["pywsgi-embed Apache"])


if __name__ == "__main__":
    main()
