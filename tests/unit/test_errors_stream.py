"""wsgi.errors, stdout/stderr and logging into the server log (checklist
item 13)."""

import logging
import sys
import threading

import pytest

from pywsgi_embed import gateway

# the ABI's levels (csrc/pywsgi.h), never copies of their values
from pywsgi_embed.response import LOG_ERROR as ERROR
from pywsgi_embed.response import LOG_WARN as WARN
from tests.unit.recorder import DONE


def errors_of(server):
    got = []

    def app(environ, start_response):
        got.append(environ["wsgi.errors"])
        start_response("200 OK", [])
        return []

    assert server.run(server.add_app(app))[0] == DONE
    return got[0]


def texts(server):
    return [text for level, text in server.worker_logs]


def test_write_any_unicode(server):
    err = errors_of(server)
    samples = [
        "plain",
        "caf\u00e9",
        "\u4e2d\u6587",
        "\U0001f600",
        "lone \ud800 surrogate",
        "nul \0 inside",
        "\x1b[31mansi",
    ]
    for s in samples:
        assert err.write(s + "\n") == len(s) + 1
    got = texts(server)
    assert got[:4] == samples[:4]
    assert got[4] == "lone \\ud800 surrogate"
    assert len(got) == len(samples)


def test_line_buffered(server):
    err = errors_of(server)
    err.write("part one, ")
    err.write("part two")
    assert texts(server) == []
    err.write("\nsecond\nthird")
    assert texts(server) == ["part one, part two", "second"]
    err.flush()
    assert texts(server) == ["part one, part two", "second", "third"]
    err.flush()
    assert len(texts(server)) == 3


def test_writelines_and_flush(server):
    err = errors_of(server)
    err.writelines(["a\n", "b", "c\n", "d"])
    err.flush()
    assert texts(server) == ["a", "bc", "d"]
    assert [level for level, _ in server.worker_logs] == [ERROR] * 3


def test_stream_interface(server):
    err = errors_of(server)
    assert err.writable() and not err.readable() and not err.seekable()
    assert not err.isatty() and not err.closed
    assert err.fileno() == 2
    err.write("x")
    err.close()
    assert texts(server) == ["x"]


def test_bytes_and_objects_do_not_raise(server):
    err = errors_of(server)
    err.write(b"bytes \xff\n")
    err.write(42)
    err.write("\n")
    assert texts(server) == ["bytes \ufffd", "42"]


def test_threads_do_not_splice_lines(server):
    err = errors_of(server)
    barrier = threading.Barrier(4)

    def worker(n):
        barrier.wait()
        for i in range(200):
            err.write("thread %d " % n)
            err.write("line %d\n" % i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = texts(server)
    assert len(got) == 800
    for line in got:
        words = line.split()
        assert len(words) == 4 and words[0] == "thread" and words[2] == "line"


@pytest.fixture
def stdio_restored():
    saved = sys.stdout, sys.stderr, logging.lastResort
    yield
    sys.stdout, sys.stderr, logging.lastResort = saved


def test_print_and_stderr_go_to_the_log(server, stdio_restored):
    gateway.redirect_stdio()
    print("printed", 1)
    sys.stderr.write("to stderr\n")
    sys.stdout.flush()
    assert sys.stdout.fileno() == 1
    lines = texts(server)
    assert lines == ["printed 1", "to stderr"]


def test_unconfigured_logging_goes_to_the_log(server, stdio_restored):
    gateway.redirect_stdio()
    log = logging.getLogger("pywsgi_unit_test_logger")
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = []  # as in a fresh worker
    try:
        log.error("bad %s\nsecond line", "thing")
        log.warning("careful")
        log.info("not shown: below WARNING")
    finally:
        root.handlers[:] = saved
    assert server.worker_logs == [
        (ERROR, "pywsgi_unit_test_logger: bad thing"),
        (ERROR, "second line"),
        (WARN, "pywsgi_unit_test_logger: careful"),
    ]
