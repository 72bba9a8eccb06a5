"""The app's process over HTTP: the environment variables and the working
directory the configuration gives the workers, and sys.path's order, on
nginx (threads and inline) and Apache.

Each target is a server of its own, started with pywsgi_process_env /
PyWSGIProcessEnv, pywsgi_chdir / PyWSGIChdir and a python path, serving
an app that refuses to import without its variable and its directory.
"""

import json
import os
import textwrap

import pytest

from tests import harness

TARGETS = [("nginx", "threads"), ("nginx", "inline"), ("apache", "event")]

SET = {
    "PYWSGI_T_IMPORT": "read at import",
    "PYWSGI_T_ODD": 'a "quoted" \\ value with $dollar; and spaces',
}
PASSED = ("PYWSGI_T_PASSED", "from the environment the server started in")

APP = """
import os
import sys

# the configured variable and directory are there before the import
AT_IMPORT = os.environ["PYWSGI_T_IMPORT"]
DATA = open("data.txt").read()

import pywsgi_t_shadowed


def application(environ, start_response):
    body = {
        "at_import": AT_IMPORT,
        "env": {k: os.environ.get(k) for k in %r},
        "cwd": os.getcwd(),
        "data": DATA,
        "data_now": open("data.txt").read(),
        "shadowed": pywsgi_t_shadowed.WHERE,
        "sys_path": sys.path,
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


import json
"""


@pytest.fixture(
    scope="module", params=TARGETS, ids=["%s-%s" % t for t in TARGETS]
)
def served(request, tmp_path_factory):
    name, mode = request.param
    root = tmp_path_factory.mktemp("process-%s-%s" % (name, mode))
    site, work, configured = root / "site", root / "work", root / "lib"
    for d in (site, work, configured):
        d.mkdir()
    names = sorted(SET) + [PASSED[0]]
    (site / "wsgi.py").write_text(textwrap.dedent(APP % (names,)))
    (site / "pywsgi_t_shadowed.py").write_text("WHERE = 'neighbour'\n")
    (configured / "pywsgi_t_shadowed.py").write_text("WHERE = 'configured'\n")
    (work / "data.txt").write_text("data of the working directory")
    os.chmod(str(root), 0o755)
    options = {"mode": mode} if name == "nginx" else {"mpm": mode}
    saved = os.environ.get(PASSED[0])
    os.environ[PASSED[0]] = PASSED[1]
    try:
        running = harness.start(
            name,
            {"/": str(site / "wsgi.py")},
            str(root / "server"),
            workers=1,
            threads=4,
            process_env=dict(SET),
            pass_env=[PASSED[0]],
            chdir=str(work),
            python_path=[str(configured)],
            **options,
        )
    finally:
        if saved is None:
            del os.environ[PASSED[0]]
        else:
            os.environ[PASSED[0]] = saved
    running.dirs = {"site": site, "work": work, "lib": configured}
    yield running
    running.kill()


def seen(running):
    status, body = harness.fetch(running.url("/"))
    assert status == 200, (body, running.error_log())
    return json.loads(body)


def test_configured_variables_reach_the_app(served):
    got = seen(served)
    assert got["at_import"] == SET["PYWSGI_T_IMPORT"]
    for name, value in SET.items():
        assert got["env"][name] == value


def test_the_start_environment_is_passed_on(served):
    # nginx clears it but for "env NAME;" lines; Apache passes it on
    assert seen(served)["env"][PASSED[0]] == PASSED[1]


def test_chdir_before_the_import(served):
    got = seen(served)
    assert got["cwd"] == str(served.dirs["work"])
    assert got["data"] == got["data_now"] == "data of the working directory"


def test_python_path_before_the_app_folder(served):
    got = seen(served)
    assert got["shadowed"] == "configured"
    path = got["sys_path"]
    lib, site = str(served.dirs["lib"]), str(served.dirs["site"])
    assert path.index(lib) < path.index(site)
