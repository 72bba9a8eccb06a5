"""Fixtures of the unit tests: the core driven in-process, no server.

`server` is a Recorder (tests/unit/recorder.py) installed as the worker's
io table; `envc` is csrc/pywsgi_env.c compiled with cffi, so the tests
build blobs with the same C rules both server modules use.
"""

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

CSRC = os.path.join(ROOT, "csrc")

from pywsgi_embed._build import header_section  # noqa: E402
from tests.unit.recorder import Recorder, install  # noqa: E402


@pytest.fixture
def server(monkeypatch):
    """A fresh worker, as far as the core can tell: its first load enters
    the working directory (a file app's folder), which is put back."""
    from pywsgi_embed import gateway

    monkeypatch.setattr(gateway, "_in_working_directory", False)
    monkeypatch.chdir(os.getcwd())
    rec = install(Recorder())
    yield rec
    assert not rec.callback_errors, rec.callback_errors


def compile_csrc(name, outdir):
    """csrc/<name>.c as a cffi module (ffi, lib), declared from the marked
    section "CFFI <NAME-after-pywsgi_>" of csrc/<name>.h, never a copy."""
    import cffi

    section = "CFFI " + name[len("pywsgi_") :].upper()
    builder = cffi.FFI()
    builder.cdef(header_section(section, path=os.path.join(CSRC, name + ".h")))
    module_name = "_%s_test" % name
    builder.set_source(
        module_name,
        '#include "%s.h"' % name,
        sources=[os.path.join(CSRC, name + ".c")],
        include_dirs=[CSRC],
        extra_compile_args=["-Wall", "-Wextra", "-Werror"],
    )
    path = builder.compile(tmpdir=str(outdir), verbose=False)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ffi, module.lib


@pytest.fixture(scope="session")
def envc(tmp_path_factory):
    """csrc/pywsgi_env.c as a cffi module: (ffi, lib)."""
    return compile_csrc("pywsgi_env", tmp_path_factory.mktemp("envc"))
