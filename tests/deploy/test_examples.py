"""examples/django_project and examples/flask_app, each served by the one
command the README gives, on both servers, with an upload."""

import os

import pytest

from tests import harness
from tests.deploy.system import multipart, serve_in
from tests.test_cli import ROOT, Serving

EXAMPLES = {
    "django": ("examples/django_project/mysite/wsgi.py", "/upload/"),
    "flask": ("examples/flask_app/app.py:app", "/upload"),
}


@pytest.mark.parametrize("server", ["nginx", "apache"])
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_an_example_serves_with_one_command(example, server):
    spec, upload = EXAMPLES[example]
    proc, port = serve_in(ROOT, spec, "--server", server)
    with Serving(proc, port):
        assert harness.wait_for_port(port, proc, timeout=60)
        url = "http://127.0.0.1:%d" % port
        status, body = harness.fetch(url + "/")
        assert status == 200
        assert body.startswith(
            b"Hello from %s inside" % example.title().encode()
        )
        data = os.urandom(3 * 1024 * 1024)
        form, ctype = multipart("file", data)
        status, body = harness.fetch(
            url + upload, data=form, headers={"Content-Type": ctype}
        )
        assert (status, body) == (200, b"%d\n" % len(data))
