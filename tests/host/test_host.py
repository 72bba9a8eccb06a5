"""The gateway library driven by a C host the way a server drives it:
dlopen RTLD_GLOBAL, fork, Python booted per child, requests from threads
(tests/host/pywsgi_host.c checks every response)."""

import os
import shutil
import subprocess

import pytest

from tests.host import build, memcheck

TIMEOUT = 180
VGPRELOAD = "/usr/libexec/valgrind/vgpreload_memcheck.so"


def run_host(host, gateway, *args, app=build.APP, env=None, timeout=TIMEOUT):
    argv = [host, "--gateway", gateway, "--app", app] + [str(a) for a in args]
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout + 30,
    )
    return proc


def test_threads_in_forked_children(host, gateway, tmp_path):
    """2 children x 4 threads, 8000 requests of every kind (one-item
    lists, bodies read in pieces, chunked bodies, streams, _json and
    _decimal, write(), app errors, step mode, cancel), each checked."""
    mark = str(tmp_path / "atexit")
    proc = run_host(
        host,
        gateway,
        "--children",
        2,
        "--threads",
        4,
        "--requests",
        8000,
        "--timeout",
        TIMEOUT,
        env={"PYWSGI_HOST_MARK": mark},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: 2 children x 4 threads, 8000 requests" in proc.stdout
    assert proc.stdout.count("4000 requests from 4 threads, 0 failed") == 2
    # pywsgi_fini() ran atexit functions in each child, with its own pid
    marks = [p for p in os.listdir(str(tmp_path)) if p.startswith("atexit.")]
    assert len(marks) == 2, marks


def test_threads_with_nonblocking_io(host, gateway):
    """The same with pywsgi_config.io_mode: the callbacks are called
    through pywsgi_embed._fastio, holding the GIL, from every thread."""
    proc = run_host(
        host,
        gateway,
        "--children",
        2,
        "--threads",
        4,
        "--requests",
        4000,
        "--nonblocking",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("2000 requests from 4 threads, 0 failed") == 2


def test_thread_churn(host, gateway):
    """Threads that end after 20 requests, new ones in their place: cffi
    frees the thread states of ended threads while others run."""
    proc = run_host(
        host,
        gateway,
        "--children",
        2,
        "--threads",
        4,
        "--requests",
        4000,
        "--churn",
        20,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: 2 children x 4 threads, 4000 requests" in proc.stdout


def test_more_threads_than_cores(host, gateway):
    proc = run_host(
        host, gateway, "--children", 1, "--threads", 16, "--requests", 3200
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_missing_app_is_an_init_error(host, gateway, tmp_path):
    missing = str(tmp_path / "no_such_app.py")
    proc = run_host(host, gateway, "--init-error", app=missing)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "init error: %s: no such file" % missing in proc.stdout
    assert "PYWSGI_FAIL, nothing sent" in proc.stdout


def test_app_import_error_with_traceback(host, gateway, tmp_path):
    app = tmp_path / "broken.py"
    app.write_text("import os\n\nraise ImportError('missing dependency')\n")
    proc = run_host(host, gateway, "--init-error", app=str(app))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "importing it raised" in proc.stdout
    assert 'broken.py", line 3' in proc.stdout
    assert "ImportError: missing dependency" in proc.stdout


def test_bad_python_home_fails_fast(host, gateway, tmp_path):
    proc = run_host(
        host, gateway, "--init-error", "--python-home", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is neither a venv" in proc.stdout


def test_wrong_library_is_refused(host, tmp_path):
    proc = run_host(host, "/nonexistent/_gateway.so", "--requests", 1)
    assert proc.returncode == 3
    assert "cannot load the gateway library" in proc.stderr


def test_bench_mode_runs(host, gateway):
    proc = run_host(host, gateway, "--bench", 200, "--rounds", 3)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "median_ns" in proc.stdout


def valgrind():
    path = shutil.which("valgrind")
    assert path, (
        "valgrind is not installed (apt-get install -y valgrind; "
        "make test installs it)"
    )
    return path


def test_memcheck_no_error_in_our_code(host, gateway, tmp_path):
    """One run under valgrind memcheck, Python on plain malloc so that
    memcheck sees every block: no invalid access in our frames, no
    uninitialised value used by our code, nothing definitely lost by it.
    Threads end every 16 requests, so thread states are freed too; the
    callbacks go through the GIL-holding _fastio path."""
    logs = str(tmp_path / "vg.%p.log")
    argv = [
        valgrind(),
        "--tool=memcheck",
        "--leak-check=full",
        "--show-leak-kinds=definite",
        "--errors-for-leak-kinds=definite",
        "--error-limit=no",
        "--num-callers=50",
        "--suppressions=" + os.path.join(build.HERE, "python.supp"),
        "--log-file=" + logs,
        host,
        "--gateway",
        gateway,
        "--app",
        build.APP,
        "--children",
        1,
        "--threads",
        2,
        "--requests",
        96,
        "--churn",
        16,
        "--nonblocking",
        "--timeout",
        600,
    ]
    env = dict(os.environ, PYTHONMALLOC="malloc")
    proc = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 failed" in proc.stdout
    ours, others, count = memcheck.scan(str(tmp_path / "vg.*.log"))
    assert count == 2, "expected the parent's and the child's log"
    for path in (tmp_path / p for p in os.listdir(str(tmp_path))):
        assert "ERROR SUMMARY" in path.read_text(errors="replace"), path
    assert not ours, "\n\n".join(ours)


@pytest.mark.parametrize(
    "block, ours",
    [
        (
            [
                "Invalid read of size 4",
                "   at 0x1: PyObject_Hash (object.c:1)",
                "   by 0x2: host_start (pywsgi_host.c:10)",
            ],
            True,
        ),
        (
            [
                "Invalid write of size 1",
                "   at 0x1: PyObject_Hash (object.c:1)",
            ],
            False,
        ),
        (
            [
                "Conditional jump or move depends on uninitialised value(s)",
                "   at 0x1: strlen (in " + VGPRELOAD + ")",
                "   by 0x2: pywsgi_init (gateway.c:3)",
            ],
            True,
        ),
        (
            [
                "Conditional jump or move depends on uninitialised value(s)",
                "   at 0x1: maybe_small_long (longobject.c:71)",
                "   by 0x2: pywsgi_init (gateway.c:3)",
            ],
            False,
        ),
        (
            [
                "8 bytes in 1 blocks are definitely lost in loss record 1 of "
                "2",
                "   at 0x1: malloc (in " + VGPRELOAD + ")",
                "   by 0x2: host_start (pywsgi_host.c:10)",
            ],
            True,
        ),
        (
            [
                "8 bytes in 1 blocks are definitely lost in loss record 1 of "
                "2",
                "   at 0x1: malloc (in " + VGPRELOAD + ")",
                "   by 0x2: PyMem_RawMalloc (obmalloc.c:1)",
                "   by 0x3: pywsgi_init (gateway.c:3)",
            ],
            False,
        ),
    ],
)
def test_memcheck_classifier(block, ours):
    """The log reader itself: what counts as an error of ours."""
    assert bool(memcheck.is_ours(block)) is ours
