"""pywsgi_gauge_add() (csrc/gateway_watch.c), the gauges a module moves
without the GIL: the moves made before the worker counts join its slot
once it does, so a request queued before and taken after leaves the gauge
at 0, not -1; later moves go straight to the slot, from any thread."""

import ctypes
import threading

import pytest
from pywsgi_embed._gateway import ffi, lib

from pywsgi_embed import metrics

QUEUED = metrics.QUEUED - metrics.GAUGES  # PYWSGI_GAUGE_QUEUED
STRIDE, APPS = 4, 2
THREADS, PAIRS = 4, 20000


@pytest.fixture
def gauge_add():
    """The library's pywsgi_gauge_add (not a cffi entry: modules call it);
    the gauges are detached from any slot again afterwards."""
    gateway = ctypes.CDLL(ffi.string(lib.pywsgi_gateway_path()).decode())
    add = gateway.pywsgi_gauge_add
    add.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64]
    add.restype = None
    yield add
    lib.pywsgi_gw_set_gauges(ffi.NULL, 0, 0)


def test_moves_before_counting_join_the_slot(gauge_add):
    slot = ffi.new("int64_t[]", STRIDE * (APPS + 1))
    gauge_add(QUEUED, 0, 1)
    gauge_add(QUEUED, 0, 1)
    gauge_add(QUEUED, 1, 1)
    gauge_add(QUEUED, 0, -1)
    assert list(slot) == [0] * len(slot)
    lib.pywsgi_gw_set_gauges(slot, STRIDE, APPS)
    assert (slot[0], slot[STRIDE + QUEUED]) == (1, 1)
    gauge_add(QUEUED, 0, -1)  # taken after counting began
    gauge_add(QUEUED, 1, -1)
    gauge_add(QUEUED, APPS, 1)  # an app the slot has no room for
    gauge_add(QUEUED + 7, 0, 1)  # no such gauge
    assert list(slot) == [0] * len(slot)


def test_moves_racing_with_the_slot_are_all_kept(gauge_add):
    """Each thread leaves one request waiting before the worker counts,
    then moves the gauge up and down while the slot arrives: whichever
    side of it each move lands on, the slot ends with what they left."""
    slot = ffi.new("int64_t[]", STRIDE * APPS)
    begun = threading.Barrier(THREADS + 1)

    def pairs():
        gauge_add(QUEUED, 0, 1)
        begun.wait()
        for _ in range(PAIRS):
            gauge_add(QUEUED, 0, 1)
            gauge_add(QUEUED, 0, -1)

    workers = [threading.Thread(target=pairs) for _ in range(THREADS)]
    for t in workers:
        t.start()
    begun.wait()
    lib.pywsgi_gw_set_gauges(slot, STRIDE, APPS)
    for t in workers:
        t.join()
    assert slot[QUEUED] == THREADS
