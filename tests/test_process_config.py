"""Bad values of the process settings (pywsgi_process_env / pywsgi_chdir,
PyWSGIProcessEnv / PyWSGIChdir) are refused when the server reads its
configuration, with the file and the line, on both servers alike."""

import pytest

from tests import harness

HELLO = (
    "def application(environ, start_response):\n"
    "    start_response('200 OK', [])\n"
    "    return [b'hello']\n"
)

DIRECTIVES = {
    "nginx": ("pywsgi_process_env", "pywsgi_chdir"),
    "apache": ("PyWSGIProcessEnv", "PyWSGIChdir"),
}


def config_problem(tmp_path, name, **options):
    app = tmp_path / "wsgi.py"
    app.write_text(HELLO)
    server = harness.servers.get(name)(
        harness.servers.Options(
            mounts=[harness.Mount("/", str(app))],
            port=harness.free_port(),
            **options,
        ),
        str(tmp_path / "w"),
    )
    conf = server.write_config()
    return conf, server.check_config(conf)


def line_of(conf, text):
    with open(conf) as f:
        for number, line in enumerate(f, 1):
            if text in line:
                return number
    raise AssertionError("%r not in %s" % (text, conf))


def where(name, conf, line):
    if name == "nginx":
        return "in %s:%d" % (conf, line)
    return "line %d of %s" % (line, conf)


@pytest.mark.parametrize("name", ["nginx", "apache"])
@pytest.mark.parametrize(
    "env, why",
    [
        ({"": "v"}, "an environment variable needs a name"),
        ({"A=B": "v"}, 'has no "="'),
    ],
    ids=["empty-name", "name-with-equals"],
)
def test_bad_variable_names_are_refused(tmp_path, name, env, why):
    if name == "apache" and "" in env:
        why = "takes two arguments"  # Apache reads "" as no argument
    conf, problem = config_problem(tmp_path, name, process_env=env)
    assert problem is not None and why in problem, problem
    line = line_of(conf, DIRECTIVES[name][0])
    assert where(name, conf, line) in problem, problem


@pytest.mark.parametrize("name", ["nginx", "apache"])
def test_a_variable_set_twice_is_refused(tmp_path, name):
    conf, _ = config_problem(tmp_path, name, process_env={"A": "1"})
    with open(conf) as f:
        text = f.read()
    first = [ln for ln in text.splitlines() if DIRECTIVES[name][0] in ln][0]
    with open(conf, "w") as f:
        f.write(text.replace(first, first + "\n" + first.replace("1", "2")))
    server = harness.servers.get(name)(
        harness.servers.Options(mounts=[]), str(tmp_path / "w")
    )
    problem = server.check_config(conf)
    assert problem is not None and "set twice" in problem, problem
    line = line_of(conf, DIRECTIVES[name][0]) + 1
    assert where(name, conf, line) in problem, problem


@pytest.mark.parametrize("name", ["nginx", "apache"])
def test_a_missing_chdir_is_refused(tmp_path, name):
    missing = str(tmp_path / "no-such-dir")
    conf, problem = config_problem(tmp_path, name, chdir=missing)
    assert problem is not None and missing in problem, problem
    line = line_of(conf, DIRECTIVES[name][1])
    assert where(name, conf, line) in problem, problem


@pytest.mark.parametrize("name", ["nginx", "apache"])
def test_a_file_is_not_a_chdir(tmp_path, name):
    conf, problem = config_problem(
        tmp_path, name, chdir=str(tmp_path / "wsgi.py")
    )
    assert problem is not None and "directory" in problem, problem
