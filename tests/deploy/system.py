"""Helpers of the tests against the system's own /etc/nginx and
/etc/apache2: a pywsgi-embed installed by `pip install` into a venv of
Debian's python3 (which the servers' www-data can read, unlike a pyenv
under /root), a snapshot of a config tree to restore and compare, and a
Django project made by `django-admin startproject`."""

import hashlib
import os
import shutil
import subprocess

from tests import harness

ROOT = os.path.dirname(harness.HERE)
VENV = os.path.join(ROOT, "build", "debian-venv")
DEBIAN_PYTHON = "/usr/bin/python3"
PIP = ["-m", "pip", "install", "-q", "--disable-pip-version-check"]


def sources_digest():
    """What the installed copy was built from."""
    digest = hashlib.sha256()
    for top in ("csrc", "nginx-module", "apache-module", "pywsgi_embed"):
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".c", ".h", ".py", ".sh", "config")):
                    path = os.path.join(folder, name)
                    digest.update(path.encode())
                    with open(path, "rb") as f:
                        digest.update(f.read())
    for name in ("setup.py", "pyproject.toml"):
        with open(os.path.join(ROOT, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def debian_venv():
    """A venv of Debian's python3 with pywsgi-embed pip-installed from this
    tree and Django; rebuilt only when the sources changed."""
    stamp = os.path.join(VENV, ".pywsgi-sources")
    want = sources_digest()
    try:
        with open(stamp) as f:
            if f.read() == want:
                return VENV
    except OSError:
        pass
    shutil.rmtree(VENV, ignore_errors=True)
    python = os.path.join(VENV, "bin", "python")
    subprocess.run([DEBIAN_PYTHON, "-m", "venv", VENV], check=True)
    subprocess.run(
        [python]
        + PIP
        + ["setuptools>=61", "wheel", "cffi==2.1.1", "django>=4.2,<6"],
        check=True,
    )
    subprocess.run(
        [python] + PIP + ["--no-build-isolation", ROOT],
        check=True,
        env=dict(os.environ, PYWSGI_EMBED_REQUIRE="nginx,apache"),
    )
    with open(stamp, "w") as f:
        f.write(want)
    return VENV


def snapshot(top):
    """{path: (kind, content)} of every file, link and folder under top."""
    tree = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if os.path.islink(path):
                tree[path] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                tree[path] = ("dir", mode)
            else:
                with open(path, "rb") as f:
                    tree[path] = ("file", mode, f.read())
    return tree


def django_project(folder):
    """folder/mysite, a fresh startproject with an upload view at
    /upload/ that answers the size of the uploaded file."""
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o755)
    subprocess.run(
        [os.path.join(VENV, "bin", "django-admin"), "startproject", "mysite"],
        cwd=folder,
        check=True,
    )
    project = os.path.join(folder, "mysite")
    urls = os.path.join(project, "mysite", "urls.py")
    with open(urls, "a") as f:
        f.write(
            "\n\nfrom django.http import HttpResponse\n"
            "from django.views.decorators.csrf import csrf_exempt\n\n\n"
            "@csrf_exempt\n"
            "def upload(request):\n"
            "    got = request.FILES['blob']\n"
            "    return HttpResponse('%d' % got.size)\n\n\n"
            "urlpatterns.append(path('upload/', upload))\n"
        )
    subprocess.run(["chmod", "-R", "a+rX", folder], check=True)
    return project


def multipart(name, data):
    """(body, content type) of a form with one file field."""
    boundary = "pywsgi-boundary-7d1"
    body = (
        (
            "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
            'filename="blob.bin"\r\nContent-Type: '
            "application/octet-stream\r\n\r\n" % (boundary, name)
        ).encode()
        + data
        + ("\r\n--%s--\r\n" % boundary).encode()
    )
    return body, "multipart/form-data; boundary=" + boundary


def run_cli(*args):
    return subprocess.run(
        [os.path.join(VENV, "bin", "pywsgi-embed")] + list(args),
        capture_output=True,
        text=True,
        timeout=120,
    )


def serve_in(cwd, *args):
    """`pywsgi-embed serve ARGS` run from cwd, on a free port."""
    import sys

    port = harness.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pywsgi_embed", "serve"]
        + list(args)
        + ["--port", str(port)],
        cwd=str(cwd),
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, port
