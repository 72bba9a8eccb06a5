"""csrc/pywsgi_env.c: the CGI mapping rules both server modules apply
(checklist items 2, 3, 4, 5), compiled with cffi and called directly.  The
last tests feed a C-built blob through the gateway to the app."""

import pytest

from tests.unit.recorder import DONE

OK, SKIPPED, FULL, BAD = 0, 1, -1, -2


class Env:
    def __init__(self, envc, cap=4096):
        self.ffi, self.lib = envc
        self.buf = self.ffi.new("char[]", cap)
        self.env = self.ffi.new("pywsgi_env *")
        self.lib.pywsgi_env_init(self.env, self.buf, cap)

    def var(self, key, value):
        return self.lib.pywsgi_env_add(
            self.env, key, len(key), value, len(value)
        )

    def cstr(self, key, value):
        return self.lib.pywsgi_env_add_cstr(self.env, key, value, len(value))

    def header(self, name, value):
        return self.lib.pywsgi_env_add_header(
            self.env, name, len(name), value, len(value)
        )

    def path(self, mount, path):
        return self.lib.pywsgi_env_add_path(
            self.env, mount, len(mount), path, len(path)
        )

    def data(self):
        return self.ffi.unpack(self.env.data, self.env.len)

    def pairs(self):
        parts = self.data().split(b"\0")
        assert parts[-1] == b""
        parts = parts[:-1]
        return list(zip(parts[0::2], parts[1::2]))

    def dict(self):
        return dict(self.pairs())


@pytest.fixture
def env(envc):
    return Env(envc)


def test_variable_and_cstr(env):
    assert env.var(b"REQUEST_METHOD", b"GET") == OK
    assert env.cstr(b"QUERY_STRING", b"") == OK
    assert env.data() == b"REQUEST_METHOD\0GET\0QUERY_STRING\0\0"


@pytest.mark.parametrize(
    "name, key",
    [
        (b"Host", b"HTTP_HOST"),
        (b"user-agent", b"HTTP_USER_AGENT"),
        (b"X-Forwarded-For", b"HTTP_X_FORWARDED_FOR"),
        (b"Content-Type", b"CONTENT_TYPE"),
        (b"content-length", b"CONTENT_LENGTH"),
        (b"CONTENT-TYPE", b"CONTENT_TYPE"),
        (b"Content-Typed", b"HTTP_CONTENT_TYPED"),
    ],
)
def test_header_names(env, name, key):
    assert env.header(name, b"v") == OK
    assert env.pairs() == [(key, b"v")]


def test_no_http_content_keys(env):
    env.header(b"Content-Type", b"text/plain")
    env.header(b"Content-Length", b"3")
    keys = env.dict()
    assert b"HTTP_CONTENT_TYPE" not in keys
    assert b"HTTP_CONTENT_LENGTH" not in keys
    assert keys[b"CONTENT_TYPE"] == b"text/plain"


@pytest.mark.parametrize("name", [b"Proxy", b"proxy", b"X_Foo", b"_", b""])
def test_dropped_headers(env, name):
    assert env.header(name, b"evil") == SKIPPED
    assert env.data() == b""


def test_long_name_dropped(env):
    assert env.header(b"X" * 256, b"v") == SKIPPED
    assert env.header(b"X" * 255, b"v") == OK


def test_repeated_headers_joined(env):
    env.header(b"Accept", b"a")
    env.header(b"X-A", b"1")
    env.header(b"accept", b"b")
    env.header(b"ACCEPT", b"c")
    env.header(b"X-B", b"2")
    assert env.pairs() == [
        (b"HTTP_ACCEPT", b"a, b, c"),
        (b"HTTP_X_A", b"1"),
        (b"HTTP_X_B", b"2"),
    ]


def test_repeated_cookie_joined_with_semicolon(env):
    env.header(b"Cookie", b"a=1")
    env.header(b"Cookie", b"b=2")
    assert env.dict() == {b"HTTP_COOKIE": b"a=1; b=2"}


def test_many_headers_no_false_merge(env):
    """64 bloom bits, many more names: a shared bit never merges two
    different headers."""
    names = [b"X-H%d" % i for i in range(150)]
    for name in names:
        assert env.header(name, name) == OK
    got = env.dict()
    assert len(got) == 150
    for name in names:
        assert got[b"HTTP_" + name.replace(b"-", b"_").upper()] == name


def test_nul_in_value_refused(env):
    assert env.header(b"X-A", b"a\0REMOTE_USER\0root") == BAD
    assert env.var(b"QUERY_STRING", b"a\0b") == BAD
    assert env.path(b"", b"/a\0b") == BAD
    assert env.data() == b""


def test_full_buffer(envc):
    small = Env(envc, cap=16)
    assert small.var(b"REQUEST_METHOD", b"GET") == FULL
    assert small.header(b"Host", b"example.org") == FULL
    assert small.data() == b""


def PATH_SIZE(mlen, ulen):
    return mlen + ulen + 24  # PYWSGI_ENV_PATH_SIZE of pywsgi_env.h


@pytest.mark.parametrize(
    "mount, path",
    [
        (b"", b"/"),
        (b"", b"/a/b"),
        (b"/app", b"/app/x"),
        (b"/app", b"/other"),
    ],
)
def test_path_size_macro_is_enough(envc, mount, path):
    e = Env(envc, cap=PATH_SIZE(len(mount), len(path)))
    assert e.path(mount, path) == OK


def test_header_size_macro_is_enough(envc):
    # PYWSGI_ENV_HEADER_SIZE(4, 1) = 14 bytes: "HTTP_HOST\0v\0" is 12
    e = Env(envc, cap=14)
    assert e.header(b"Host", b"v") == OK
    e = Env(envc, cap=12 + 3 + 9)
    assert e.header(b"Content-Type", b"abc") == OK


@pytest.mark.parametrize(
    "mount, path, script, info",
    [
        (b"", b"/", b"", b"/"),
        (b"/", b"/", b"", b"/"),
        (b"/", b"/a/b", b"", b"/a/b"),
        (b"/app", b"/app", b"/app", b""),
        (b"/app", b"/app/", b"/app", b"/"),
        (b"/app", b"/app/x/y", b"/app", b"/x/y"),
        (b"/app/", b"/app/x", b"/app", b"/x"),
        (b"/app//", b"/app/x", b"/app", b"/x"),
        (b"/app", b"/application", b"", b"/application"),
        (b"/app", b"/ap", b"", b"/ap"),
        (b"/app", b"/other", b"", b"/other"),
        (b"/a/b", b"/a/b/c", b"/a/b", b"/c"),
    ],
)
def test_script_name_path_info(env, mount, path, script, info):
    assert env.path(mount, path) == OK
    assert env.pairs() == [(b"SCRIPT_NAME", script), (b"PATH_INFO", info)]
    assert script != b"/"
    assert script + info == path
    for part in (script, info):
        assert part == b"" or part.startswith(b"/")


def cgi_record(envc, **values):
    """A pywsgi_cgi of values: str fields as bytes (None: no value), ports
    and https as ints; the keepalive list holds the C strings."""
    ffi, _ = envc
    cgi = ffi.new("pywsgi_cgi *")
    keep = []
    for field, value in values.items():
        if isinstance(value, bytes):
            s = ffi.new("char[]", value)
            keep.append(s)
            setattr(cgi, field, {"val": s, "len": len(value)})
        else:
            setattr(cgi, field, value)
    return cgi, keep


BASIC_CGI = {
    "request_method": b"GET",
    "request_uri": b"/app/x?a=1",
    "server_protocol": b"HTTP/1.1",
    "server_name": b"example.org",
    "server_addr": b"127.0.0.1",
    "remote_addr": b"127.0.0.2",
    "mount": b"/app",
    "path": b"/app/x",
    "server_port": 8080,
    "remote_port": 40000,
}


def test_cgi_variables_one_rule_for_missing_values(envc):
    # a value the server does not have is omitted, never '' (both modules
    # build their variables through this); QUERY_STRING is always there
    cgi, keep = cgi_record(envc, **BASIC_CGI)
    e = Env(envc, cap=envc[1].pywsgi_env_cgi_size(cgi))
    assert e.lib.pywsgi_env_add_cgi(e.env, cgi) == OK
    assert e.dict() == {
        b"REQUEST_METHOD": b"GET",
        b"QUERY_STRING": b"",
        b"REQUEST_URI": b"/app/x?a=1",
        b"SERVER_PROTOCOL": b"HTTP/1.1",
        b"SERVER_NAME": b"example.org",
        b"SERVER_ADDR": b"127.0.0.1",
        b"REMOTE_ADDR": b"127.0.0.2",
        b"SERVER_PORT": b"8080",
        b"REMOTE_PORT": b"40000",
        b"SCRIPT_NAME": b"/app",
        b"PATH_INFO": b"/x",
    }


def test_cgi_variables_empty_kept_https_and_user(envc):
    values = dict(BASIC_CGI, query_string=b"", remote_user=b"", https=1)
    values.update(auth_type=b"Basic", remote_port=0)
    cgi, keep = cgi_record(envc, **values)
    e = Env(envc, cap=envc[1].pywsgi_env_cgi_size(cgi))
    assert e.lib.pywsgi_env_add_cgi(e.env, cgi) == OK
    d = e.dict()
    assert d[b"REMOTE_USER"] == b"" and d[b"AUTH_TYPE"] == b"Basic"
    assert d[b"HTTPS"] == b"on" and d[b"wsgi.url_scheme"] == b"https"
    assert b"REMOTE_PORT" not in d  # port 0: unknown


@pytest.mark.parametrize("port", [1, 9, 10, 99, 100, 443, 8080, 65535])
def test_cgi_ports_in_decimal(envc, port):
    cgi, keep = cgi_record(envc, **dict(BASIC_CGI, remote_port=port))
    e = Env(envc, cap=envc[1].pywsgi_env_cgi_size(cgi))
    assert e.lib.pywsgi_env_add_cgi(e.env, cgi) == OK
    assert e.dict()[b"REMOTE_PORT"] == str(port).encode()


def test_cgi_variables_nul_refused(envc):
    cgi, keep = cgi_record(envc, **dict(BASIC_CGI, request_uri=b"/a\0b"))
    e = Env(envc, cap=envc[1].pywsgi_env_cgi_size(cgi))
    assert e.lib.pywsgi_env_add_cgi(e.env, cgi) == BAD


@pytest.mark.parametrize(
    "rc, status, says",
    [
        (OK, 0, ""),
        (SKIPPED, 0, ""),
        (BAD, 400, "NUL byte"),
        (FULL, 500, "too small"),
    ],
)
def test_status_of_a_result(envc, rc, status, says):
    ffi, lib = envc
    assert lib.pywsgi_env_status(rc) == status
    assert says in ffi.string(lib.pywsgi_env_error(rc)).decode()


def test_c_blob_through_the_gateway(env, server):
    """A request packed by the C rules reaches the app as PEP 3333 says."""
    env.cstr(b"REQUEST_METHOD", b"POST")
    env.path(b"/app", "/app/caf\u00e9".encode("utf-8"))
    env.cstr(b"QUERY_STRING", b"a=%20b")
    env.cstr(b"SERVER_NAME", b"example.org")
    env.cstr(b"SERVER_PORT", b"80")
    env.cstr(b"SERVER_PROTOCOL", b"HTTP/1.1")
    env.header(b"Host", b"example.org")
    env.header(b"Content-Type", b"text/plain")
    env.header(b"Content-Length", b"0")
    env.header(b"X-Dup", b"1")
    env.header(b"X-Dup", b"2")
    env.header(b"Proxy", b"http://evil")
    env.header(b"X-Name", "\u00fc".encode("latin-1"))
    got = {}

    def app(environ, start_response):
        got.update(environ)
        start_response("200 OK", [])
        return []

    code, seen = server.run(server.add_app(app), raw_env=env.data())
    assert code == DONE
    assert got["SCRIPT_NAME"] == "/app"
    assert got["PATH_INFO"] == "/caf\u00c3\u00a9"
    assert got["QUERY_STRING"] == "a=%20b"
    assert got["HTTP_X_DUP"] == "1, 2"
    assert got["CONTENT_TYPE"] == "text/plain"
    assert got["HTTP_X_NAME"] == "\u00fc"
    assert "HTTP_PROXY" not in got
    assert "HTTP_CONTENT_TYPE" not in got
    assert "HTTP_CONTENT_LENGTH" not in got
