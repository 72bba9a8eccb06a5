"""The one table of app-spec cases, run against every parser of the spec
syntax: pywsgi_embed/loader.py's parse_spec (the worker, the command line)
and csrc/pywsgi_spec.c's pywsgi_spec_parse (both server modules, at config
time), compiled with cffi.  A case is (spec, (target, name, call, is_file))
or (spec, the words of the refusal)."""

import pytest

from pywsgi_embed import loader
from tests.unit.conftest import compile_csrc

SPEC_CASES = [
    ("app.py", ("app.py", "application", False, True)),
    ("/srv/app.py", ("/srv/app.py", "application", False, True)),
    ("/srv/app.py:main", ("/srv/app.py", "main", False, True)),
    ("app.py:make_app()", ("app.py", "make_app", True, True)),
    ("sub/wsgi", ("sub/wsgi", "application", False, True)),
    ("sub/wsgi:app", ("sub/wsgi", "app", False, True)),
    ("pkg.mod:app", ("pkg.mod", "app", False, False)),
    ("pkg.mod:create()", ("pkg.mod", "create", True, False)),
    ("pkg.mod", ("pkg.mod", "application", False, False)),
    ("  pkg.mod:app \n", ("pkg.mod", "app", False, False)),
    # the last ':' splits, unless a path follows it
    ("c:/srv/app.py", ("c:/srv/app.py", "application", False, True)),
    ("/a:b/app.py", ("/a:b/app.py", "application", False, True)),
    ("/a:b/app.py:app", ("/a:b/app.py", "app", False, True)),
    ("dir:x.py", ("dir:x.py", "application", False, True)),
    ("/srv/app.py:_private2", ("/srv/app.py", "_private2", False, True)),
    ("", "no app given"),
    ("   ", "no app given"),
    (":app", "no app given"),
    ("pkg.mod:", "not a Python name"),
    ("pkg.mod:1st", "not a Python name"),
    ("pkg.mod:a-b", "not a Python name"),
    ("pkg.mod:a.b", "not a Python name"),
    ("pkg.mod:na\u00efve", "not a Python name"),
    ("app.py:()", "not a Python name"),
]


def parse_python(spec):
    try:
        target, name, call = loader.parse_spec(spec)
    except loader.LoadError as exc:
        return ("error", str(exc))
    return (target, name, call, loader.is_file_spec(target))


@pytest.fixture(scope="session")
def specc(tmp_path_factory):
    """csrc/pywsgi_spec.c as a cffi module: (ffi, lib)."""
    return compile_csrc("pywsgi_spec", tmp_path_factory.mktemp("specc"))


def parse_c(specc, spec):
    ffi, lib = specc
    raw = spec.encode("utf-8")
    buf = ffi.new("char[]", raw)
    out = ffi.new("pywsgi_spec *")
    err = lib.pywsgi_spec_parse(buf, len(raw), out)
    if err != ffi.NULL:
        return ("error", ffi.string(err).decode())

    def text(p, n):
        return ffi.unpack(p, n).decode("utf-8")

    rest = text(out.rest, out.rest_len)
    target = text(out.target, out.target_len)
    assert rest == "" or raw.strip().decode().endswith(rest)
    return (
        target,
        text(out.name, out.name_len),
        bool(out.call),
        bool(out.is_file),
    )


def check(result, expected):
    if isinstance(expected, str):
        assert result[0] == "error" and expected in result[1], result
    else:
        assert result == expected


@pytest.mark.parametrize("spec, expected", SPEC_CASES)
def test_python_parser(spec, expected):
    check(parse_python(spec), expected)


@pytest.mark.parametrize("spec, expected", SPEC_CASES)
def test_c_parser(specc, spec, expected):
    check(parse_c(specc, spec), expected)


@pytest.mark.parametrize(
    "spec, base, absolute",
    [
        ("app.py", "/etc/srv", "/etc/srv/app.py"),
        ("sub/app.py:make()", "/etc/srv", "/etc/srv/sub/app.py:make()"),
        ("/abs/app.py:app", "/etc/srv", "/abs/app.py:app"),
        ("pkg.mod:app", "/etc/srv", "pkg.mod:app"),
    ],
)
def test_absolute_spec(spec, base, absolute):
    assert loader.absolute_spec(spec, base) == absolute
