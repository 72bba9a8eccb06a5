"""The config-time import check (pywsgi_check) loads the apps in the
environment and the working directory the workers will have: nginx keeps
for its workers only TZ and the variables "env" names or sets, and an app
that needs a variable imports in the check only if it will in the workers.
"""

import os
import subprocess

from tests import harness

NEEDS = """
import os
VALUE = os.environ["{name}"]
DATA = open("data.txt").read()

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s|%s" % (VALUE, DATA)).encode()]
"""


def config_of(tmp_path, name, main_lines=(), **options):
    """An nginx config serving an app that needs os.environ[name] and a
    data.txt in its working directory, with main-context lines added."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "wsgi.py").write_text(NEEDS.format(name=name))
    (site / "data.txt").write_text("data")
    server = harness.servers.get("nginx")(
        harness.servers.Options(
            mounts=[harness.Mount("/", str(site / "wsgi.py"))],
            port=harness.free_port(),
            error_log=str(tmp_path / "error.log"),
            **options,
        ),
        str(tmp_path / "w"),
    )
    conf = server.write_config()
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(
            text.replace(
                "daemon off;",
                "\n".join(("daemon off;",) + tuple(main_lines)),
                1,
            )
        )
    return server, conf


def test_a_variable_nginx_does_not_pass_fails_the_check(tmp_path):
    # the master has it, the workers would not: the check must refuse
    name = "PYWSGI_T_MASTER_ONLY"
    server, conf = config_of(tmp_path, name)
    proc = subprocess.run(
        server.test_argv(conf),
        capture_output=True,
        text=True,
        env=dict(os.environ, **{name: "in the master"}),
    )
    assert proc.returncode != 0
    assert "KeyError: '%s'" % name in proc.stderr, proc.stderr


def test_env_name_value_reaches_the_check_and_the_workers(tmp_path):
    name = "PYWSGI_T_SET_BY_ENV"
    server, conf = config_of(
        tmp_path, name, main_lines=["env %s=from-env-directive;" % name]
    )
    proc = subprocess.run(
        server.test_argv(conf), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    served = subprocess.Popen(server.argv(conf), start_new_session=True)
    try:
        assert harness.wait_for_port(server.options.port, served)
        status, body = harness.fetch(
            "http://127.0.0.1:%d/" % server.options.port
        )
        assert (status, body) == (200, b"from-env-directive|data")
    finally:
        os.killpg(served.pid, 9)
        served.wait()


def test_env_name_passes_a_variable_to_the_check(tmp_path):
    name = "PYWSGI_T_PASSED_BY_NAME"
    server, conf = config_of(tmp_path, name, pass_env=[name])
    proc = subprocess.run(
        server.test_argv(conf),
        capture_output=True,
        text=True,
        env=dict(os.environ, **{name: "passed"}),
    )
    assert proc.returncode == 0, proc.stderr


def test_pywsgi_process_env_and_chdir_reach_the_check(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "data.txt").write_text("work data")
    name = "PYWSGI_T_PROCESS_ENV"
    server, conf = config_of(
        tmp_path, name, process_env={name: "v"}, chdir=str(work)
    )
    os.remove(str(tmp_path / "site" / "data.txt"))  # only work/ has one
    proc = subprocess.run(
        server.test_argv(conf), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
