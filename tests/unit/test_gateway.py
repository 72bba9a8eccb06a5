"""The gateway's own error paths: what the server gets when the record or
the config is wrong (FAIL: nothing was sent, the module answers 500)."""

import pytest
from pywsgi_embed._gateway import ffi, lib

from pywsgi_embed import gateway
from pywsgi_embed.response import LOG_ERROR
from tests.unit.recorder import DONE, FAIL, Recorder, step


def hello(environ, start_response):
    start_response("200 OK", [])
    return [b"hi"]


@pytest.mark.parametrize("bad_id", [-1, -2, 10**6])
def test_unknown_app_id_fails_without_output(server, bad_id):
    server.add_app(hello)
    for call in (gateway.handle, step):
        rec, seen = server.request(bad_id)
        assert call(rec) == FAIL
        assert seen.events == []
        assert seen.logs == [
            (
                LOG_ERROR,
                "pywsgi: no app with id %d in this worker "
                "(did its pywsgi_init fail?)" % bad_id,
            )
        ]


def test_empty_env_blob_fails(server):
    app = server.add_app(hello)
    rec, seen = server.request(app, raw_env=b"")
    assert gateway.handle(rec) == FAIL
    assert seen.events == []


def test_odd_blob_does_not_shift_pairs(server):
    """A blob cut in the middle of a pair loses that key only."""
    got = []

    def app(environ, start_response):
        got.append(environ)
        start_response("200 OK", [])
        return []

    app_id = server.add_app(app)
    code, _ = server.run(app_id, raw_env=b"REQUEST_METHOD\0GET\0DANGLING\0")
    assert code == DONE
    assert got[0]["REQUEST_METHOD"] == "GET" and "DANGLING" not in got[0]


def test_app_ids_count_up(server):
    first = server.add_app(hello)
    second = server.add_app(hello)
    assert second == first + 1
    assert server.run(first)[0] == DONE and server.run(second)[0] == DONE


def _fresh_worker(monkeypatch):
    """As if no app was loaded yet in this worker: load() takes the io."""
    monkeypatch.setattr(gateway, "_read", None)
    monkeypatch.setattr(gateway, "_io", None)


@pytest.mark.parametrize("differs", ["io", "io_mode"])
def test_a_second_app_with_other_io_is_refused(server, differs, tmp_path):
    # io and io_mode are the worker's: the first load took them, and an app
    # that would load with the same ones is refused with others
    app = tmp_path / "ok_app.py"
    app.write_text("def application(e, s):\n    return []\n")
    assert server.load(str(app))[0] >= 0
    cfg = server.config(str(app))
    if differs == "io":
        cfg.io = Recorder().io
    else:
        cfg.io_mode = lib.PYWSGI_IO_NONBLOCKING
    err = ffi.new("char[]", 1000)
    assert gateway.load(cfg, err, 1000) == 0
    assert b"io and io_mode are the worker's" in ffi.string(err)


def test_null_io_table_is_a_load_error(server, monkeypatch):
    _fresh_worker(monkeypatch)
    cfg = server.config("x.py")
    cfg.io = ffi.NULL
    err = ffi.new("char[]", 1000)
    assert gateway.load(cfg, err, 1000) == 0
    assert b"pywsgi_config.io is NULL" in ffi.string(err)


def test_incomplete_io_table_is_a_load_error(server, monkeypatch):
    _fresh_worker(monkeypatch)
    io = ffi.new("pywsgi_io *")
    io.read = server.io.read
    io.start = server.io.start
    cfg = server.config("x.py")
    cfg.io = io
    err = ffi.new("char[]", 1000)
    assert gateway.load(cfg, err, 1000) == 0
    assert (
        ffi.string(err) == b"the server module's io table lacks write, "
        b"sendfile, log"
    )


def test_template_is_not_shared_state(server):
    """An app that changes its environ cannot change the next request's."""
    got = []

    def app(environ, start_response):
        got.append(dict(environ))
        environ["wsgi.version"] = "changed"
        environ.clear()
        start_response("200 OK", [])
        return []

    app_id = server.add_app(app)
    server.run(app_id)
    server.run(app_id)
    assert got[1]["wsgi.version"] == (1, 0)
    assert got[1] == got[0]


def test_template_with_room():
    """The template keeps its content, and on CPython a copy takes a
    request's variables without growing its table."""
    import sys

    base = {"wsgi.version": (1, 0), "k%d" % 1: 1}
    base.update(("key%d" % i, i) for i in range(9))
    roomy = gateway.with_room(base)
    assert roomy == base and type(roomy) is dict
    assert "\0pywsgi-room" not in roomy
    copy = roomy.copy()
    size = sys.getsizeof(copy)
    copy.update(("HTTP_X_%d" % i, "v") for i in range(20))
    if sys.implementation.name == "cpython":
        assert sys.getsizeof(copy) == size


def test_io_wrappers_before_any_io_table():
    """In a process where no app was loaded, the C wrappers fail rather
    than call through a NULL table."""
    import subprocess
    import sys

    from tests.unit.conftest import ROOT

    code = (
        "from pywsgi_embed._gateway import ffi, lib\n"
        "print(lib.pywsgi_gw_write(0, b'x', 1),"
        " lib.pywsgi_gw_read(0, ffi.new('char[]', 4), 4),"
        " lib.pywsgi_gw_start(0, b'200 OK\\0', 7, 0, b'', 0, 0),"
        " lib.pywsgi_gw_sendfile(0, 0, 0, 1))\n"
        "lib.pywsgi_gw_log(0, 0, b'x', 1)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["-1", "-1", "-1", "-1"]
