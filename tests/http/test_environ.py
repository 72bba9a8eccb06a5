"""PEP 3333 environ over HTTP (checklist items 1-9)."""

import pytest

from tests.http.client import build, environ, get, send_raw

CGI_PRESENT = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
)


def value(env, key):
    assert env[key]["type"] == "str", (key, env[key])
    return env[key]["value"]


@pytest.mark.smoke
def test_environ_is_a_new_dict_with_the_required_keys(target):  # 1
    first = environ(target)
    assert first["__is_dict__"]["repr"] == "True"
    for key in ("REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT"):
        assert value(first, key), key
    assert value(first, "SERVER_PROTOCOL") == "HTTP/1.1"
    assert value(first, "SERVER_PORT") == str(target.port)
    assert value(first, "REQUEST_METHOD") == "GET"


def test_each_request_gets_its_own_environ(target):  # 1: new per request
    # the app would see a key left over from another request if the
    # template were shared; the header sent once must not appear later
    env = environ(target, headers=[("X-Only-Once", "1")])
    assert "HTTP_X_ONLY_ONCE" in env
    env = environ(target)
    assert "HTTP_X_ONLY_ONCE" not in env


@pytest.mark.parametrize(
    "path, script, path_info",
    [
        ("/app/environ/x/y", "/app", "/environ/x/y"),
        ("/app/environ", "/app", "/environ"),
        ("/environ/z", "", "/environ/z"),
    ],
)
def test_script_name_and_path_info(target, path, script, path_info):  # 2
    env = environ(target, path)
    assert value(env, "SCRIPT_NAME") == script
    assert value(env, "PATH_INFO") == path_info
    assert value(env, "SCRIPT_NAME") != "/"


def test_path_info_is_percent_decoded_latin1(target):  # 3
    env = environ(target, "/app/environ/caf%C3%A9/a%20b")
    assert value(env, "PATH_INFO") == "/environ/caf\xc3\xa9/a b"


def test_query_string_raw_and_present_when_empty(target):  # 3
    env = environ(target, "/app/environ?a=%20b&c=d%26e")
    assert value(env, "QUERY_STRING") == "a=%20b&c=d%26e"
    env = environ(target, "/app/environ")
    assert value(env, "QUERY_STRING") == ""


def test_content_type_and_length_not_as_http_keys(target):  # 4
    resp = send_raw(
        target,
        build(
            target,
            "POST",
            "/app/environ",
            [("Content-Type", "text/x-test")],
            b"12345",
        ),
    )
    env = resp.json()
    assert value(env, "CONTENT_TYPE") == "text/x-test"
    assert value(env, "CONTENT_LENGTH") == "5"
    assert "HTTP_CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env


@pytest.mark.smoke
def test_headers_become_http_keys(target):  # 5
    env = environ(
        target, headers=[("X-Custom-Thing", "v1"), ("Accept-Language", "fr")]
    )
    assert value(env, "HTTP_X_CUSTOM_THING") == "v1"
    assert value(env, "HTTP_ACCEPT_LANGUAGE") == "fr"
    assert value(env, "HTTP_HOST") == "%s:%d" % (target.host, target.port)


def test_repeated_headers_joined_with_comma(target):  # 5
    env = environ(
        target,
        headers=[
            ("X-Rep", "one"),
            ("X-Other", "o"),
            ("X-Rep", "two"),
            ("x-rep", "three"),
        ],
    )
    assert value(env, "HTTP_X_REP") == "one, two, three"
    assert value(env, "HTTP_X_OTHER") == "o"


def test_absent_header_has_no_key(target):  # 5
    env = environ(target)
    assert "HTTP_X_NOT_SENT" not in env
    assert "HTTP_AUTHORIZATION" not in env


def test_underscore_header_not_exposed(
    target,
):  # DESIGN: X_Foo must not pose as X-Foo
    env = environ(target, headers=[("X_Forwarded_User", "admin")])
    assert "HTTP_X_FORWARDED_USER" not in env


def test_proxy_header_not_exposed(target):  # httpoxy
    env = environ(target, headers=[("Proxy", "http://evil.example:1")])
    assert "HTTP_PROXY" not in env


def test_values_are_latin1_native_strings(target):  # 6
    resp = send_raw(
        target,
        b"GET /app/environ/%E9 HTTP/1.1\r\nHost: h\r\n"
        b"X-Latin: caf\xe9\r\nConnection: close\r\n\r\n",
    )
    env = resp.json()
    for key, seen in env.items():
        if "." in key or key.startswith("__"):
            continue
        assert seen["type"] == "str", key
        assert all(ord(ch) <= 0xFF for ch in seen["value"]), key
    assert value(env, "HTTP_X_LATIN") == "caf\xe9"
    assert value(env, "PATH_INFO") == "/environ/\xe9"


def test_missing_variables_are_omitted(target):  # 6
    env = environ(target)
    for key in (
        "REMOTE_USER",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTPS",
        "AUTH_TYPE",
    ):
        assert key not in env, key
    for key in CGI_PRESENT:
        assert key in env, key


def test_url_scheme_http_without_tls(target):  # 7
    env = environ(target)
    assert value(env, "wsgi.url_scheme") == "http"
    assert "HTTPS" not in env


@pytest.mark.smoke
def test_wsgi_keys_match_the_worker_model(target):  # 8
    env = environ(target)
    assert env["wsgi.version"] == {"type": "tuple", "repr": "(1, 0)"}
    assert env["wsgi.multithread"]["repr"] == repr(target.multithread)
    assert env["wsgi.multiprocess"]["repr"] == repr(target.multiprocess)
    assert env["wsgi.run_once"]["repr"] == repr(target.cgi)
    assert env["wsgi.input_terminated"]["repr"] == "True"
    assert (
        "wsgi.errors" in env
        and "wsgi.input" in env
        and "wsgi.file_wrapper" in env
    )


def test_own_keys_are_lowercase_and_prefixed(target):  # 9
    env = environ(target)
    own = [k for k in env if "." in k and not k.startswith("wsgi.")]
    assert own, "no pywsgi_embed.* key"
    for key in own:
        assert key.startswith("pywsgi_embed."), key
        assert key == key.lower(), key


def test_remote_addr_and_request_uri(target):
    env = environ(target, "/app/environ/a%2Fb?x=1")
    assert value(env, "REMOTE_ADDR") == "127.0.0.1"
    assert value(env, "REQUEST_URI") == "/app/environ/a%2Fb?x=1"
    assert value(env, "SERVER_SOFTWARE").lower().startswith(target.name)


def test_get_without_body_reads_empty(target):
    resp = get(target, "/app/input?how=read")
    assert resp.status == 200
    assert resp.json()["parts"] == [""]
