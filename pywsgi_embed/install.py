"""`pywsgi-embed install nginx|apache` and `uninstall`: the module into the
system server's own config, Debian's way (as `mod_wsgi-express
install-module` does for Apache), after the checks of system.py.

nginx (/etc/nginx):
    modules-available/mod-http-pywsgi.conf   load_module, the thread pool
    modules-enabled/50-mod-http-pywsgi.conf  -> the file above
    conf.d/pywsgi.conf                       the Python home and path
Apache (/etc/apache2):
    mods-available/pywsgi.load               LoadModule
    mods-available/pywsgi.conf               PyWSGIPythonHome, ...Path
    mods-enabled/pywsgi.load, .conf          the links a2enmod makes

Every file written starts with MARK; `uninstall` removes exactly the files
that carry it (and links to them), nothing else.  After writing, the
server's own config test must pass, or everything written is taken back.
The site part (the app's location) is the user's to add: it is printed.
"""

import dataclasses
import os
import subprocess
from typing import Optional

from pywsgi_embed import servers, system

MARK = "# written by pywsgi-embed install; `pywsgi-embed uninstall` removes it"


class InstallError(Exception):
    pass


@dataclasses.dataclass
class Entry:
    path: str
    text: Optional[str] = None  # a file's content
    link: Optional[str] = None  # or a symlink's target


def python_lines(server, options):
    from pywsgi_embed.servers import apache, nginx

    quote = nginx._quote if server == "nginx" else apache.quote
    if server == "nginx":
        return ["pywsgi_python_home %s;" % quote(options.home())] + [
            "pywsgi_python_path %s;" % quote(p) for p in options.python_path
        ]
    lines = ["PyWSGIPythonHome %s" % quote(options.home())]
    if options.python_path:
        lines.append(
            "PyWSGIPythonPath %s"
            % " ".join(quote(p) for p in options.python_path)
        )
    return lines


def plan(server, options, etc):
    """The entries `install` writes, in order."""
    module = servers.module_path(server)
    body = "\n".join(python_lines(server, options))
    if server == "nginx":
        available = os.path.join(
            etc, "modules-available", "mod-http-pywsgi.conf"
        )
        return [
            Entry(
                available,
                "%s\nload_module %s;\nthread_pool pywsgi threads=%d;\n"
                % (MARK, module, options.threads),
            ),
            Entry(
                os.path.join(
                    etc, "modules-enabled", "50-mod-http-pywsgi.conf"
                ),
                link=available,
            ),
            Entry(
                os.path.join(etc, "conf.d", "pywsgi.conf"),
                "%s\n%s\n" % (MARK, body),
            ),
        ]
    load = os.path.join(etc, "mods-available", "pywsgi.load")
    conf = os.path.join(etc, "mods-available", "pywsgi.conf")
    return [
        Entry(load, "%s\nLoadModule pywsgi_module %s\n" % (MARK, module)),
        Entry(
            conf,
            "%s\n<IfModule pywsgi_module>\n%s\n</IfModule>\n" % (MARK, body),
        ),
        # the links a2enmod makes (without its state in /var/lib/apache2,
        # so that uninstall leaves nothing behind); a2dismod pywsgi and
        # a2enmod pywsgi work on them as on any module
        Entry(os.path.join(etc, "mods-enabled", "pywsgi.load"), link=load),
        Entry(os.path.join(etc, "mods-enabled", "pywsgi.conf"), link=conf),
    ]


def ours(path):
    """The file at path (or a link's target) was written by install."""
    try:
        with open(path) as f:
            return f.readline().rstrip("\n") == MARK
    except OSError:
        return False


def describe(entries, server):
    lines = []
    for e in entries:
        if e.link:
            lines.append("%s -> %s" % (e.path, e.link))
        else:
            lines.append("%s:" % e.path)
            lines += ["    " + line for line in e.text.splitlines()]
    return "\n".join(lines)


def write(entries):
    written = []
    for e in entries:
        if os.path.lexists(e.path) and not ours(e.path):
            raise InstallError(
                "%s exists and was not written by pywsgi-embed: move it "
                "away first" % e.path
            )
    for e in entries:
        os.makedirs(os.path.dirname(e.path), exist_ok=True)
        if os.path.lexists(e.path):
            os.remove(e.path)
        if e.link:
            os.symlink(
                os.path.relpath(e.link, os.path.dirname(e.path)), e.path
            )
        else:
            with open(e.path, "w") as f:
                f.write(e.text)
        written.append(e.path)
    return written


def config_test(server):
    """None when the system server accepts its config, else its words."""
    argv = ["nginx", "-t"] if server == "nginx" else ["apache2ctl", "-t"]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    return (proc.stdout + proc.stderr).strip()


def install(server, options, etc=None, dry_run=False, check=True):
    """Write the files (or only say what they would be); returns the text
    to print.  InstallError when a check fails."""
    etc = etc or (system.NGINX_ETC if server == "nginx" else system.APACHE_ETC)
    entries = plan(server, options, etc)
    if dry_run:
        return describe(entries, server)
    if os.geteuid() != 0:
        raise InstallError(
            "install writes into %s: run it as root (or see --dry-run)" % etc
        )
    if check:
        problems = system.check_all(server, options.python_home, etc)
        if problems:
            raise InstallError(
                "not installed, %d problem(s):\n- %s"
                % (len(problems), "\n- ".join(problems))
            )
    write(entries)
    try:
        problem = config_test(server)
        if problem:
            raise InstallError(
                "%s refuses its config with the module: %s" % (server, problem)
            )
    except InstallError:
        uninstall(server, etc)
        raise
    return describe(entries, server)


def uninstall(server, etc=None, dry_run=False):
    """Remove what install wrote; returns the paths (to be) removed."""
    etc = etc or (system.NGINX_ETC if server == "nginx" else system.APACHE_ETC)
    entries = plan(server, servers.Options(mounts=[]), etc)
    gone = []
    for e in reversed(entries):
        if not os.path.lexists(e.path):
            continue
        if e.link and os.path.islink(e.path) and ours(e.path):
            pass
        elif e.link or not ours(e.path):
            continue  # not ours: left alone
        gone.append(e.path)
        if not dry_run:
            os.remove(e.path)
    return gone


# -- the commands (pywsgi_embed/cli.py registers them) ------------------------


def add_commands(sub):
    for name, text in (
        ("install", "put the module into the system nginx or Apache"),
        ("uninstall", "remove what `install` wrote"),
    ):
        cmd = sub.add_parser(name, help=text + " (Debian's layout; root)")
        cmd.add_argument("server", choices=servers.NAMES)
        cmd.add_argument(
            "--dry-run",
            action="store_true",
            help="show the files, write nothing",
        )
        if name == "uninstall":
            continue
        cmd.add_argument(
            "--app",
            metavar="APP",
            help="the app whose site snippet to print",
        )
        cmd.add_argument("--python-home", metavar="DIR")
        cmd.add_argument(
            "--python-path", action="append", default=[], metavar="DIR"
        )
        cmd.add_argument("--threads", type=int, default=16)


def cmd_install(args):
    import sys

    app = absolute(args.app or "/srv/app/wsgi.py")
    options = servers.Options(
        mounts=[servers.Mount("/", app)],
        python_home=os.path.abspath(args.python_home)
        if args.python_home
        else None,
        python_path=[os.path.abspath(p) for p in args.python_path]
        + project_path(app if args.app else None),
        threads=args.threads,
    )
    try:
        done = install(args.server, options, dry_run=args.dry_run)
    except InstallError as exc:
        print("pywsgi-embed: %s" % exc, file=sys.stderr)
        return 1
    print("%s:\n%s\n" % ("would write" if args.dry_run else "installed", done))
    print(site_snippet(args.server, options, given=bool(args.app)))
    return 0


def cmd_uninstall(args):
    try:
        gone = uninstall(args.server, dry_run=args.dry_run)
    except InstallError as exc:
        print("pywsgi-embed: %s" % exc)
        return 1
    verb = "would remove" if args.dry_run else "removed"
    if not gone:
        print("nothing of pywsgi-embed to remove")
    for path in gone:
        print("%s %s" % (verb, path))
    if gone and not args.dry_run and args.server == "nginx":
        print("reload nginx: systemctl reload nginx")
    if gone and not args.dry_run and args.server == "apache":
        print("restart Apache: systemctl restart apache2")
    return 0


def project_path(app):
    """[the folder the app's package needs on sys.path] (layout.py)."""
    import sys

    from pywsgi_embed import layout

    if app is None:
        return []
    target = app.rpartition(":")[0] if app.count(":") else app
    folder, why = layout.project_folder(target or app, os.getcwd())
    if folder is None:
        return []
    print("pywsgi-embed: %s on sys.path (%s)" % (folder, why), file=sys.stderr)
    return [folder]


def absolute(spec):
    target, sep, name = spec.rpartition(":")
    if not sep or "/" in name or name.endswith(".py"):
        target, name = spec, None
    if target.endswith(".py") or "/" in target:
        target = os.path.abspath(target)
    return target + (":" + name if name else "")


def site_snippet(server, options, given=True):
    """The site part a user adds, and where."""
    with_dir = servers.get(server)(options, "/nonexistent")
    head = (
        []
        if given
        else ["# (for your app instead of %s)" % (options.mounts[0].app)]
    )
    return "\n".join(head) + ("\n" if head else "") + with_dir.site_snippet()
