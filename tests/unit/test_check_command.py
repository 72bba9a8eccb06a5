"""pywsgi-check (csrc/pywsgi_check_main.c), the modules' config-time check
as a command, driven as a worker's reload-file watch drives it
(reload.check): each app's pywsgi_config fields as arguments, the answer
on stdout, whatever the apps print on stderr."""

import os

from pywsgi_embed import reload
from tests import harness
from tests.host.build import gateway_path

GOOD = """\
print("printed while importing")


def application(environ, start_response):
    start_response("200 OK", [])
    return [b"ok"]
"""


def app(tmp_path, name, text=GOOD):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def check(*apps):
    """reload.check of apps, each (spec, {field: value})."""
    arguments = []
    for spec, fields in apps:
        arguments += reload.app_arguments(
            spec,
            fields.get("home", ""),
            fields.get("path", ""),
            fields.get("chdir", ""),
            fields.get("env", []),
        )
    return reload.check(gateway_path(), arguments)


def test_apps_that_import_answer_ok_and_print_to_stderr(tmp_path, capfd):
    good = app(tmp_path, "good.py")
    assert check((good, {}), (good + ":application", {})) is None
    out, err = capfd.readouterr()
    assert err.count("printed while importing") == 2


def test_the_first_app_that_fails_is_named_with_its_traceback(tmp_path):
    good = app(tmp_path, "good.py")
    bad = app(tmp_path, "bad.py", "raise ImportError('broken on purpose')\n")
    why = check((good, {}), (bad, {}), (good, {}))
    assert why.startswith(bad + " cannot be loaded: ")
    assert "Traceback (most recent call last):" in why
    assert "\nImportError: broken on purpose" in why


def test_each_field_reaches_the_app(tmp_path):
    # the environment, the python path and the working directory of the
    # app's config, as a worker's pywsgi_init applies them
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "on_the_path.py").write_text("")
    work = tmp_path / "work"
    work.mkdir()
    text = (
        "import os, on_the_path\n"
        "assert os.environ['PYWSGI_TEST_CHECK'] == 'a=b', os.environ\n"
        "assert os.getcwd() == %r, os.getcwd()\n"
        "application = None\n" % str(work)
    )
    spec = app(tmp_path, "fields.py", text) + ":application"
    fields = {
        "path": str(lib),
        "chdir": str(work),
        "env": [("PYWSGI_TEST_CHECK", "a=b")],
    }
    why = check((spec, fields))
    # every field arrived: the import ran to the end, and only the app's
    # None is refused
    assert why is not None and "not a WSGI callable" in why, why


def test_the_cwd_is_not_on_a_workers_sys_path(tmp_path):
    # `python -c` in the working directory would import this module
    work = tmp_path / "work"
    work.mkdir()
    (work / "only_in_cwd.py").write_text("")
    spec = app(tmp_path, "cwd.py", "import only_in_cwd\n")
    why = check((spec, {"chdir": str(work)}))
    assert "No module named 'only_in_cwd'" in why


def test_a_python_that_cannot_start_is_not_blamed_on_an_app(tmp_path):
    why = check((app(tmp_path, "good.py"), {"home": str(tmp_path)}))
    assert why.startswith("Python cannot start: ")


def test_a_missing_command_is_reported(tmp_path):
    gateway = tmp_path / os.path.basename(gateway_path())
    why = reload.check(str(gateway), ["--app", "x.py"])
    assert why.startswith("cannot check the apps: ")


def test_a_check_past_its_timeout_is_killed_with_its_child(
    tmp_path, monkeypatch
):
    # the import blocks on a FIFO that nobody writes: only the kill of
    # the check's session (the command and the child importing) ends it
    fifo = tmp_path / "never"
    os.mkfifo(fifo)
    marker = tmp_path / "pid"
    spec = app(
        tmp_path,
        "blocks.py",
        "import os\nopen(%r, 'w').write(str(os.getpid()))\nopen(%r).read()\n"
        % (str(marker), str(fifo)),
    )
    monkeypatch.setattr(reload, "CHECK_TIMEOUT", 1)
    why = check((spec, {}))
    assert why == "cannot check the apps: no answer in 1 s"
    pid = int(marker.read_text())
    assert harness.wait_until(lambda: not alive(pid), timeout=10)


def alive(pid):
    """pid runs (a zombie waiting for its reaper does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
