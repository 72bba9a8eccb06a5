"""Apache serving a small static file (the ceiling) beside Apache +
mod_pywsgi and Apache + mod_wsgi embedded (Debian's
libapache2-mod-wsgi-py3), on the identical Apache config: event MPM, one
child, the same ThreadsPerChild, no access log.  Hello-world app, wrk -t1
-c16, medians of interleaved rounds.  Targets: mod_pywsgi >= 0.85 x the
static file and >= 1.8 x mod_wsgi.

    python bench/apache_bench.py [--rounds 3] [--seconds 5] [--threads 32]

mod_pywsgi and mod_wsgi each embed a Python, so they run in two Apache
instances (never one with both modules).  Debian's mod_wsgi is built for
Debian's /usr/bin/python3 (3.11); it only imports bench/hello_app.py.
The static file is served by the mod_pywsgi instance, outside its mount.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wrk  # noqa: E402

from pywsgi_embed.servers import Mount, Options  # noqa: E402
from pywsgi_embed.servers.apache import MODULES_DIR, ApacheServer  # noqa: E402
from tests import harness  # noqa: E402

MOD_WSGI = os.path.join(MODULES_DIR, "mod_wsgi.so")
STATIC_BODY = b"Hello, World!\n"  # what the app answers, as a file


def mod_wsgi_config(app):
    if not os.path.exists(MOD_WSGI):
        sys.exit(
            "mod_wsgi is not installed (%s): apt-get install "
            "libapache2-mod-wsgi-py3 (make bench does)" % MOD_WSGI
        )
    return "\n".join(
        [
            "LoadModule wsgi_module %s" % MOD_WSGI,
            "WSGIApplicationGroup %{GLOBAL}",  # the main interpreter, as ours
            "WSGIScriptAlias /hello %s" % app,
            "<Directory %s>" % os.path.dirname(app),
            "    Require all granted",
            "</Directory>",
        ]
    )


def start(server):
    """Run an ApacheServer's config in the foreground until it accepts."""
    config = server.write_config()
    out = open(os.path.join(server.workdir, "server.out"), "w")
    proc = subprocess.Popen(
        server.argv(config),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()
    running = harness.Running(server, proc, config, server.workdir)
    if not harness.wait_for_port(running.port, proc):
        running.kill()
        sys.exit(
            "Apache did not start:\n%s\n%s"
            % (running.output(), running.error_log())
        )
    return running


def instance(tmp, name, threads, mounts, with_module=True, extra=""):
    workdir = os.path.join(tmp, name)
    options = Options(
        mounts=mounts,
        port=harness.free_port(),
        mpm="event",
        workers=1,
        threads=threads,
        log_level="error",
        extra_config=extra,
        error_log=os.path.join(workdir, "error.log"),
    )
    server = ApacheServer(options, workdir)
    server.with_module = with_module
    running = start(server)
    with open(os.path.join(workdir, "htdocs", "static.txt"), "wb") as f:
        f.write(STATIC_BODY)
    return running


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    running = []
    with tempfile.TemporaryDirectory(prefix="pywsgi-bench-") as tmp:
        os.chmod(tmp, 0o755)  # mod_wsgi's children run as User
        try:
            ours = instance(
                tmp, "pywsgi", args.threads, [Mount("/hello", wrk.HELLO)]
            )
            running.append(ours)
            peer = instance(
                tmp,
                "mod_wsgi",
                args.threads,
                [],
                with_module=False,
                extra=mod_wsgi_config(wrk.HELLO),
            )
            running.append(peer)
            for url in (
                ours.url("/hello"),
                peer.url("/hello"),
                ours.url("/static.txt"),
            ):
                status, body = fetch(url)
                if status != 200 or body != STATIC_BODY:
                    sys.exit("%s answered %s %r" % (url, status, body))
            results = wrk.compare(
                {
                    "Apache static file": ours.url("/static.txt"),
                    "Apache + mod_pywsgi": ours.url("/hello"),
                    "Apache + mod_wsgi embedded": peer.url("/hello"),
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
            "Apache static file",
            "Apache %s, event MPM, 1 child x %d threads, hello world, "
            "wrk -t1 -c16 -d%ds, median of %d rounds"
            % (
                ApacheServer(None, tmp).version(),
                args.threads,
                args.seconds,
                args.rounds,
            ),
        )
    )
    ours = statistics.median(results["Apache + mod_pywsgi"])
    peer = statistics.median(results["Apache + mod_wsgi embedded"])
    print(
        "\nmod_pywsgi / mod_wsgi embedded: %.2f (target >= 1.8)"
        % (ours / peer)
    )


def fetch(url):
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read()


if __name__ == "__main__":
    main()
