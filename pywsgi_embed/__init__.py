"""pywsgi-embed: run a WSGI app inside nginx or Apache, in-process.

The package holds the gateway library (_gateway*.so, built by _build.py),
the Python core it runs (gateway.py and friends), the server modules
(modules/*.so) and the `pywsgi-embed` command (cli.py).
"""

__version__ = "0.1.0"
