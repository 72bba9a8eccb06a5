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


def pairs_of(blob):
    """The blob's pairs as the gateway cuts them (pywsgi_gw_next_pair):
    up to each NUL, the blob's final byte left out, a key without its NUL
    before that dropped."""
    pairs, p, end = [], 0, len(blob) - 1
    while p < end:
        q = blob.find(b"\0", p, end)
        if q < 0:
            break
        v = q + 1
        e = blob.find(b"\0", v, end)
        e = end if e < 0 else e
        pairs.append(
            (blob[p:q].decode("latin-1"), blob[v:e].decode("latin-1"))
        )
        p = e + 1
    return pairs


LAST = raw([(b"HTTP_HOST", b"a.example"), (b"PATH_INFO", b"/x")])
NEXT = [  # each after LAST, so each is walked beside LAST's pairs
    LAST,
    raw([(b"HTTP_HOSTX", b"a.example"), (b"PATH_INFO", b"/x")]),
    raw([(b"HTTP_HOS", b"a.example"), (b"PATH_INFO", b"/x")]),
    raw([(b"HTTP_HOST", b"a.example2"), (b"PATH_INFO", b"/x")]),
    raw([(b"HTTP_HOST", b"a.exampl"), (b"PATH_INFO", b"/x")]),
    raw([(b"HTTP_HOST", b""), (b"PATH_INFO", b"/x")]),
    raw([(b"HTTP_HOST", b"a.example"), (b"PATH_INFO", b"/xy")]),
    raw([(b"HTTP_HOST", b"a.example"), (b"PATH_INFO", b"")]),
    raw([(b"HTTP_HOST", b"a.example")]),  # a pair fewer
    LAST + b"HTTP_X\0",  # a key with no value: dropped
    LAST + b"HTTP_X\0v\0",  # a pair more
    LAST + b"\0\0",  # an empty pair more
    LAST[:-1],  # no final NUL: the last byte is left out
    b"HTTP_HOST\0a.example\0PATH_INFO\0/x",  # the same, cut short
]


def test_a_blob_walked_beside_the_last_is_cut_as_the_gateway_cuts_it(server):
    seen = []
    app_id = server.add_app(recording_app(seen))
    for blob in NEXT:
        server.run(app_id, raw_env=LAST)
        server.run(app_id, raw_env=blob)
    template = {"SERVER_SOFTWARE": "test/1.0"}
    for i, blob in enumerate(NEXT):
        assert seen[2 * i] == dict(template, **dict(pairs_of(LAST)))
        assert seen[2 * i + 1] == dict(template, **dict(pairs_of(blob))), blob
