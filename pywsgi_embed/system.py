"""The system's own nginx and Apache, as Debian and Ubuntu lay them out:
where their config lives, which user their workers run as, and the checks
that an installation of pywsgi-embed will work under them.  `install`
runs these checks before it writes anything and `doctor` reports them.

Each check returns a list of problems, each a sentence that says what to
do; an empty list is a pass.
"""

import os
import re
import subprocess
import sys
import sysconfig

from pywsgi_embed import servers

NGINX_ETC = "/etc/nginx"
APACHE_ETC = "/etc/apache2"


def nginx_workers_user(etc=NGINX_ETC):
    """(user, group) of the `user` directive of nginx.conf; nginx's own
    default for a root master when there is none."""
    try:
        with open(os.path.join(etc, "nginx.conf")) as f:
            text = f.read()
    except OSError:
        text = ""
    match = re.search(r"^\s*user\s+([^\s;]+)(?:\s+([^\s;]+))?\s*;", text, re.M)
    if match is None:
        return "nobody", "nogroup"
    return match.group(1), match.group(2) or match.group(1)


def apache_children_user(etc=APACHE_ETC):
    """(user, group) from Debian's envvars (APACHE_RUN_USER/GROUP)."""
    values = {}
    try:
        with open(os.path.join(etc, "envvars")) as f:
            for line in f:
                match = re.match(
                    r"\s*export\s+(APACHE_RUN_(?:USER|GROUP))=(\S+)", line
                )
                if match:
                    values[match.group(1)] = match.group(2).strip("'\"")
    except OSError:
        pass
    user = values.get("APACHE_RUN_USER", "www-data")
    return user, values.get("APACHE_RUN_GROUP", user)


def workers_user(server, etc=None):
    if server == "nginx":
        return nginx_workers_user(etc or NGINX_ETC)
    return apache_children_user(etc or APACHE_ETC)


def libpython():
    """The shared libpython this Python (the build's) runs on."""
    name = sysconfig.get_config_var("INSTSONAME") or ""
    return os.path.realpath(
        os.path.join(sysconfig.get_config_var("LIBDIR") or "", name)
    )


def needed_files(server, python_home=None):
    """What the server's workers read: the Python home, libpython, the
    package with its gateway and module, cffi's backend."""
    import _cffi_backend

    package = os.path.dirname(os.path.abspath(__file__))
    paths = [
        python_home or sys.prefix,
        libpython(),
        os.path.join(package, "__init__.py"),
        servers.module_path(server),
        _cffi_backend.__file__,
    ]
    gateway = [
        os.path.join(package, f)
        for f in os.listdir(package)
        if f.startswith("_gateway") and f.endswith(".so")
    ]
    return paths + gateway


def unreadable(user, group, paths):
    """The paths `user` cannot read (a directory: cannot enter), as
    (path, reason).  Runs `test` as that user, as the workers would."""
    if os.geteuid() != 0:
        return []  # only root can look through another user's eyes
    missing = []
    for path in paths:
        flag = "-x" if os.path.isdir(path) else "-r"
        probe = subprocess.run(
            [
                "setpriv",
                "--reuid=" + user,
                "--regid=" + group,
                "--init-groups",
                "test",
                flag,
                path,
            ],
            capture_output=True,
        )
        if probe.returncode != 0:
            missing.append((path, first_closed_folder(user, group, path)))
    return missing


def first_closed_folder(user, group, path):
    """The first folder above path that the user cannot enter, or ''."""
    folder = "/"
    for part in os.path.dirname(path).strip("/").split("/"):
        folder = os.path.join(folder, part)
        probe = subprocess.run(
            ["setpriv", "--reuid=" + user, "--regid=" + group]
            + ["--init-groups", "test", "-x", folder],
            capture_output=True,
        )
        if probe.returncode != 0:
            return "cannot enter %s (mode %o)" % (
                folder,
                os.stat(folder).st_mode & 0o7777,
            )
    return "cannot read it"


def check_readable(server, python_home=None, etc=None):
    user, group = workers_user(server, etc)
    return [
        "the %s workers' user %s cannot read %s: %s.  Make it readable by "
        "%s, or install Python and pywsgi-embed (a venv) where it can "
        "read them, e.g. under /opt or /srv, not under a home folder of "
        "mode 700" % (server, user, path, why, user)
        for path, why in unreadable(
            user, group, needed_files(server, python_home)
        )
    ]


def mod_wsgi_enabled(etc=APACHE_ETC):
    """The mods-enabled file of Debian's mod_wsgi, if enabled."""
    path = os.path.join(etc, "mods-enabled", "wsgi.load")
    return path if os.path.exists(path) else None


def check_no_mod_wsgi(etc=None):
    path = mod_wsgi_enabled(etc or APACHE_ETC)
    if path is None:
        return []
    return [
        "Debian's mod_wsgi is enabled in this Apache (%s): both embed "
        "Python in the same processes, and its children abort at every "
        "stop (PyEval_AcquireThread: the GIL).  Run `a2dismod wsgi` first"
        % path
    ]


def check_module_loads(server):
    """The installed server loads the module built here."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pywsgi-check-") as workdir:
        runner = servers.get(server)(servers.Options(mounts=[]), workdir)
        try:
            runner.version()
            runner.module_path()
        except servers.ServerError as exc:
            return [str(exc)]
        problem = runner.load_test()
    if problem is None:
        return []
    return [
        "the installed %s does not load the module built here (it was "
        "built for another %s): %s.  Reinstall pywsgi-embed (pip install "
        "--force-reinstall --no-binary pywsgi-embed ...) so that it builds "
        "against this one" % (server, server, problem)
    ]


PROBE_APP = """\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def as_workers_user(server, text, user, group):
    """A config rendered by servers/ with its workers as user:group
    instead of root (what `serve` uses when it runs as root)."""
    if server == "nginx":
        return text.replace("user root;", "user %s %s;" % (user, group))
    return text.replace(
        "PyWSGIRunAsRoot On", "User %s\nGroup %s" % (user, group)
    )


def check_workers_view(server, python_home=None, etc=None):
    """What the server's workers will see: the server's own config test
    of a probe app, whose config-time check (csrc/pywsgi_check.c) starts
    Python as the workers' user, exactly as a worker does."""
    import shutil
    import tempfile

    user, group = workers_user(server, etc)
    folder = tempfile.mkdtemp(prefix="pywsgi-probe-", dir="/tmp")
    try:
        os.chmod(folder, 0o755)
        app = os.path.join(folder, "probe_app.py")
        with open(app, "w") as f:
            f.write(PROBE_APP)
        os.chmod(app, 0o644)
        options = servers.Options(
            mounts=[servers.Mount("/", app)], python_home=python_home
        )
        runner = servers.get(server)(options, os.path.join(folder, "w"))
        path = runner.write_config()
        with open(path) as f:
            text = as_workers_user(server, f.read(), user, group)
        with open(path, "w") as f:
            f.write(text)
        problem = runner.check_config(path)
    except servers.ServerError as exc:
        problem = str(exc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if problem is None:
        return []
    return [
        "the %s workers (user %s) cannot start Python: %s"
        % (server, user, problem)
    ]


def check_all(server, python_home=None, etc=None):
    problems = check_module_loads(server)
    if server == "apache":
        problems += check_no_mod_wsgi(etc)
    if problems:
        return problems
    return check_readable(server, python_home, etc) or check_workers_view(
        server, python_home, etc
    )
