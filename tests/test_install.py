"""`pip install` of this tree where a server's dev files are missing: it
fails with what to install (pip shows a build's output only when it
fails), unless PYWSGI_EMBED_SKIP names that server.  The dev files are
hidden by a PATH without apxs and nginx, nothing is uninstalled."""

import os
import shutil
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HIDDEN = {"apxs", "apxs2", "nginx"}


def path_without_servers(tmp_path):
    """A PATH directory with every command of /usr/bin and /usr/sbin but
    apxs and nginx."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for d in ("/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        for name in os.listdir(d) if os.path.isdir(d) else []:
            link = bin_dir / name
            if name not in HIDDEN and not link.exists():
                link.symlink_to(os.path.join(d, name))
    return str(bin_dir)


def source_copy(tmp_path):
    """The tracked files of this checkout, as an sdist would have them."""
    files = subprocess.run(
        ["git", "ls-files", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    src = tmp_path / "src"
    for name in filter(None, (f.decode() for f in files)):
        if os.path.isfile(os.path.join(ROOT, name)):
            os.makedirs(src / os.path.dirname(name), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, name), src / name)
    return src


def pip_wheel(tmp_path, skip=None, *options):
    env = dict(os.environ, PATH=path_without_servers(tmp_path))
    env.pop("PYWSGI_EMBED_SKIP", None)
    if skip is not None:
        env["PYWSGI_EMBED_SKIP"] = skip
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel"]
        + list(options or ["--no-build-isolation"])
        + ["--no-deps", "--disable-pip-version-check", "-w"]
        + [str(tmp_path / "wheels"), str(source_copy(tmp_path))],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_install_without_the_dev_files_fails_saying_what_to_install(
    tmp_path,
):
    proc = pip_wheel(tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "cannot build the nginx and the apache modules" in out, out
    assert "apt-get install nginx nginx-dev apache2 apache2-dev" in out
    assert "PYWSGI_EMBED_SKIP=nginx,apache" in out
    assert not (tmp_path / "wheels").exists() or not os.listdir(
        tmp_path / "wheels"
    )


def test_skip_of_an_unknown_server_is_refused(tmp_path):
    proc = pip_wheel(tmp_path, skip="nginx,lighttpd")
    assert proc.returncode != 0
    assert "PYWSGI_EMBED_SKIP names no server lighttpd" in (
        proc.stdout + proc.stderr
    )


def test_install_with_the_servers_skipped_builds_the_gateway_alone(tmp_path):
    proc = pip_wheel(tmp_path, skip="nginx,apache")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = os.listdir(tmp_path / "wheels")
    names = zipfile.ZipFile(tmp_path / "wheels" / wheel).namelist()
    assert any(n.startswith("pywsgi_embed/_gateway") for n in names), names
    assert not [n for n in names if n.startswith("pywsgi_embed/modules/")]


def test_an_isolated_build_has_no_deprecated_metadata(tmp_path):
    # pip install . builds with the newest setuptools, which deprecates
    # the license table (it stops building after 2027-02-18)
    proc = pip_wheel(tmp_path, "nginx,apache", "-v")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Deprecat" not in out, out
    (wheel,) = os.listdir(tmp_path / "wheels")
    with zipfile.ZipFile(tmp_path / "wheels" / wheel) as z:
        (metadata,) = [n for n in z.namelist() if n.endswith("/METADATA")]
        text = z.read(metadata).decode()
    assert "License-Expression: MIT" in text or "License: MIT" in text
