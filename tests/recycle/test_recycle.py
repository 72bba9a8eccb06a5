"""Workers retire gracefully and the server replaces them, on nginx and on
Apache (event: through Apache's graceful restart; prefork: the child's own
graceful stop): after N requests, past an RSS limit, when the app asks, and
when the reload file is touched.  Under a bounded load, no request is lost:
every response is a complete 200, counted."""

import os
import shutil
import threading

import pytest

from tests import harness
from tests.recycle.load import Load, keepalive_client

APP = os.path.join(harness.APPS, "recycle_app.py")

# (server, nginx mode or Apache MPM)
SERVERS = [
    ("nginx", "threads"),
    ("nginx", "inline"),
    ("apache", "event"),
    ("apache", "prefork"),
]


@pytest.fixture
def app_copy(tmp_path):
    path = tmp_path / "app.py"
    shutil.copy(APP, path)
    return path


@pytest.fixture
def serve(tmp_path):
    """serve((server, kind), app, **options) -> a running server."""
    started = []

    def start(target, app=APP, **options):
        name, kind = target
        options.setdefault("workers", 1)
        if name == "nginx":
            options["mode"] = kind
        else:
            options.update(mpm=kind, threads=options.get("threads", 8))
        running = harness.start(
            name,
            {"/": str(app)},
            str(tmp_path / ("srv%d" % len(started))),
            **options,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()


def ids(targets):
    return ["-".join(t) for t in targets]


@pytest.mark.parametrize("kind", SERVERS, ids=ids(SERVERS))
def test_max_requests_recycles_workers_and_loses_no_request(serve, kind):
    srv = serve(kind, max_requests=40, max_requests_jitter=10)
    # three workers: the first and two that replaced one another; Apache's
    # threaded MPMs replace the children on the parent's monitor hook,
    # every ~10 s: two there
    want = 2 if kind == ("apache", "event") else 3
    with Load(srv) as load:
        assert load.until(lambda: len(set(load.bodies())) >= want), (
            "workers seen: %s" % set(load.bodies())
        )
    lost = load.lost()
    print(
        "%s: %d requests, %d workers, %d lost"
        % (
            "-".join(kind),
            len(load.results),
            len(set(load.bodies())),
            len(lost),
        )
    )
    assert not lost, lost[:3]
    assert len(set(load.bodies())) >= want
    assert "retires: served" in srv.error_log()


@pytest.mark.parametrize("kind", SERVERS[::2], ids=ids(SERVERS[::2]))
def test_the_app_retires_its_worker(serve, kind):
    srv = serve(kind)
    status, first = harness.fetch(srv.url("/"))
    assert status == 200
    assert harness.fetch(srv.url("/retire"))[0] == 200
    assert harness.wait_until(
        lambda: harness.fetch(srv.url("/"))[1] != first, timeout=40
    )
    assert "retires: the test asked" in srv.error_log()


@pytest.mark.parametrize("kind", SERVERS[::2], ids=ids(SERVERS[::2]))
def test_an_rss_limit_retires_a_leaking_worker(serve, kind):
    # a worker starts at some 20-40 MiB here; the app leaks 1 MiB a request
    srv = serve(kind, max_rss=96 << 20)
    pid = harness.fetch(srv.url("/"))[1]
    leaked = 0
    while "retires: resident memory" not in srv.error_log():
        assert leaked < 400, "no retirement after 400 MiB leaked"
        status, body = harness.fetch(srv.url("/leak"))
        assert status == 200
        leaked += 1
    assert leaked > 10  # it did leak for a while first
    assert harness.wait_until(
        lambda: harness.fetch(srv.url("/"))[1] != pid, timeout=40
    )


RELOAD = [("nginx", "threads"), ("apache", "event"), ("apache", "prefork")]


def touch_later(path):
    """Give path an mtime one second past its last (or create it)."""
    try:
        old = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        path.write_text("")
        return
    os.utime(path, ns=(old + 10**9, old + 10**9))


@pytest.mark.parametrize("kind", RELOAD, ids=ids(RELOAD))
def test_reload_file_reloads_the_app_and_loses_no_request(
    serve, kind, app_copy, tmp_path
):
    touch = tmp_path / "reload.touch"
    touch.write_text("")
    srv = serve(kind, app=app_copy, reload_file=str(touch))
    assert harness.fetch(srv.url("/version"))[1].startswith(b"v1 ")
    with Load(srv, "/version") as load:
        assert load.until(lambda: len(load.results) >= 20)
        # a different length: the .pyc check is mtime (in seconds) and size
        harness.set_app_version(app_copy, "v2-reloaded")
        touch_later(touch)
        assert load.until(
            lambda: any(b.startswith(b"v2-reloaded ") for b in load.bodies())
        )
        done = len(load.results)
        assert load.until(lambda: len(load.results) >= done + 20)
    lost = load.lost()
    print(
        "%s reload: %d requests, %d lost"
        % ("-".join(kind), len(load.results), len(lost))
    )
    assert not lost, lost[:3]
    versions = {b.split()[0] for b in load.bodies()}
    assert versions == {b"v1", b"v2-reloaded"}


@pytest.mark.parametrize("kind", RELOAD, ids=ids(RELOAD))
def test_reload_file_with_a_broken_app_keeps_the_old_code(
    serve, kind, app_copy, tmp_path
):
    touch = tmp_path / "reload.touch"
    touch.write_text("")
    srv = serve(kind, app=app_copy, reload_file=str(touch))
    status, before = harness.fetch(srv.url("/version"))
    assert before.startswith(b"v1 ")
    app_copy.write_text(
        app_copy.read_text() + "\nraise ImportError('broken on purpose')\n"
    )
    touch_later(touch)
    assert harness.wait_until(
        lambda: "no longer import" in srv.error_log(), timeout=60
    )
    assert "broken on purpose" in srv.error_log()
    assert harness.fetch(srv.url("/version")) == (200, before)
    assert "retires" not in srv.error_log()


@pytest.mark.parametrize("kind", RELOAD, ids=ids(RELOAD))
def test_reload_file_checks_the_apps_as_a_worker_imports_them(
    serve, kind, app_copy, tmp_path
):
    # the workers run in pywsgi_chdir's folder, which is not on their
    # sys.path: an app that imports a module from there would import in
    # a plain `python -c` started in that folder (whose sys.path begins
    # with it), but not in a fresh worker; the check must say so
    work = tmp_path / "work"
    work.mkdir()
    (work / "only_in_cwd.py").write_text("")
    touch = tmp_path / "reload.touch"
    touch.write_text("")
    srv = serve(kind, app=app_copy, reload_file=str(touch), chdir=str(work))
    status, before = harness.fetch(srv.url("/version"))
    assert before.startswith(b"v1 ")
    harness.set_app_version(app_copy, "v2")
    app_copy.write_text(app_copy.read_text() + "\nimport only_in_cwd\n")
    touch_later(touch)
    assert harness.wait_until(
        lambda: any(
            m in srv.error_log() for m in ("no longer import", "retires")
        ),
        timeout=60,
    )
    assert "retires" not in srv.error_log()
    assert "No module named 'only_in_cwd'" in srv.error_log()
    assert str(app_copy) in srv.error_log()
    assert harness.fetch(srv.url("/version")) == (200, before)


@pytest.mark.parametrize("kind", SERVERS[::2], ids=ids(SERVERS[::2]))
def test_max_lifetime_retires_an_idle_worker(serve, kind):
    srv = serve(kind, max_lifetime=2)
    status, first = harness.fetch(srv.url("/"))
    assert status == 200
    # no request meanwhile: the lifetime has its own timer
    assert harness.wait_until(
        lambda: "retires: lived 2 s" in srv.error_log(), timeout=30
    )
    assert harness.wait_until(
        lambda: harness.fetch(srv.url("/"))[1] != first, timeout=40
    )


KEEPALIVE = [("nginx", "threads"), ("apache", "prefork")]


@pytest.mark.parametrize("kind", KEEPALIVE, ids=ids(KEEPALIVE))
def test_max_requests_loses_nothing_on_kept_alive_connections(serve, kind):
    # a retiring worker answers "Connection: close" before it closes its
    # idle connections, so a client that reuses them is told in time
    srv = serve(kind, workers=2, max_requests=40, max_requests_jitter=10)
    results = []
    clients = [
        threading.Thread(target=keepalive_client, args=(srv, 300, results))
        for _ in range(4)
    ]
    for t in clients:
        t.start()
    for t in clients:
        t.join(120)
    lost = [r for r in results if r[0] != 200]
    print(
        "%s kept alive: %d requests, %d lost, %d retirements"
        % (
            "-".join(kind),
            len(results),
            len(lost),
            srv.error_log().count("retires: served"),
        )
    )
    assert len(results) == 1200
    assert not lost, lost[:3]
    assert srv.error_log().count("retires: served") >= 2
