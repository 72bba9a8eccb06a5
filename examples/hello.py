"""The example app that `make run` serves: a plain WSGI callable."""


def application(environ, start_response):
    body = b"Hello from Python inside %s!\n" % environ[
        "SERVER_SOFTWARE"
    ].encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body]
