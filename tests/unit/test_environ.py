"""The environ the app gets (checklist items 1-9, issue 2 item 4)."""

from pywsgi_embed import __version__
from pywsgi_embed.file_wrapper import FileWrapper
from pywsgi_embed.response import LOG_ERROR
from pywsgi_embed.wsgi_input import EMPTY, Input
from tests.unit.recorder import BASE_ENV, DONE


def capture(recorder, **config):
    """An app that keeps every environ it is given."""
    seen = []

    def app(environ, start_response):
        seen.append(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return recorder.add_app(app, **config), seen


def test_environ_is_a_new_dict_per_request(server):
    app, envs = capture(server)
    server.run(app)
    server.run(app)
    assert type(envs[0]) is dict and type(envs[1]) is dict
    assert envs[0] is not envs[1]
    envs[0]["mutated"] = True
    server.run(app)
    assert "mutated" not in envs[2]


def test_required_cgi_keys(server):
    app, envs = capture(server)
    code, _ = server.run(app)
    assert code == DONE
    env = envs[0]
    for key, value in BASE_ENV:
        assert env[key] == value
    for key in ("REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT"):
        assert env[key]
    assert "SERVER_PROTOCOL" in env


def test_wsgi_keys(server):
    app, envs = capture(server, multithread=1, multiprocess=0)
    server.run(app)
    env = envs[0]
    assert env["wsgi.version"] == (1, 0) and type(env["wsgi.version"]) is tuple
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] is True
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input_terminated"] is True
    assert env["wsgi.file_wrapper"] is FileWrapper
    assert env["wsgi.input"] is EMPTY
    assert hasattr(env["wsgi.errors"], "write")
    assert env["SERVER_SOFTWARE"] == "test/1.0"


def test_single_threaded_worker_model(server):
    """Checklist 8 and 26: prefork is multithread False, multiprocess True."""
    app, envs = capture(server, multithread=0, multiprocess=1)
    server.run(app)
    assert envs[0]["wsgi.multithread"] is False
    assert envs[0]["wsgi.multiprocess"] is True


def test_default_server_software(server):
    app, envs = capture(server, software=None)
    server.run(app)
    assert envs[0]["SERVER_SOFTWARE"] == "pywsgi-embed"


def test_own_keys_lower_case_and_prefixed(server):
    app, envs = capture(server)
    server.run(app)
    ours = [k for k in envs[0] if "." in k and not k.startswith("wsgi.")]
    assert ours == ["pywsgi_embed.version"]
    assert envs[0]["pywsgi_embed.version"] == __version__


def test_request_overrides_template(server):
    """What the record says wins over the template (HTTPS under TLS)."""
    app, envs = capture(server)
    server.run(app, env={"HTTPS": "on", "wsgi.url_scheme": "https"})
    assert envs[0]["wsgi.url_scheme"] == "https"
    assert envs[0]["HTTPS"] == "on"
    server.run(app)
    assert envs[1]["wsgi.url_scheme"] == "http"
    assert "HTTPS" not in envs[1]


def test_values_are_latin1_str(server):
    """Checklist 3 and 6: raw bytes decoded as latin-1, every value a str
    within U+0000-U+00FF."""
    app, envs = capture(server)
    path = "/caf\u00e9".encode("utf-8")  # decoded by the server
    server.run(
        app,
        env={
            "PATH_INFO": path,
            "HTTP_X_RAW": bytes(range(1, 256)),
            "QUERY_STRING": b"q=%C3%A9&x",
        },
    )
    env = envs[0]
    assert env["PATH_INFO"] == "/caf\u00c3\u00a9"
    assert env["QUERY_STRING"] == "q=%C3%A9&x"
    assert env["HTTP_X_RAW"] == bytes(range(1, 256)).decode("latin-1")
    for key, value in env.items():
        if "." not in key:
            assert type(value) is str, key
            assert all(ord(c) < 256 for c in value), key


def test_missing_variables_omitted(server):
    app, envs = capture(server)
    server.run(app)
    for key in (
        "REMOTE_USER",
        "HTTPS",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTP_HOST",
        "HTTP_COOKIE",
    ):
        assert key not in envs[0]


def test_empty_values_kept(server):
    """An empty QUERY_STRING is present (checklist 3)."""
    app, envs = capture(server)
    server.run(app, env={"QUERY_STRING": "", "SCRIPT_NAME": ""})
    assert envs[0]["QUERY_STRING"] == ""
    assert envs[0]["SCRIPT_NAME"] == ""


def test_realistic_browser_request(server):
    app, envs = capture(server)
    headers = {
        "HTTP_HOST": "example.org",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0)",
        "HTTP_ACCEPT": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
        "HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.5",
        "HTTP_COOKIE": "session=abc; theme=dark",
        "HTTP_CONNECTION": "keep-alive",
    }
    server.run(app, env=headers)
    for key, value in headers.items():
        assert envs[0][key] == value


def test_input_by_content_length(server):
    app, envs = capture(server)
    server.run(app, content_length=0)
    server.run(app, body=[b"abc"], env={"CONTENT_LENGTH": "3"})
    server.run(app, body=[b"abc"], content_length=-1)
    assert envs[0]["wsgi.input"] is EMPTY
    assert type(envs[1]["wsgi.input"]) is Input
    assert type(envs[2]["wsgi.input"]) is Input
    assert envs[1]["wsgi.input"] is not envs[2]["wsgi.input"]


def test_errors_stream_goes_to_the_log(server):
    def app(environ, start_response):
        environ["wsgi.errors"].write("from the app\n")
        start_response("200 OK", [])
        return []

    code, _ = server.run(server.add_app(app))
    assert code == DONE
    assert (LOG_ERROR, "from the app") in server.worker_logs
