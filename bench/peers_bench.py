"""pywsgi-embed beside every server a user would pick instead: one run,
hello world, one worker process each, wrk -t1 -c16 on loopback.

    python bench/peers_bench.py [--seconds 5] [--chart bench/peers.png]
                                [--only "NAME;..."] [--no-install]

The peers are installed by this script into its own venv,
bench/.venv-peers (made with this Python, so that our gateway can boot it
for the Flask and Django rows), never into the project's: gunicorn, uWSGI,
Granian, bjoern, mod_wsgi 6 (built against apache2-dev), Flask, Django and
matplotlib.  mod_wsgi's daemon row has a venv of its own, made from
Debian's /usr/bin/python3 under /var/tmp (bench/peers.py says why).
Debian's mod_wsgi 4.9 is libapache2-mod-wsgi-py3 (`make bench` installs
it).  A peer that cannot be installed or started is reported and left
out, never faked, with the last entries of its error log.

Each contender in its best shape for one process, the flags and why:
  nginx return 200        the ceiling: nginx answers from its config
  pywsgi-embed inline     nginx, 1 worker, the app on the event loop
  pywsgi-embed threads    nginx, 1 worker, a pool of 16 threads
  Apache static file      event MPM, 1 child, 32 threads: Apache's ceiling
  pywsgi-embed Apache     the same Apache, mod_pywsgi in the child
  mod_wsgi 6 embedded     the same Apache, mod_wsgi from PyPI, 32 threads
  mod_wsgi 6 daemon       WSGIDaemonProcess processes=1 threads=4: its
                          author's advice of few threads per process
                          (less GIL contention), behind the same Apache;
                          the daemon runs as www-data (mod_wsgi refuses
                          root): mod_wsgi 6 built for Debian's Python
                          3.11 in /var/tmp/pywsgi-embed-peers, a copy of
                          the hello app beside it
  mod_wsgi 4.9 (Debian)   embedded, 32 threads, Debian's package
  gunicorn                -w 1 -k gthread --threads 16: the worker that
                          keeps connections alive (sync closes each one);
                          the hello app adds its Content-Length (chunked,
                          gunicorn writes each part apart)
  nginx -> uWSGI          uwsgi_pass to uWSGI --processes 1, no threads
                          (one interpreter, no GIL handoffs), no logging
  Granian                 --interface wsgi --workers 1 --blocking-threads
                          1 --runtime-threads 1: one Python thread, as the
                          GIL allows only one at a time anyway
  bjoern                  bjoern.run(): single-threaded C event loop; the
                          app adds its Content-Length (without one bjoern
                          writes headers and body apart and every response
                          waits out a delayed ACK)
Flask and Django hellos run on ours (nginx inline, and threads mode with
16 threads, the module's default mode: the app on a pool thread beside the
event loop, as Granian runs it beside its Rust loop), gunicorn, uWSGI and
Granian with the same flags.

Prints req/s, the ratio of each to nginx's `return 200`, and ours to each
peer; writes a bar chart PNG.  Every run is bounded: wrk -d, timeouts on
installs and start-ups.  On a shared machine the figures are noisy; the
ratios of one run are what counts.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import apache_bench  # noqa: E402
import peers  # noqa: E402
import wrk  # noqa: E402

from pywsgi_embed.servers import Mount  # noqa: E402
from tests import harness  # noqa: E402

VENV = os.path.join(BENCH, ".venv-peers")
VPY = os.path.join(VENV, "bin", "python")
PACKAGES = [
    "gunicorn",
    "uwsgi",
    "granian",
    "bjoern",
    "mod_wsgi",
    "flask",
    "django",
    "matplotlib",
    "cffi",  # our gateway, booting this venv for the Flask and Django rows
]
HELLO = os.path.join(BENCH, "hello_app.py")
APPS = {
    "hello": "hello_app",
    "Flask": "flask_hello",
    "Django": "django_hello",
}
BODY = b"Hello, World!\n"
RETURN_200 = (
    "location = /return200 { default_type text/plain; "
    'return 200 "Hello, World!\\n"; }'
)
BASELINE = "nginx return 200"


def note(msg):
    print(msg, file=sys.stderr, flush=True)


# -- the peers' venv ---------------------------------------------------------


def install_peers():
    """{package: None if installed, else why not}."""
    if not os.path.exists(VPY):
        subprocess.run(
            [sys.executable, "-m", "venv", VENV], check=True, timeout=300
        )
    missing = {}
    for pkg in PACKAGES:
        proc = subprocess.run(
            [VPY, "-m", "pip", "install", "-q", pkg],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            missing[pkg] = proc.stderr.strip().splitlines()[-1:]
            note("cannot install %s: %s" % (pkg, missing[pkg]))
    return missing


def peer_version(package):
    code = "import importlib.metadata as m; print(m.version(%r))" % package
    proc = subprocess.run(
        [VPY, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.stdout.strip() or "?"


# -- processes ---------------------------------------------------------------


class Proc:
    """A peer server started in its own session; stop() ends it."""

    def __init__(self, name, argv, port, workdir, cwd=BENCH):
        self.name, self.port = name, port
        log = open(os.path.join(workdir, name.replace(" ", "_") + ".log"), "w")
        self.log = log.name
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if not harness.wait_for_port(port, self.proc, timeout=60):
            self.stop()
            with open(self.log) as f:
                raise RuntimeError(
                    "%s did not start:\n%s" % (name, f.read()[-2000:])
                )

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)

    kill = stop


def venv_bin(name):
    return os.path.join(VENV, "bin", name)


def gunicorn(app, workdir):
    port = harness.free_port()
    return Proc(
        "gunicorn " + app,
        [
            venv_bin("gunicorn"),
            "--workers=1",
            "--worker-class=gthread",
            "--threads=16",
            "--bind=127.0.0.1:%d" % port,
            "--log-level=error",
            # its Content-Length: chunked, gunicorn writes each part apart
            # and halves its rate
            APPS[app]
            + (
                ":application_with_length"
                if app == "hello"
                else ":application"
            ),
        ],
        port,
        workdir,
    )


def uwsgi(app, workdir):
    port = harness.free_port()
    return Proc(
        "uwsgi " + app,
        [
            venv_bin("uwsgi"),
            "--socket=127.0.0.1:%d" % port,
            "--module=%s:application" % APPS[app],
            "--chdir=" + BENCH,
            "--processes=1",
            "--disable-logging",
            "--die-on-term",
            "--need-app",
        ],
        port,
        workdir,
    )


def granian(app, workdir):
    port = harness.free_port()
    return Proc(
        "granian " + app,
        [
            venv_bin("granian"),
            "--interface=wsgi",
            "--workers=1",
            "--blocking-threads=1",
            "--runtime-threads=1",
            "--host=127.0.0.1",
            "--port=%d" % port,
            "--log-level=error",
            "--no-access-log",
            "--working-dir=" + BENCH,
            APPS[app] + ":application",
        ],
        port,
        workdir,
    )


# what the peers build with (bjoern: libev's headers) or run on
DEBIAN_PACKAGES = (
    "libev-dev",
    "apache2-dev",
    "libapache2-mod-wsgi-py3",
    "wrk",
)


def install_debian_packages():
    """The Debian packages of the peers, through the project's installer
    (tools/install-deps.sh skips what is there): a peer that cannot build
    stops the run here, loudly, instead of leaving a row out."""
    subprocess.run(
        ["sh", os.path.join(ROOT, "tools", "install-deps.sh")]
        + list(DEBIAN_PACKAGES),
        check=True,
    )


def bjoern(workdir):
    port = harness.free_port()
    code = (
        "import bjoern, hello_app; "
        "bjoern.run(hello_app.application_with_length, '127.0.0.1', %d)" % port
    )
    return Proc("bjoern", [VPY, "-c", code], port, workdir)


def mod_wsgi6_config(lines, app, daemon_threads=0):
    """mod_wsgi-express's LoadModule and WSGIPythonHome lines, and the
    hello app mounted at /hello in the main interpreter: embedded in
    Apache's threads, or in one daemon process of daemon_threads threads
    (mod_wsgi's recommended shape)."""
    return "\n".join(
        [
            lines,
        ]
        + (
            [
                # mod_wsgi refuses a daemon running as root
                "WSGIDaemonProcess peers processes=1 threads=%d "
                "user=www-data group=www-data" % daemon_threads,
                "WSGIProcessGroup peers",
            ]
            if daemon_threads
            else []
        )
        + [
            "WSGIApplicationGroup %{GLOBAL}",
            "WSGIScriptAlias /hello %s" % app,
            "<Directory %s>" % os.path.dirname(app),
            "    Require all granted",
            "</Directory>",
        ]
    )


def module_config():
    """mod_wsgi-express's lines for bench/.venv-peers' mod_wsgi."""
    return subprocess.run(
        [venv_bin("mod_wsgi-express"), "module-config"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()


def mod_wsgi6_daemon(tmp, install):
    """Apache with mod_wsgi 6 from the shared venv (bench/peers.py), its
    daemon as www-data running a copy of the hello app."""
    lines, app = peers.install_shared(HELLO, install)
    return apache_bench.instance(
        tmp,
        "mod_wsgi6-daemon",
        threads=32,
        mounts=[],
        with_module=False,
        extra=mod_wsgi6_config(lines, app, daemon_threads=4),
    )


def log_reason(srv):
    """The last entries of a started server's error log (Apache logs at
    level error in the bench), without their time: why it does not
    answer."""
    if srv is None or not hasattr(srv, "error_log"):
        return ""
    entries = [
        re.sub(r"^\[[^]]*\] ", "", line)
        for line in srv.error_log().splitlines()
        if line.startswith("[")
    ]
    return " / ".join(entries[-2:])


# -- the run -----------------------------------------------------------------


def check(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read()
    if resp.status != 200 or body.strip() != BODY.strip():
        raise RuntimeError("%s answered %s %r" % (url, resp.status, body))


def start_all(tmp, only, skipped, install):
    """[(name, url)] of every contender that started; what runs goes into
    running, what did not into skipped {name: why}."""
    running, contenders = [], []

    def add(name, start, path="/"):
        if only and name not in only:
            return
        srv = None
        try:
            srv = start()
            running.append(srv)
            url = "http://127.0.0.1:%d%s" % (srv.port, path)
            check(url)
            contenders.append((name, url))
        except (Exception, SystemExit) as exc:  # report, never fake
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            why = " / ".join(line for line in lines if line.strip())
            log = log_reason(srv)
            skipped[name] = why[:200] + ("; error log: " + log if log else "")
            note("left out %s: %s" % (name, skipped[name]))

    # uWSGI sits behind the nginx that also runs `return 200` and ours
    uwsgis = {}
    for app in APPS:
        if not only or ("nginx -> uWSGI " + app).strip() in only:
            try:
                uwsgis[app] = uwsgi(app, tmp)
                running.append(uwsgis[app])
            except Exception as exc:
                skipped["nginx -> uWSGI " + app] = str(exc).splitlines()[0]
    locations = [RETURN_200] + [
        # the app's own root: PATH_INFO "/", as our mounts give it
        "location /uwsgi-%s/ { rewrite ^ / break; "
        "include /etc/nginx/uwsgi_params; uwsgi_pass 127.0.0.1:%d; }"
        % (app, srv.port)
        for app, srv in uwsgis.items()
    ]
    inline = harness.start(
        "nginx",
        [Mount("/hello/", HELLO)],
        os.path.join(tmp, "nginx-inline"),
        mode="inline",
        workers=1,
        log_level="error",
        extra_config="\n".join(locations),
    )
    running.append(inline)
    # the frameworks in a worker of their own, booting the peers' venv:
    # their heap would slow the hello world's worker (its GC walks it)
    frameworks = {}
    for mode in ("inline", "threads"):  # threads: the module's default
        frameworks[mode] = harness.start(
            "nginx",
            [
                Mount("/flask/", os.path.join(BENCH, "flask_hello.py")),
                Mount("/django/", os.path.join(BENCH, "django_hello.py")),
            ],
            os.path.join(tmp, "nginx-frameworks-" + mode),
            mode=mode,
            workers=1,
            threads=16,
            log_level="error",
            python_home=VENV,
        )
        running.append(frameworks[mode])
    threads = harness.start(
        "nginx",
        {"/": HELLO},
        os.path.join(tmp, "nginx-threads"),
        mode="threads",
        workers=1,
        threads=16,
        log_level="error",
    )
    running.append(threads)

    def ready(srv):
        return lambda: srv

    add(BASELINE, ready(inline), "/return200")
    add("pywsgi-embed nginx inline", ready(inline), "/hello/")
    add("pywsgi-embed nginx threads", ready(threads), "/")
    for app in APPS:
        if app in uwsgis:
            add(
                ("nginx -> uWSGI " + app).replace(" hello", ""),
                ready(inline),
                "/uwsgi-%s/" % app,
            )
    add("bjoern", lambda: bjoern(tmp))
    for app in APPS:
        suffix = "" if app == "hello" else " " + app
        add("gunicorn" + suffix, lambda app=app: gunicorn(app, tmp))
        add("Granian" + suffix, lambda app=app: granian(app, tmp))
    for mode in ("inline", "threads"):
        for app in ("Flask", "Django"):
            add(
                "pywsgi-embed nginx %s %s" % (mode, app),
                ready(frameworks[mode]),
                "/%s/" % app.lower(),
            )

    def apache(name, **kw):
        return apache_bench.instance(tmp, name, **kw)

    ours = {}

    def apache_ours():
        ours["srv"] = apache(
            "apache-pywsgi", threads=32, mounts=[Mount("/hello", HELLO)]
        )
        return ours["srv"]

    add("pywsgi-embed Apache", apache_ours, "/hello")
    if "srv" in ours:
        add("Apache static file", ready(ours["srv"]), "/static.txt")
    add(
        "mod_wsgi 6 embedded",
        lambda: apache(
            "mod_wsgi6",
            threads=32,
            mounts=[],
            with_module=False,
            extra=mod_wsgi6_config(module_config(), HELLO),
        ),
        "/hello",
    )
    add(
        "mod_wsgi 6 daemon, 4 threads",
        lambda: mod_wsgi6_daemon(tmp, install),
        "/hello",
    )
    add(
        "mod_wsgi 4.9 (Debian) embedded",
        lambda: apache(
            "mod_wsgi49",
            threads=32,
            mounts=[],
            with_module=False,
            extra=apache_bench.mod_wsgi_config(HELLO),
        ),
        "/hello",
    )
    return running, contenders


OURS = (
    "pywsgi-embed nginx inline",
    "pywsgi-embed nginx threads",
    "pywsgi-embed Apache",
)


def ours_over(results, ours, peer):
    """ours / peer for the same app: a peer's Flask row beside our Flask
    row, its hello world beside ours ("-": that app not run on ours)."""
    app = peer.split()[-1]
    if app in APPS:
        ours = "%s %s" % (ours, app)
    if ours not in results:
        return "%8s" % "-"
    return "%8.2f" % (results[ours] / results[peer])


def report(results, skipped, args):
    base = results.get(BASELINE)
    lines = [
        "hello world, 1 worker process, wrk -t1 -c16 -d%ds, one run, %s"
        % (args.seconds, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
        "",
        "| %-34s | %9s | %10s |" % ("", "req/s", "/ return 200"),
        "|%s|%s|%s|" % ("-" * 36, "-" * 11, "-" * 12),
    ]
    for name, rps in sorted(results.items(), key=lambda kv: -kv[1]):
        ratio = "%.2f" % (rps / base) if base else "-"
        lines.append("| %-34s | %9.0f | %10s |" % (name, rps, ratio))
    for name in skipped:
        lines.append("| %-34s | %9s | %10s |" % (name, "n/a", "-"))
    peers = [
        n
        for n in results
        if not n.startswith("pywsgi-embed") and n != BASELINE
    ]
    ours = [n for n in OURS if n in results]
    if ours and peers:
        lines += [""]
        lines.append(
            "| %-34s | " % "ours / peer"
            + " | ".join("%8s" % o.split()[-1] for o in ours)
            + " |"
        )
        for peer in peers:
            lines.append(
                "| %-34s | " % peer
                + " | ".join(ours_over(results, o, peer) for o in ours)
                + " |"
            )
    if skipped:
        lines += ["", "left out (not installed or did not start):"]
        lines += ["  %s: %s" % kv for kv in skipped.items()]
    return "\n".join(lines)


def goals(results):
    def ratio(a, b):
        if a in results and b in results:
            return results[a] / results[b]
        return None

    rows = [
        ("nginx inline / return 200", ratio(OURS[0], BASELINE), 0.85),
        ("nginx threads / return 200", ratio(OURS[1], BASELINE), 0.6),
        ("Apache / static file", ratio(OURS[2], "Apache static file"), 1.3),
        ("Apache / mod_wsgi 6", ratio(OURS[2], "mod_wsgi 6 embedded"), 3.0),
    ]
    out = ["", "goals:"]
    for name, got, want in rows:
        if got is None:
            out.append("  %-28s not measured (>= %.2f)" % (name, want))
        else:
            out.append(
                "  %-28s %5.2f (>= %.2f) %s"
                % (name, got, want, "met" if got >= want else "NOT met")
            )
    return "\n".join(out)


CHART = r"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
data = json.load(open(sys.argv[1]))
rows = sorted(data["results"].items(), key=lambda kv: kv[1])
names = [n for n, _ in rows]
values = [v for _, v in rows]
colors = ["#d62728" if n.startswith("pywsgi-embed") else
          ("#7f7f7f" if n in ("nginx return 200", "Apache static file")
           else "#1f77b4") for n in names]
fig, ax = plt.subplots(figsize=(9, 0.38 * len(rows) + 1.2))
ax.barh(names, values, color=colors)
for i, v in enumerate(values):
    ax.text(v, i, " %.0f" % v, va="center", fontsize=8)
ax.set_xlabel("requests per second (higher is better)")
ax.set_title(data["title"], fontsize=9)
ax.margins(x=0.12)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
"""


def chart(results, title, path):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"results": results, "title": title}, f)
    try:
        subprocess.run(
            [VPY, "-c", CHART, f.name, path], check=True, timeout=120
        )
    finally:
        os.unlink(f.name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--chart", default=os.path.join(BENCH, "peers.png"))
    parser.add_argument(
        "--only", default="", help="contender names, separated by ';'"
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="use bench/.venv-peers and the shared venv as they are",
    )
    args = parser.parse_args()
    if not args.no_install:
        install_debian_packages()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does)")
    missing = {} if args.no_install else install_peers()
    skipped = {
        pkg: "not installable: %s" % why for pkg, why in missing.items()
    }
    only = set(filter(None, args.only.split(";")))
    results = {}
    with tempfile.TemporaryDirectory(prefix="pywsgi-peers-") as tmp:
        os.chmod(tmp, 0o755)  # mod_wsgi's Apache children run as User
        running = []
        try:
            running, contenders = start_all(
                tmp, only, skipped, not args.no_install
            )
            for name, url in contenders:
                try:
                    wrk.wrk(url, seconds=1)  # warm up
                    results[name] = wrk.wrk(url, seconds=args.seconds)
                except SystemExit as exc:  # wrk saw errors: report them
                    skipped[name] = str(exc).splitlines()[0]
                    continue
                note("  %-36s %9.0f req/s" % (name, results[name]))
        finally:
            for srv in running:
                srv.kill()
    print(report(results, skipped, args))
    print(goals(results))
    versions = ", ".join("%s %s" % (m, peer_version(m)) for m in PACKAGES[:-2])
    print("\npeers: " + versions)
    if results and args.chart:
        chart(
            results,
            "hello world, 1 worker, wrk -t1 -c16 -d%ds (%s)"
            % (args.seconds, time.strftime("%Y-%m-%d", time.gmtime())),
            args.chart,
        )
        print("chart: " + os.path.relpath(args.chart))


if __name__ == "__main__":
    main()
