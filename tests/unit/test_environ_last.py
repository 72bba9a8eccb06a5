"""The environ made from the app's last one (csrc/gateway_environ_last.c):
whatever the order of requests, each app sees exactly its template and
its own request's pairs, never a value of the request before, nor what
an app did to the environ it was given."""

from tests.unit.recorder import BASE_ENV, DONE


def recording_app(seen):
    def app(environ, start_response):
        seen.append(
            {k: v for k, v in environ.items() if k.isupper() or "." not in k}
        )
        environ["HTTP_HOST"] = "changed.by.the.app"  # must not carry over
        environ["app.own"] = "x"
        del environ["REQUEST_METHOD"]
        start_response("200 OK", [])
        return [b"ok"]

    return app


def expected(env):
    pairs = {"SERVER_SOFTWARE": "test/1.0"}  # the template's
    pairs.update(BASE_ENV)
    pairs.update(env)
    return pairs


REQUESTS = [
    {"HTTP_HOST": "a.example", "PATH_INFO": "/1"},
    {"HTTP_HOST": "a.example", "PATH_INFO": "/1"},  # the same again
    {"HTTP_HOST": "b.example", "PATH_INFO": "/2"},  # values differ
    {"HTTP_HOST": "b.example", "HTTP_X_EXTRA": "1"},  # one key more
    {"HTTP_HOST": "b.example"},  # back to the first keys
    {"HTTP_HOST": "", "PATH_INFO": ""},  # empty values
    {"HTTP_HOST": "b.example", "PATH_INFO": "/2"},
]


def test_each_request_sees_its_own_pairs(server):
    seen = []
    app_id = server.add_app(recording_app(seen))
    for env in REQUESTS:
        code, _ = server.run(app_id, env=env)
        assert code == DONE
    for env, got in zip(REQUESTS, seen):
        assert got == expected(env)
        assert "app.own" not in got


def test_two_apps_keep_their_own_last(server):
    seen_a, seen_b = [], []
    a = server.add_app(recording_app(seen_a))
    b = server.add_app(recording_app(seen_b))
    for env in REQUESTS:
        server.run(a, env=env)
        server.run(b, env={"HTTP_HOST": "other"})
    assert seen_a == [expected(env) for env in REQUESTS]
    assert seen_b == [expected({"HTTP_HOST": "other"})] * len(REQUESTS)


def raw(pairs):
    return b"".join(k + b"\0" + v + b"\0" for k, v in pairs)


def test_a_repeated_key_keeps_the_later_value(server):
    seen = []
    app_id = server.add_app(recording_app(seen))
    blobs = [
        raw([(b"HTTP_A", b"1"), (b"HTTP_A", b"2")]),
        raw([(b"HTTP_A", b"3"), (b"HTTP_A", b"2")]),  # first value changed
        raw([(b"HTTP_A", b"1"), (b"HTTP_A", b"4")]),
    ]
    for blob in blobs:
        server.run(app_id, raw_env=blob)
    assert [got["HTTP_A"] for got in seen] == ["2", "2", "4"]


def test_a_key_of_the_template_is_the_request_s(server):
    seen = []

    def app(environ, start_response):
        seen.append(environ["SERVER_SOFTWARE"])
        start_response("200 OK", [])
        return [b"ok"]

    app_id = server.add_app(app)
    for software in (b"x/1", b"x/1", b"y/2"):
        server.run(app_id, raw_env=raw([(b"SERVER_SOFTWARE", software)]))
    server.run(app_id, raw_env=raw([(b"HTTP_HOST", b"h")]))
    assert seen == ["x/1", "x/1", "y/2", "test/1.0"]


def test_a_non_ascii_value_round_trips_as_latin_1(server):
    seen = []
    app_id = server.add_app(recording_app(seen))
    for value in (b"caf\xe9", b"caf\xe8", b"caf\xe8"):
        server.run(app_id, raw_env=raw([(b"HTTP_X", value)]))
    assert [got["HTTP_X"] for got in seen] == ["café", "cafè", "cafè"]
