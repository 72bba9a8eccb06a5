"""mod_pywsgi under each of Apache's MPMs: the app runs in every child,
on the MPM's threads, with wsgi.multithread/multiprocess to match."""

import concurrent.futures

import pytest

from tests.apache.conftest import children_of, fetch

MPMS = [("event", True), ("worker", True), ("prefork", False)]


@pytest.mark.parametrize("mpm, threaded", MPMS, ids=[m for m, _ in MPMS])
def test_mpm_smoke(apache, mpm, threaded):
    srv = apache(mpm=mpm, workers=2, threads=4)
    assert len(children_of(srv, 2)) == 2
    assert fetch(srv.url("/version")) == (200, b"v1")
    status, body = fetch(
        srv.url(
            "/env?k1=wsgi.multithread&k2=wsgi.multiprocess&k3=SERVER_SOFTWARE"
        )
    )
    assert status == 200
    assert body.decode().split("\n")[:2] == [
        "wsgi.multithread=%s" % threaded,
        "wsgi.multiprocess=True",
    ]
    assert "SERVER_SOFTWARE=Apache/2.4" in body.decode()

    # several requests at once, each served by a child's own Python
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: fetch(srv.url("/who")), range(40)))
    assert all(status == 200 for status, _ in results)
    pids = {int(body.split()[0]) for _, body in results}
    assert pids <= set(children_of(srv))


def test_threads_of_one_child_overlap(apache, gate):
    # event MPM, one child: a request held in the app does not hold the
    # others (the GIL is released while the app waits and Apache writes)
    srv = apache(workers=1, threads=4)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        held = pool.submit(fetch, srv.url("/sleep?s=0&" + gate.query))
        assert gate.wait_entered(1)
        fast = [pool.submit(fetch, srv.url("/who")) for _ in range(3)]
        assert [f.result()[0] for f in fast] == [200] * 3
        assert not held.done()
        gate.release()
        assert held.result() == (200, b"slept")
    assert len({f.result()[1].split()[0] for f in fast}) == 1  # one process
