"""The hello-world app every benchmark serves."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, World!\n"]


def application_with_length(environ, start_response):
    """The same response with its Content-Length, for a server that sends
    headers and body in two writes without one (bjoern: each response
    then waits out the client's delayed ACK, 40 ms)."""
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", "14")]
    )
    return [b"Hello, World!\n"]
