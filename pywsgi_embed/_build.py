"""cffi builder of the gateway library, pywsgi_embed/_gateway<EXT_SUFFIX>.

cffi's embedding mode: the library exports the C entry points of
csrc/pywsgi.h (csrc/gateway_*.c) and implements its internal pywsgi_py_*
functions in Python (gateway.py, through @ffi.def_extern).  The
declarations are read from csrc/pywsgi.h, never copied here.

Beside the library goes pywsgi-check (build_check), the config-time check
of the modules (csrc/pywsgi_check.c) as a command: a worker's reload-file
watch runs it.  It links no Python: it dlopens the library as a server does.

Run by setup.py (cffi_modules, then build_check); `python -m
pywsgi_embed._build` builds both in place for a checkout.
"""

import os
import re
import shlex
import subprocess
import sys
import sysconfig

import cffi

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")
HEADER = os.path.join(CSRC, "pywsgi.h")
INTERNAL = os.path.join(CSRC, "gateway.h")
# the C half of the library, one concept a file (csrc/gateway_internal.h)
GATEWAY_SOURCES = (
    "gateway_entry.c",
    "gateway_boot.c",
    "gateway_io.c",
    "gateway_fastio.c",
    "gateway_environ.c",
    "gateway_environ_last.c",
    "gateway_serve.c",
    "gateway_respond.c",
    "gateway_heads.c",
    "python_identity.c",
    "gateway_gil.c",
    "gateway_watch.c",
    "pywsgi_recycle.c",
)


def header_section(name, text=None, path=HEADER):
    """The text between '---- BEGIN <name> ----' and '---- END <name> ----'
    of path (csrc/pywsgi.h by default)."""
    if text is None:
        with open(path) as f:
            text = f.read()
    match = re.search(
        r"/\* ---- BEGIN %s ---- \*/(.*?)/\* ---- END %s ---- \*/"
        % (name, name),
        text,
        re.S,
    )
    if match is None:
        raise RuntimeError("%s has no %s section" % (path, name))
    return match.group(1)


# Runs inside the server's worker, in the interpreter gateway_boot.c booted, on
# the first call into the library.  It imports the pywsgi_embed package
# that sits beside this library (not whichever one sys.path finds first),
# so the Python side always matches the C side it was built with.  If that
# fails, the entry points still get defined and report why.
INIT_CODE = r'''
import os
import sys

def _pywsgi_start():
    gw = sys.modules["pywsgi_embed._gateway"]
    ffi, lib = gw.ffi, gw.lib
    try:
        pkg_dir = os.path.dirname(os.path.realpath(
            ffi.string(lib.pywsgi_gateway_path()).decode()))
        if "pywsgi_embed" not in sys.modules:
            import importlib.util
            spec = importlib.util.spec_from_file_location(
                "pywsgi_embed", os.path.join(pkg_dir, "__init__.py"),
                submodule_search_locations=[pkg_dir])
            pkg = importlib.util.module_from_spec(spec)
            sys.modules["pywsgi_embed"] = pkg
            spec.loader.exec_module(pkg)
        from pywsgi_embed import gateway
        gateway.install(ffi, lib)
    except BaseException:
        import traceback
        why = traceback.format_exc()
        sys.stderr.write(
            "pywsgi: the gateway's Python side failed to start:\n" + why)

        @ffi.def_extern()
        def pywsgi_py_load(cfg, err, errlen):
            msg = ("the gateway's Python side failed to start:\n"
                   + why).encode()
            msg = msg[:max(errlen - 1, 0)]
            ffi.memmove(err, msg + b"\0", len(msg) + 1)
            return 0

_pywsgi_start()
del _pywsgi_start
'''


def python_executable():
    """The interpreter gateway_boot.c boots when no Python home is configured:
    the one running this build (for a venv, its own bin/python, so that
    pyvenv.cfg is honoured)."""
    return sys.executable


def cffi_backend():
    """The _cffi_backend extension this build uses: gateway_boot.c loads it
    by its path when the configured Python has no cffi of its own."""
    import _cffi_backend

    return os.path.realpath(_cffi_backend.__file__)


def c_string(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace(
        "\n", "\\n"
    )


def identity_macros():
    """What csrc/python_identity.c compares a worker's Python with: this
    build's sys.version, libpython file and base prefix, resolved."""
    libdir, _ = libpython()
    soname = sysconfig.get_config_var("INSTSONAME") or ""
    return [
        ("PYWSGI_PYTHON_VERSION", c_string(sys.version)),
        (
            "PYWSGI_LIBPYTHON",
            c_string(os.path.realpath(os.path.join(libdir, soname))),
        ),
        ("PYWSGI_BASE_PREFIX", c_string(os.path.realpath(sys.base_prefix))),
    ]


def libpython():
    """(library dir, library name) of this Python's shared libpython.  The
    gateway links it itself: cffi adds it only in its own compile(), not in
    a setuptools build, and a server loads the gateway into a process that
    has no Python (undefined symbol: PyExc_TypeError)."""
    name = "python%d.%d%s" % (
        sys.version_info[0],
        sys.version_info[1],
        getattr(sys, "abiflags", ""),
    )
    return sysconfig.get_config_var("LIBDIR"), name


# The warnings of nginx's own build (-W -Wall, unused parameters allowed:
# callbacks and CPython methods have fixed signatures), plus truncated
# snprintf(): error messages are cut to the caller's buffer on purpose.
# PYWSGI_WERROR=1 (make lint) makes them errors, as nginx's build does.
WARNING_FLAGS = ["-Wall", "-Wextra", "-Wno-unused-parameter"]
WARNING_FLAGS += ["-Wno-format-truncation"]
if os.environ.get("PYWSGI_WERROR"):
    WARNING_FLAGS += ["-Werror"]


def make_builder():
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(
        header_section("CFFI C")
        + header_section("CFFI GATEWAY", path=INTERNAL)
    )
    ffibuilder.embedding_api(header_section("CFFI PYTHON"))
    ffibuilder.embedding_init_code(INIT_CODE)
    ext_suffix = sysconfig.get_config_var("EXT_SUFFIX")
    ffibuilder.set_source(
        "pywsgi_embed._gateway",
        '#include "pywsgi.h"\n#include "gateway.h"\n',
        sources=[os.path.join(CSRC, name) for name in GATEWAY_SOURCES],
        include_dirs=[CSRC],
        library_dirs=[libpython()[0]],
        libraries=[libpython()[1]],
        define_macros=[
            ("PYWSGI_PYTHON_EXECUTABLE", '"%s"' % python_executable()),
            ("PYWSGI_CFFI_BACKEND", '"%s"' % cffi_backend()),
            ("PYWSGI_GATEWAY_FILE", '"_gateway%s"' % ext_suffix),
        ]
        + identity_macros(),
        # cffi links libpython for embedding; the rpath lets a server that
        # knows nothing of this Python's prefix find it
        extra_link_args=["-Wl,-rpath," + sysconfig.get_config_var("LIBDIR")],
        extra_compile_args=["-O2"] + WARNING_FLAGS,
        # the full C API (PyConfig), and the exact EXT_SUFFIX name the
        # modules look for: not the abi3 stable-ABI build cffi defaults to
        py_limited_api=False,
    )
    return ffibuilder


ffibuilder = make_builder()


CHECK = "pywsgi-check"  # the command's file, beside the library
CHECK_SOURCES = ("pywsgi_check_main.c", "pywsgi_check.c", "pywsgi_loader.c")


def build_check(outdir, extra=()):
    """Compile pywsgi-check into outdir (the package directory, where the
    library is) under a temporary name, renamed into place: a running
    check keeps its file.  extra: more compiler flags (sanitizers)."""
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    target = os.path.join(outdir, CHECK)
    tmp = "%s.tmp%d" % (target, os.getpid())
    cmd = (
        cc
        + ["-O2", "-std=gnu99", "-I" + CSRC]
        + WARNING_FLAGS
        + list(extra)
        + [
            '-DPYWSGI_GATEWAY_FILE="_gateway%s"'
            % sysconfig.get_config_var("EXT_SUFFIX"),
            "-o",
            tmp,
        ]
        + [os.path.join(CSRC, name) for name in CHECK_SOURCES]
        + ["-ldl"]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            "compiling %s failed:\n%s\n%s"
            % (CHECK, " ".join(cmd), proc.stderr)
        )
    os.replace(tmp, target)
    return target


def build_for_lint():
    """Compile the library and the check with warnings as errors into
    build/lint, leaving the checkout's alone (make lint)."""
    name = "_gateway" + sysconfig.get_config_var("EXT_SUFFIX")
    tmpdir = os.path.join(os.path.dirname(HERE), "build", "lint", "cffi")
    target = os.path.join(tmpdir, name)
    built = ffibuilder.compile(tmpdir=tmpdir, target=target, verbose=False)
    return built, build_check(tmpdir)


def build_in_place():
    """Build the library into this checkout (what `pip install -e .` does).
    It is linked under a temporary name and renamed: servers that still
    map the old file keep it (the linker would truncate it under them)."""
    name = "_gateway" + sysconfig.get_config_var("EXT_SUFFIX")
    tmpdir = os.path.join(os.path.dirname(HERE), "build", "cffi")
    target = os.path.join(tmpdir, name)
    built = ffibuilder.compile(tmpdir=tmpdir, target=target, verbose=False)
    final = os.path.join(HERE, name)
    os.replace(built, final)
    return final, build_check(HERE)


if __name__ == "__main__":
    if sys.argv[1:] == ["--lint"]:
        print(*build_for_lint(), sep="\n")
    else:
        print(*build_in_place(), sep="\n")
