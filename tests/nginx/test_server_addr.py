"""SERVER_ADDR and SERVER_PORT are the address each request came in on:
the module keeps the text of the last local address it formatted, and a
worker whose connections come in on two addresses must never give one
request the other's."""

import pytest

from tests import harness

APP = '''
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s %s" % (environ["SERVER_ADDR"], environ["SERVER_PORT"]))
            .encode()]
'''


@pytest.mark.parametrize("mode", ["inline", "threads"])
def test_each_request_sees_the_address_it_came_in_on(nginx, tmp_path, mode):
    app = tmp_path / "addr_app.py"
    app.write_text(APP)
    second = harness.free_port()
    srv = nginx(
        app=app,
        mode=mode,
        extra_config="listen 127.0.0.2:%d;" % second,
    )
    first = ("127.0.0.1", srv.port)
    other = ("127.0.0.2", second)
    for host, port in [first, other, other, first, other, first, first]:
        status, body = harness.fetch("http://%s:%d/" % (host, port), 10)
        assert (status, body) == (200, b"%s %d" % (host.encode(), port))
