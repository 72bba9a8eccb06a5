"""Loading the app (gateway.load through pywsgi_embed.loader): every spec
form and every failure, with a message that says where and why."""

import os
import sys
import textwrap
import uuid

import pytest

from pywsgi_embed import loader
from tests.unit.recorder import DONE

HELLO = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from " + __name__.encode()]

def other(environ, start_response):
    start_response("200 OK", [])
    return [b"other"]

def make_app():
    return other

CONSTANT = 3
"""


def write(directory, name, text):
    path = os.path.join(str(directory), name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))
    return path


@pytest.fixture
def modname():
    """A fresh module name, removed from sys.modules afterwards."""
    name = "pywsgi_unit_mod_" + uuid.uuid4().hex[:8]
    yield name
    sys.modules.pop(name, None)


def serves(server, app_id, body):
    code, seen = server.run(app_id)
    assert code == DONE and seen.status == 200, seen.log_text()
    assert body in bytes(seen.body)


def test_file_spec(server, tmp_path):
    path = write(tmp_path, "hello_app_%s.py" % uuid.uuid4().hex[:6], HELLO)
    app_id, err = server.load(path)
    assert app_id >= 0 and err == ""
    serves(server, app_id, b"hello from hello_app_")


def test_file_spec_with_callable(server, tmp_path):
    path = write(tmp_path, "app_%s.py" % uuid.uuid4().hex[:6], HELLO)
    app_id, err = server.load(path + ":other")
    serves(server, app_id, b"other")


def test_file_spec_with_factory(server, tmp_path):
    path = write(tmp_path, "app_%s.py" % uuid.uuid4().hex[:6], HELLO)
    app_id, err = server.load(path + ":make_app()")
    serves(server, app_id, b"other")


def test_relative_file_spec(server, tmp_path, monkeypatch):
    write(tmp_path, "rel_app_%s.py" % "x", HELLO)
    monkeypatch.chdir(tmp_path)
    app_id, err = server.load("rel_app_x.py")
    assert app_id >= 0, err


def test_relative_file_spec_in_a_subfolder(server, tmp_path, monkeypatch):
    # the app's folder becomes the working directory: the relative spec
    # is resolved before that
    (tmp_path / "site").mkdir()
    write(tmp_path / "site", "rel_sub_app.py", HELLO)
    monkeypatch.chdir(tmp_path)
    app_id, err = server.load("site/rel_sub_app.py:application")
    assert app_id >= 0, err
    assert os.getcwd() == str(tmp_path / "site")


@pytest.mark.parametrize(
    "spec, want",
    [
        ("a/b.py", "{cwd}/a/b.py"),
        ("b.py:app", "{cwd}/b.py:app"),
        ("a/b.py:make()", "{cwd}/a/b.py:make()"),
        ("/abs/c.py", "/abs/c.py"),
        ("pkg.mod:app", "pkg.mod:app"),
        ("pkg.mod", "pkg.mod"),
    ],
)
def test_absolute_spec(spec, want):
    assert loader.absolute_spec(spec) == want.format(cwd=os.getcwd())


def test_module_spec(server, tmp_path, modname):
    write(tmp_path, modname + ".py", HELLO)
    app_id, err = server.load(
        modname + ":application", python_path=str(tmp_path)
    )
    serves(server, app_id, modname.encode())


def test_module_spec_default_callable(server, tmp_path, modname):
    write(tmp_path, modname + ".py", HELLO)
    app_id, err = server.load(modname, python_path=str(tmp_path))
    serves(server, app_id, b"hello")


def test_module_factory(server, tmp_path, modname):
    write(tmp_path, modname + ".py", HELLO)
    app_id, err = server.load(
        modname + ":make_app()", python_path=str(tmp_path)
    )
    serves(server, app_id, b"other")


def test_package_module(server, tmp_path, modname):
    pkg = tmp_path / modname
    pkg.mkdir()
    write(pkg, "__init__.py", "")
    write(pkg, "wsgi.py", HELLO)
    app_id, err = server.load(
        modname + ".wsgi:other", python_path=str(tmp_path)
    )
    serves(server, app_id, b"other")
    sys.modules.pop(modname + ".wsgi", None)


def test_python_path_entries_go_first(server, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    saved = sys.path[:]
    try:
        loader.add_python_path([str(a), "", str(b)])
        assert sys.path[:2] == [str(a), str(b)]
    finally:
        sys.path[:] = saved


def test_file_imports_its_neighbours(server, tmp_path, modname):
    write(tmp_path, modname + ".py", "GREETING = b'neighbour'\n")
    path = write(
        tmp_path,
        "main_%s.py" % modname,
        """
        import %s as helper
        def application(environ, start_response):
            start_response("200 OK", [])
            return [helper.GREETING]
        """
        % modname,
    )
    app_id, err = server.load(path)
    serves(server, app_id, b"neighbour")


def test_file_named_like_a_stdlib_module(server, tmp_path):
    import json

    path = write(tmp_path, "json.py", HELLO)
    app_id, err = server.load(path)
    assert app_id >= 0, err
    assert sys.modules["json"] is json


def test_missing_file(server, tmp_path):
    missing = str(tmp_path / "nope.py")
    app_id, err = server.load(missing)
    assert app_id == -1
    assert err == "%s: no such file" % missing


def test_directory_is_not_a_file(server, tmp_path):
    app_id, err = server.load(str(tmp_path) + "/")
    assert app_id == -1 and "no such file" in err


def test_syntax_error_names_file_and_line(server, tmp_path):
    path = write(tmp_path, "broken_syntax.py", "x = 1\n\ndef f(:\n    pass\n")
    app_id, err = server.load(path)
    assert app_id == -1
    assert path in err
    assert "SyntaxError" in err
    assert 'line 3' in err


def test_import_raising(server, tmp_path):
    path = write(
        tmp_path,
        "raises_%s.py" % uuid.uuid4().hex[:6],
        """
        x = 1
        raise RuntimeError("the app cannot start: no database")
        """,
    )
    app_id, err = server.load(path)
    assert app_id == -1
    assert "importing it raised" in err
    assert "RuntimeError: the app cannot start: no database" in err
    assert 'File "%s", line 3' % path in err
    assert "frozen importlib" not in err


def test_module_import_raising(server, tmp_path, modname):
    write(tmp_path, modname + ".py", "import pywsgi_no_such_dependency\n")
    app_id, err = server.load(
        modname + ":application", python_path=str(tmp_path)
    )
    assert app_id == -1
    assert "%s: importing it raised" % modname in err
    assert "No module named 'pywsgi_no_such_dependency'" in err


def test_missing_module(server):
    app_id, err = server.load("pywsgi_no_such_module:app")
    assert app_id == -1
    assert "pywsgi_no_such_module: no such module on sys.path" in err


def test_missing_callable_lists_what_is_there(server, tmp_path):
    path = write(tmp_path, "app_%s.py" % uuid.uuid4().hex[:6], HELLO)
    app_id, err = server.load(path + ":app")
    assert app_id == -1
    assert "has no 'app'" in err
    assert "callables there: application, make_app, other" in err


def test_missing_callable_in_empty_module(server, tmp_path):
    path = write(tmp_path, "empty_%s.py" % uuid.uuid4().hex[:6], "X = 1\n")
    app_id, err = server.load(path)
    assert app_id == -1
    assert err.endswith("has no 'application'")


def test_not_callable(server, tmp_path):
    path = write(tmp_path, "app_%s.py" % uuid.uuid4().hex[:6], HELLO)
    app_id, err = server.load(path + ":CONSTANT")
    assert app_id == -1 and "CONSTANT is a int, not a WSGI callable" in err


def test_factory_raising(server, tmp_path):
    path = write(
        tmp_path,
        "app_%s.py" % uuid.uuid4().hex[:6],
        """
        def create():
            raise ValueError("bad settings")
        """,
    )
    app_id, err = server.load(path + ":create()")
    assert app_id == -1
    assert "calling create() raised" in err and "bad settings" in err


def test_factory_returning_non_callable(server, tmp_path):
    path = write(
        tmp_path,
        "app_%s.py" % uuid.uuid4().hex[:6],
        """
        def create():
            return 42
        """,
    )
    app_id, err = server.load(path + ":create()")
    assert app_id == -1 and "create() is a int" in err


@pytest.mark.parametrize(
    "spec, why",
    [
        ("", "no app given"),
        ("   ", "no app given"),
        ("mod:not-a-name", "is not a Python name"),
        ("mod:1abc", "is not a Python name"),
    ],
)
def test_bad_specs(server, spec, why):
    app_id, err = server.load(spec)
    assert app_id == -1 and why in err


# the spec syntax itself: tests/unit/test_spec.py, one table for every parser


def test_error_truncated_to_errlen(server):
    app_id, err = server.load("pywsgi_no_such_module:app", errlen=20)
    assert app_id == -1 and len(err.encode()) == 19


def test_import_raising_non_utf8_message(server, tmp_path):
    path = write(
        tmp_path,
        "app_%s.py" % uuid.uuid4().hex[:6],
        'raise RuntimeError("bad \\udcff byte")\n',
    )
    app_id, err = server.load(path)
    assert app_id == -1 and "\\udcff" in err


def test_failed_load_does_not_register(server, tmp_path):
    from pywsgi_embed import gateway

    before = len(gateway._apps)
    server.load(str(tmp_path / "missing.py"))
    assert len(gateway._apps) == before


def test_python_path_comes_before_the_app_folder(server, tmp_path, modname):
    # a module in the configured path wins over a neighbour of the same
    # name, as with mod_wsgi and NGINX Unit
    configured = tmp_path / "configured"
    app_dir = tmp_path / "app"
    configured.mkdir()
    app_dir.mkdir()
    write(configured, modname + ".py", "WHERE = 'configured'\n")
    write(app_dir, modname + ".py", "WHERE = 'neighbour'\n")
    app = write(
        app_dir,
        "wsgi.py",
        "import %s as found\n%s" % (modname, HELLO),
    )
    saved = sys.path[:]
    try:
        app_id, err = server.load(app, python_path=str(configured))
        assert app_id >= 0, err
        assert sys.modules[modname].WHERE == "configured"
        assert sys.path.index(str(configured)) < sys.path.index(str(app_dir))
    finally:
        sys.path[:] = saved


def test_a_file_app_runs_in_its_folder(server, tmp_path):
    app_dir = tmp_path / "site"
    app_dir.mkdir()
    (app_dir / "data.txt").write_text("relative data")
    app = write(
        app_dir,
        "wsgi_cwd_%s.py" % uuid.uuid4().hex[:8],
        "DATA = open('data.txt').read()\n" + HELLO,
    )
    app_id, err = server.load(app)
    assert app_id >= 0, err
    assert os.getcwd() == str(app_dir)


def test_chdir_is_entered_before_the_import(server, tmp_path):
    (tmp_path / "data.txt").write_text("relative data")
    app_dir = tmp_path / "site"
    app_dir.mkdir()
    app = write(
        app_dir,
        "wsgi_cwd_%s.py" % uuid.uuid4().hex[:8],
        "DATA = open('data.txt').read()\n" + HELLO,
    )
    app_id, err = server.load(app, chdir=str(tmp_path))
    assert app_id >= 0, err
    assert os.getcwd() == str(tmp_path)


def test_a_missing_chdir_is_a_load_error(server, tmp_path):
    missing = str(tmp_path / "no-such-dir")
    app_id, err = server.load(write(tmp_path, "w.py", HELLO), chdir=missing)
    assert app_id == -1
    assert "cannot make %s the working directory" % missing in err
    assert "No such file or directory" in err


def test_the_first_app_sets_the_working_directory(server, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for d in (first, second):
        app = write(d, "wsgi_%s.py" % uuid.uuid4().hex[:8], HELLO)
        app_id, err = server.load(app)
        assert app_id >= 0, err
    assert os.getcwd() == str(first)
