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
def server():
    rec = install(Recorder())
    yield rec
    assert not rec.callback_errors, rec.callback_errors


@pytest.fixture(scope="session")
def envc(tmp_path_factory):
    """csrc/pywsgi_env.c as a cffi module: (ffi, lib)."""
    import cffi

    builder = cffi.FFI()
    # the declarations as csrc/pywsgi_env.h has them, never a copy
    builder.cdef(
        header_section("CFFI ENV", path=os.path.join(CSRC, "pywsgi_env.h"))
    )
    builder.set_source(
        "_pywsgi_env_test",
        '#include "pywsgi_env.h"',
        sources=[os.path.join(CSRC, "pywsgi_env.c")],
        include_dirs=[CSRC],
        extra_compile_args=["-Wall", "-Wextra", "-Werror"],
    )
    outdir = str(tmp_path_factory.mktemp("envc"))
    path = builder.compile(tmpdir=outdir, verbose=False)
    spec = importlib.util.spec_from_file_location("_pywsgi_env_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ffi, module.lib
