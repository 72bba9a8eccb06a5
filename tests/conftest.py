"""Shared fixtures: the `target` a server test talks to.

A target is one running server in one mode with the test apps mounted:
a base URL, its error log, and what PEP 3333 says its environ must show
(multithread, multiprocess).  Every test that takes `target` runs against
nginx in threads and inline mode and Apache with the event MPM; tests marked
`smoke` also against Apache's prefork MPM.  Targets come from local servers
started through pywsgi_embed.servers (the runners `pywsgi-embed serve` uses),
or from elsewhere (the Docker images) when a plugin sets
config.pywsgi_target_factory.

A missing server or module fails the run with what to do: never a skip.
"""

import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from pywsgi_embed import servers  # noqa: E402
from tests import cgi_host, harness  # noqa: E402
from tests.apps.gate import Gate  # noqa: E402
from tests.docker import plugin as docker_plugin  # noqa: E402

APPS = os.path.join(ROOT, "tests", "apps")
PEP3333_APP = os.path.join(APPS, "pep3333_app.py")

# (server, mode, multithread, multiprocess)
TARGETS = [
    ("nginx", "threads", True, False),
    ("nginx", "inline", False, False),
    ("apache", "event", True, True),
    ("apache", "prefork", False, True),
    # `pywsgi-embed cgi` under Apache's mod_cgid (tests/cgi_host.py): the
    # tests marked not_cgi (threads, streaming, one process) are left out
    ("apache", "cgid", False, True),
]
SMOKE_ONLY = {("apache", "prefork")}


def pytest_addoption(parser):
    parser.addoption(
        "--servers",
        default="nginx,apache",
        help="comma-separated servers to run the HTTP tests against",
    )
    docker_plugin.add_option(parser)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "smoke: also run against Apache's prefork MPM"
    )
    config.addinivalue_line(
        "markers",
        "not_cgi(why): not run against the CGI target (one process per "
        "request, the host buffers)",
    )
    config.pywsgi_target_factory = None
    docker_plugin.configure(config)


def enabled_targets(config, smoke, cgi_excluded=False):
    names = [
        n.strip()
        for n in config.getoption("--servers").split(",")
        if n.strip()
    ]
    unknown = set(names) - set(servers.NAMES)
    if unknown:
        raise pytest.UsageError(
            "--servers: unknown %s" % ", ".join(sorted(unknown))
        )
    return [
        t
        for t in TARGETS
        if t[0] in names
        and (smoke or (t[0], t[1]) not in SMOKE_ONLY)
        # the CGI target is local only: the images hold no mod_cgid setup
        and not (
            t[1] == "cgid"
            and (cgi_excluded or config.pywsgi_target_factory is not None)
        )
    ]


def pytest_generate_tests(metafunc):
    if "target" in metafunc.fixturenames:
        smoke = metafunc.definition.get_closest_marker("smoke") is not None
        not_cgi = metafunc.definition.get_closest_marker("not_cgi")
        targets = enabled_targets(metafunc.config, smoke, not_cgi is not None)
        metafunc.parametrize(
            "target",
            targets,
            indirect=True,
            scope="session",
            ids=["%s-%s" % t[:2] for t in targets],
        )


class Target:
    """A running server with the test apps: /app (SCRIPT_NAME "/app") and
    / (SCRIPT_NAME "") both serve tests/apps/pep3333_app.py."""

    def __init__(self, name, mode, multithread, multiprocess, running):
        self.name = name
        self.mode = mode
        self.cgi = mode == "cgid"  # one process per request: run_once
        self.multithread = multithread
        self.multiprocess = multiprocess
        self.running = running
        self.host = running.host
        self.port = running.port

    def url(self, path):
        return self.running.url(path)

    def error_log(self):
        return self.running.error_log()

    def __repr__(self):
        return "<%s-%s on %d>" % (self.name, self.mode, self.port)


def server_options(name, mode):
    if name == "nginx":
        return {"mode": mode, "workers": 1, "threads": 8}
    return {"mpm": mode, "workers": 1, "threads": 8}


def start_local(name, mode, workdir):
    module = servers.module_path(name)
    if not os.path.exists(module):
        pytest.fail(
            "the %s module is not built (%s): run `make build` (needs %s)"
            % (
                name,
                module,
                "nginx-dev" if name == "nginx" else "apache2-dev",
            ),
            pytrace=False,
        )
    if mode == "cgid":
        return cgi_host.start(PEP3333_APP, workdir, mpm="event", workers=1)
    mounts = {"/app": PEP3333_APP, "/": PEP3333_APP}
    return harness.start(
        name,
        mounts,
        workdir,
        log_level=os.environ.get("PYWSGI_TEST_LOG_LEVEL", "info"),
        **server_options(name, mode),
    )


@pytest.fixture(scope="session")
def target(request, tmp_path_factory):
    name, mode, multithread, multiprocess = request.param
    workdir = str(tmp_path_factory.mktemp("%s-%s" % (name, mode)))
    factory = request.config.pywsgi_target_factory or start_local
    running = factory(name, mode, workdir)
    yield Target(name, mode, multithread, multiprocess, running)
    running.stop()


# -- servers started per test (tests/nginx, tests/apache) ---------------------

# each server's own test app, and the options its tests start it with
SERVER_TEST_APPS = {
    "nginx": os.path.join(APPS, "nginx_app.py"),
    "apache": os.path.join(APPS, "apache_app.py"),
}
PER_TEST_OPTIONS = {
    "nginx": {"workers": 1},
    "apache": {"workers": 1, "threads": 4, "mpm": "event"},
}


def server_per_test(name):
    """The fixture `name` (nginx or apache) of the server-specific tests:
    start(mounts=None, app=None, **options) -> a running server; mounts
    default to {"/": app}, app to the server's test app; options override
    PER_TEST_OPTIONS.  Whatever a test started is killed after it."""

    @pytest.fixture(name=name)
    def fixture(tmp_path):
        started = []

        def start(mounts=None, app=None, **options):
            for key, value in PER_TEST_OPTIONS[name].items():
                options.setdefault(key, value)
            app = str(app or SERVER_TEST_APPS[name])
            running = harness.start(
                name,
                mounts or {"/": app},
                str(tmp_path / ("srv%d" % len(started))),
                **options,
            )
            started.append(running)
            return running

        yield start
        for running in started:
            running.kill()

    return fixture


nginx = server_per_test("nginx")
apache = server_per_test("apache")


@pytest.fixture
def app_copy(request, tmp_path):
    """A copy that a test may rewrite of the test app of the server the
    test's directory is named after (tests/nginx: nginx_app.py), with the
    gate.py it imports."""
    app = SERVER_TEST_APPS[request.path.parent.name]
    path = tmp_path / "app.py"
    shutil.copy(app, path)
    shutil.copy(os.path.join(APPS, "gate.py"), tmp_path / "gate.py")
    return path


@pytest.fixture
def gate(tmp_path):
    """A Gate (tests/apps/gate.py) that holds requests in the app."""
    return Gate(tmp_path / "gate")
