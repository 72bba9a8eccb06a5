"""A persistent server root (`serve --server-root DIR --setup-only`), as
mod_wsgi-express's setup-server writes one: the config serve would run,
kept in DIR, with scripts for a process supervisor (systemd, supervisord,
runit) or for a shell:

    DIR/start    runs the server in the foreground (exec: the supervisor
                 watches the server itself, and signals reach it)
    DIR/stop     the server's graceful stop (requests in flight finish)
    DIR/reload   the server's graceful reload (new workers load the app
                 again, old ones finish their requests)
"""

import os
import shlex
import signal

SCRIPTS = ("start", "stop", "reload")


SIGNAL_SCRIPT = """\
pid_file=%(pid_file)s
if [ ! -s "$pid_file" ]; then
    echo "$0: no pid in $pid_file: is the server running?" >&2
    exit 1
fi
# %(what)s
exec kill -%(signal)s "$(cat "$pid_file")"
"""


def script_texts(server, config_path):
    """{name: text} of the three scripts for server and its config."""

    def signal_script(signum, what):
        return SIGNAL_SCRIPT % {
            "pid_file": shlex.quote(server.pid_path()),
            "signal": signal.Signals(signum).name[len("SIG") :],
            "what": what,
        }

    argv = " ".join(shlex.quote(a) for a in server.argv(config_path))
    header = "#!/bin/sh\n# written by pywsgi-embed for %s\n" % server.name
    return {
        "start": header + 'exec %s "$@"\n' % argv,
        "stop": header
        + signal_script(server.stop_signal, "graceful stop: requests finish"),
        "reload": header
        + signal_script(
            server.reload_signal, "graceful reload: new workers, old finish"
        ),
    }


def write(server, config_path):
    """Write the scripts next to the config; their paths."""
    paths = []
    for name, text in script_texts(server, config_path).items():
        path = os.path.join(server.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
        paths.append(path)
    return paths
