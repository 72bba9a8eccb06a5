"""Bad recycling values are refused when the server reads its config,
with the file, the line and the reason, on both servers alike."""

import os

import pytest

from pywsgi_embed import servers
from pywsgi_embed.servers import Mount, Options
from tests import harness

APP = os.path.join(harness.APPS, "recycle_app.py")

# (server, the line written for max_requests=5, a bad line, the reason)
BAD = [
    (
        "nginx",
        "pywsgi_max_requests 5 0;",
        "pywsgi_max_requests five;",
        'invalid number of requests "five"',
    ),
    (
        "nginx",
        "pywsgi_max_requests 5 0;",
        "pywsgi_max_requests 5 -1;",
        'invalid jitter "-1"',
    ),
    (
        "nginx",
        "pywsgi_max_requests 5 0;",
        "pywsgi_max_rss 12Q;",
        '"pywsgi_max_rss" directive invalid value',
    ),
    (
        "nginx",
        "pywsgi_max_requests 5 0;",
        "pywsgi_max_lifetime soon;",
        '"pywsgi_max_lifetime" directive invalid value',
    ),
    (
        "nginx",
        "pywsgi_max_requests 5 0;",
        "pywsgi_retire_timeout x;",
        '"pywsgi_retire_timeout" directive invalid value',
    ),
    (
        "apache",
        "PyWSGIMaxRequests 5 0",
        "PyWSGIMaxRequests five",
        'PyWSGIMaxRequests: "five" is not a whole number',
    ),
    (
        "apache",
        "PyWSGIMaxRequests 5 0",
        "PyWSGIMaxRSS 12Q",
        'PyWSGIMaxRSS: "12Q" is not a whole number of bytes',
    ),
    (
        "apache",
        "PyWSGIMaxRequests 5 0",
        "PyWSGIMaxLifetime -3",
        'PyWSGIMaxLifetime: "-3" is not a whole number',
    ),
    (
        "apache",
        "PyWSGIMaxRequests 5 0",
        "PyWSGIRetireTimeout 99999999",
        "PyWSGIRetireTimeout: at most 86400 seconds",
    ),
]


@pytest.mark.parametrize("name, good, bad, reason", BAD)
def test_a_bad_recycling_value_is_refused(tmp_path, name, good, bad, reason):
    server = servers.get(name)(
        Options(mounts=[Mount("/", APP)], max_requests=5, port=1),
        str(tmp_path),
    )
    path = server.write_config()
    text = open(path).read()
    assert good in text
    with open(path, "w") as f:
        f.write(text.replace(good, bad))
    line = text[: text.index(good)].count("\n") + 1
    problem = server.check_config(path)
    assert problem is not None
    assert reason in problem
    assert "%s:%d" % (path, line) in problem or (
        "line %d of %s" % (line, path) in problem
    )


@pytest.mark.parametrize("name", ["nginx", "apache"])
def test_good_recycling_values_are_taken(tmp_path, name):
    server = servers.get(name)(
        Options(
            mounts=[Mount("/", APP)],
            max_requests=1000,
            max_requests_jitter=50,
            max_lifetime=3600,
            max_rss=512 << 20,
            reload_file=str(tmp_path / "touch"),
            port=1,
        ),
        str(tmp_path),
    )
    assert server.check_config(server.write_config()) is None
