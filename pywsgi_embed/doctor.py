"""`pywsgi-embed doctor`: check everything a server needs, and say what to
do about each problem.  Exit status 1 when something is wrong."""

import ctypes
import os
import sys
import sysconfig
import tempfile

from pywsgi_embed import reload, servers
from pywsgi_embed.servers import Options, ServerError


def gateway_path():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(
        here, "_gateway" + sysconfig.get_config_var("EXT_SUFFIX")
    )


def check_python():
    shared = sysconfig.get_config_var("Py_ENABLE_SHARED")
    lib = os.path.join(
        sysconfig.get_config_var("LIBDIR") or "",
        sysconfig.get_config_var("LDLIBRARY") or "",
    )
    detail = "Python %s at %s" % (sys.version.split()[0], sys.prefix)
    if shared or os.path.exists(lib.replace(".a", ".so")):
        return None, detail
    return (
        "this Python has no shared libpython, which embedding needs: "
        "use one built with --enable-shared (Debian's python3 is)"
    ), detail


def check_cffi():
    try:
        import cffi
    except ImportError:
        return "cffi is not installed: pip install cffi", None
    if cffi.__version__ == "2.0.0":
        return (
            "cffi 2.0.0 has a thread-state crash fixed in 2.1.1: "
            "pip install 'cffi>=2.1.1'"
        ), "cffi " + cffi.__version__
    return None, "cffi " + cffi.__version__


def check_gateway():
    path = gateway_path()
    if not os.path.exists(path):
        return (
            "the gateway library is not built (%s): reinstall pywsgi-embed "
            "(pip install .) or run `make build` in a checkout" % path
        ), None
    try:
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        abi = lib.pywsgi_abi_version()
    except (OSError, AttributeError) as exc:
        return "the gateway library %s cannot be loaded: %s" % (
            path,
            exc,
        ), None
    check = os.path.join(os.path.dirname(path), reload.CHECK)
    if not os.access(check, os.X_OK):
        return (
            "%s, the check the reload file runs in each worker, is missing "
            "beside the gateway library: reinstall pywsgi-embed (pip "
            "install .) or run `make build` in a checkout" % check
        ), None
    return None, "gateway %s (ABI %d), with %s" % (path, abi, reload.CHECK)


def check_server(name):
    with tempfile.TemporaryDirectory(prefix="pywsgi-doctor-") as workdir:
        server = servers.get(name)(Options(mounts=[]), workdir)
        try:
            version = server.version()
        except (ServerError, OSError):
            return "%s is not installed: %s" % (
                name,
                server.install_hint(),
            ), None
        try:
            module = server.module_path()
        except ServerError as exc:
            return str(exc), "%s %s" % (name, version)
        problem = server.load_test()
        if problem:
            return (
                "%s %s does not load %s: %s\nrebuild the module for this "
                "%s (reinstall pywsgi-embed with %s installed)"
                % (
                    name,
                    version,
                    module,
                    problem,
                    name,
                    server.install_hint(),
                ),
                "%s %s" % (name, version),
            )
        return None, "%s %s loads %s" % (name, version, module)


def check_system_server(name):
    """The system's own server (Debian's /etc layout): its workers' user
    and what those workers will see, mod_wsgi beside ours."""
    from pywsgi_embed import system

    etc = system.NGINX_ETC if name == "nginx" else system.APACHE_ETC
    if not os.path.isdir(etc):
        return None, "no %s (no system %s)" % (etc, name)
    user = system.workers_user(name)[0]
    problems = system.check_module_loads(name)
    if name == "apache":
        problems += system.check_no_mod_wsgi()
    if not problems:
        problems = system.check_readable(name)
        problems += system.check_workers_view(name)
    if problems:
        return "\n".join(problems), None
    return None, "the system %s's workers (%s) can run pywsgi-embed" % (
        name,
        user,
    )


def run():
    checks = [
        ("python", check_python),
        ("cffi", check_cffi),
        ("gateway", check_gateway),
    ]
    checks += [
        (name, lambda name=name: check_server(name)) for name in servers.NAMES
    ]
    checks += [
        ("/etc " + name, lambda name=name: check_system_server(name))
        for name in servers.NAMES
    ]
    problems = 0
    for label, check in checks:
        problem, detail = check()
        if problem:
            problems += 1
            print("[problem] %-8s %s" % (label, problem))
        else:
            print("[ok]      %-8s %s" % (label, detail))
    print(
        "\n%s"
        % (
            "everything looks right"
            if not problems
            else "%d problem(s): see above" % problems
        )
    )
    return 1 if problems else 0
