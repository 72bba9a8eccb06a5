"""pywsgi-embed: run a WSGI app inside nginx or Apache, in-process.

The package holds the gateway library (_gateway*.so, built by _build.py),
the Python core it runs (gateway.py and friends), the server modules
(modules/*.so) and the `pywsgi-embed` command (cli.py).
"""

__version__ = "0.1.0"


def retire(reason="the app asked"):
    """Retire the server worker this runs in, gracefully: it stops taking
    connections, finishes the requests in flight (this one too), exits,
    and the server starts a fresh worker.  Callable from any thread;
    returns at once.  Outside a server it does nothing."""
    from pywsgi_embed._gateway import lib

    lib.pywsgi_gw_retire(str(reason).encode("utf-8", "backslashreplace"))
