"""The venvs the benchmarks install their peers into, apart from the
project's own.

bench/.venv-peers: gunicorn, Granian and the others from PyPI, for the
Python that runs the benchmark.

SHARED (under /var/tmp): mod_wsgi for its daemon mode, whose daemon runs
as www-data (mod_wsgi refuses root).  www-data must read that daemon's
Python, venv and app, so the venv is made from Debian's /usr/bin/python3
(not a pyenv Python under /root, a 0700 directory), mod_wsgi built from
its source against apache2-dev and python3-dev, and the app copied
beside it; nothing of the machine's permissions changes.
"""

import os
import shutil
import stat
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(BENCH, ".venv-peers")
SHARED = "/var/tmp/pywsgi-embed-peers"
SHARED_VENV = os.path.join(SHARED, "venv-mod_wsgi")
SYSTEM_PYTHON = "/usr/bin/python3"
INSTALL_DEPS = os.path.join(os.path.dirname(BENCH), "tools", "install-deps.sh")


def bin(name):
    return os.path.join(VENV, "bin", name)


def install(packages):
    """pip install the packages into the peers' venv (made if need be)."""
    if not os.path.exists(bin("python")):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run(
        [
            bin("python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            *packages,
        ],
        check=True,
    )


# -- mod_wsgi for its daemon, readable by www-data ---------------------------


def closed_to_others(path):
    """The first of path and its parents that other users cannot enter
    (a directory) or read (a file), or None."""
    path = os.path.realpath(path)
    parts = [path]
    while os.path.dirname(parts[-1]) != parts[-1]:
        parts.append(os.path.dirname(parts[-1]))
    for part in reversed(parts):
        mode = os.stat(part).st_mode
        need = stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
        if not mode & need:
            return part
    return None


def run(argv, why, timeout):
    """argv, bounded; RuntimeError with why and its last output lines."""
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise RuntimeError("%s: %s" % (why, " / ".join(tail)))
    return proc.stdout


def libpython_of(module):
    """Where the dynamic linker finds the module's libpython."""
    for line in run(["ldd", module], "ldd " + module, 60).splitlines():
        if "libpython" in line and "=>" in line:
            return line.split("=>")[1].split("(")[0].strip()
    raise RuntimeError("%s links no libpython" % module)


def shared_python(name):
    return os.path.join(SHARED_VENV, "bin", name)


def shared_module():
    """mod_wsgi's Apache module in the shared venv, and its libpython."""
    out = run(
        [shared_python("mod_wsgi-express"), "module-config"],
        "mod_wsgi-express module-config",
        60,
    )
    for line in out.splitlines():
        if line.startswith("LoadModule"):
            module = line.split(None, 2)[2].strip('"')
            return out.strip(), module, libpython_of(module)
    raise RuntimeError("mod_wsgi-express printed no LoadModule: %s" % out)


def pip_mod_wsgi(*flags):
    # from its source, never a wheel cached from another Python: one built
    # for pyenv's links pyenv's libpython, which www-data cannot read
    run(
        [shared_python("python"), "-m", "pip", "install", "-q"]
        + ["--disable-pip-version-check", "--no-cache-dir", "--use-pep517"]
        + ["--no-binary", "mod_wsgi", *flags, "mod_wsgi"],
        "cannot build mod_wsgi for " + SYSTEM_PYTHON,
        900,
    )


def make_shared():
    """The shared venv with mod_wsgi built for Debian's Python."""
    run(["sh", INSTALL_DEPS], "tools/install-deps.sh failed", 1800)
    if not os.path.exists(SYSTEM_PYTHON):
        raise RuntimeError("no %s (apt-get install python3)" % SYSTEM_PYTHON)
    os.makedirs(SHARED, exist_ok=True)
    os.chmod(SHARED, 0o755)  # whatever the umask
    if not os.path.exists(shared_python("python")):
        run(
            [SYSTEM_PYTHON, "-m", "venv", SHARED_VENV],
            "cannot make a venv of " + SYSTEM_PYTHON,
            300,
        )
    pip_mod_wsgi()
    _, _, libpython = shared_module()
    if closed_to_others(libpython):  # built before against another Python
        pip_mod_wsgi("--force-reinstall", "--no-deps")


def install_shared(app, install=True):
    """Make the shared venv with mod_wsgi (unless install is false: it is
    used as it is) and copy the app (a file) into it: (mod_wsgi-express's
    module-config lines, the app's copy), or RuntimeError saying why
    not."""
    if install:
        make_shared()
    elif not os.path.exists(shared_python("mod_wsgi-express")):
        raise RuntimeError("no %s (run without --no-install)" % SHARED_VENV)
    lines, module, libpython = shared_module()
    copy = os.path.join(SHARED, "app", os.path.basename(app))
    os.makedirs(os.path.dirname(copy), mode=0o755, exist_ok=True)
    shutil.copyfile(app, copy)
    os.chmod(copy, 0o644)
    for path in (module, libpython, copy, shared_python("python")):
        closed = closed_to_others(path)
        if closed:
            raise RuntimeError(
                "www-data cannot read %s: %s is closed to others"
                % (path, closed)
            )
    return lines, copy
