"""The web servers pywsgi-embed runs in, one module per server."""

import importlib
import os

from pywsgi_embed.servers.base import Mount, Options, Server, ServerError

NAMES = ("nginx", "apache")

# PYWSGI_EMBED_MODULES: another build of the modules (make test-asan's)
MODULES_DIR = os.environ.get("PYWSGI_EMBED_MODULES") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "modules"
)

MODULE_FILES = {
    "nginx": "ngx_http_pywsgi_module.so",
    "apache": "mod_pywsgi.so",
}


def module_path(name):
    """Where the build put the module of server `name` (it may be absent)."""
    return os.path.join(MODULES_DIR, MODULE_FILES[name])


def get(name):
    """The Server subclass of server `name`."""
    if name not in NAMES:
        raise ServerError(
            "unknown server %r (one of: %s)" % (name, ", ".join(NAMES))
        )
    module = importlib.import_module("pywsgi_embed.servers." + name)
    return module.SERVER


__all__ = [
    "Mount",
    "Options",
    "Server",
    "ServerError",
    "NAMES",
    "module_path",
    "get",
]
