"""The README's shell examples, run as written (in a sandbox directory
that holds the files they name), so that they stay true.

Every ```sh block is checked by bash -n first (an unquoted `create_app()`
is a syntax error there).  Then each command: `make` targets with
`make -n`; `pywsgi-embed serve` really serves (on a free port: a --port
added at the end wins) and stops on Ctrl-C, or with --setup-only writes
its server root; a block that is a script (#!) runs as a CGI script;
deployment steps that change the system (sudo, pip, a venv under /srv)
are parsed, not run.  An
example of another kind fails the test until it is taught here.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.request

import pytest

from tests import harness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYWSGI_EMBED = os.path.join(os.path.dirname(sys.executable), "pywsgi-embed")

APP = """\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"readme example"]

app = application


def create_app():
    return application
"""

# the files the examples name, relative to the sandbox
FILES = {
    "myproject/wsgi.py": APP,
    "app.py": APP,
    "mypackage/__init__.py": "",
    "mypackage/web.py": APP,
    "srv/mysite/wsgi.py": APP,
    "srv/site/wsgi.py": APP,
    "srv/mysite/static/style.css": "body {}\n",
}


def shell_blocks():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    return re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)


def commands(block):
    """The commands of a block: continuations joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    return [
        shlex.split(line, comments=True)
        for line in joined.splitlines()
        if shlex.split(line, comments=True)
    ]


@pytest.fixture
def sandbox(tmp_path):
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    os.chmod(tmp_path, 0o755)
    return tmp_path


def in_sandbox(argv, sandbox):
    """/srv/... paths of the examples inside the sandbox."""
    return [a.replace("/srv/", str(sandbox) + "/srv/") for a in argv]


def check_make(argv):
    proc = subprocess.run(
        ["make", "-n"] + argv[1:], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, (argv, proc.stderr)


def check_serve(argv, sandbox):
    argv = [PYWSGI_EMBED] + in_sandbox(argv[1:], sandbox)
    env = dict(
        os.environ,
        PATH=os.path.dirname(sys.executable) + ":" + os.environ["PATH"],
    )
    if "--setup-only" in argv:
        proc = subprocess.run(
            argv,
            cwd=sandbox,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        if "--user" in argv and proc.returncode == 1:
            # true too where that user cannot read this machine's Python:
            # serve says which file, and the rest of the example holds
            user = argv[argv.index("--user") + 1]
            assert "--user %s cannot read" % user in proc.stderr, proc.stderr
            at = argv.index("--user")
            argv = argv[:at] + argv[at + 2 :]
            proc = subprocess.run(
                argv,
                cwd=sandbox,
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
        assert proc.returncode == 0, (argv, proc.stderr)
        root = argv[argv.index("--server-root") + 1]
        assert os.access(os.path.join(root, "start"), os.X_OK)
        return
    port = harness.free_port()
    out_path = sandbox / "serve.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            argv + ["--port", str(port)],
            cwd=sandbox,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        # after "serving": serve's nginx -t listens on the port before
        assert harness.wait_until(
            lambda: (
                "pywsgi-embed: serving" in out_path.read_text()
                or proc.poll() is not None
            ),
            60,
        ), argv
        assert harness.wait_for_port(port, proc, timeout=60), (
            argv,
            out_path.read_text(),
        )
        with urllib.request.urlopen(
            "http://127.0.0.1:%d/" % port, timeout=30
        ) as resp:
            assert resp.read() == b"readme example", argv
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0, (argv, out_path.read_text())


def changes_the_system(argv):
    """A deployment step (a venv under /srv, pip from PyPI, sudo install
    into the system's server): not run here; its syntax was checked, and a
    pywsgi-embed command is parsed by the real parser below."""
    if argv[0] == "sudo":
        argv = argv[1:]
    return argv[:3] == ["python3", "-m", "venv"] or (
        argv[0].startswith("/srv/")
        and os.path.basename(argv[0]) in ("pip", "pywsgi-embed")
    )


def check_parses(argv):
    if argv[0] == "sudo":
        argv = argv[1:]
    if os.path.basename(argv[0]) == "pywsgi-embed":
        from pywsgi_embed import cli

        cli.build_parser().parse_args(argv[1:])  # exits 2 if it is wrong


def check_cgi_script(block, sandbox):
    script = sandbox / "example.cgi"
    script.write_text(
        in_sandbox(
            [block.replace("/srv/venv/bin/pywsgi-embed", PYWSGI_EMBED)],
            sandbox,
        )[0]
    )
    script.chmod(0o755)
    env = {
        "PATH": os.environ["PATH"],
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/app",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    proc = subprocess.run(
        [str(script)],
        env=env,
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout.startswith(b"Status: 200 OK\r\n"), proc.stderr
    assert proc.stdout.endswith(b"readme example")


@pytest.mark.parametrize(
    "block", shell_blocks(), ids=lambda b: b.split("\n")[0][:40]
)
def test_readme_shell_example(block, sandbox):
    syntax = subprocess.run(
        ["bash", "-n"], input=block, text=True, capture_output=True
    )
    assert syntax.returncode == 0, syntax.stderr
    if block.startswith("#!"):
        return check_cgi_script(block, sandbox)
    for argv in commands(block):
        if argv[0] == "make":
            check_make(argv)
        elif argv[:2] == ["pywsgi-embed", "serve"]:
            check_serve(argv, sandbox)
        elif changes_the_system(argv):
            check_parses(argv)
        else:
            pytest.fail(
                "README example of a kind this test cannot check: %s" % argv
            )
