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


ENV_CDEF = """
typedef struct {
    char      *data;
    size_t     len;
    size_t     cap;
    uint64_t   seen;
} pywsgi_env;
void pywsgi_env_init(pywsgi_env *env, char *buf, size_t cap);
int pywsgi_env_add(pywsgi_env *env, const char *key, size_t klen,
    const char *val, size_t vlen);
int pywsgi_env_add_cstr(pywsgi_env *env, const char *key, const char *val,
    size_t vlen);
int pywsgi_env_add_header(pywsgi_env *env, const char *name, size_t nlen,
    const char *val, size_t vlen);
int pywsgi_env_add_path(pywsgi_env *env, const char *mount, size_t mlen,
    const char *path, size_t plen);
"""


@pytest.fixture(scope="session")
def envc(tmp_path_factory):
    """csrc/pywsgi_env.c as a cffi module: (ffi, lib)."""
    import cffi

    builder = cffi.FFI()
    builder.cdef(ENV_CDEF)
    builder.set_source(
        "_pywsgi_env_test",
        '#include "pywsgi_env.h"',
        sources=[os.path.join(CSRC, "pywsgi_env.c")],
        include_dirs=[CSRC],
        extra_compile_args=["-Wall", "-Werror"],
    )
    outdir = str(tmp_path_factory.mktemp("envc"))
    path = builder.compile(tmpdir=outdir, verbose=False)
    spec = importlib.util.spec_from_file_location("_pywsgi_env_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ffi, module.lib
