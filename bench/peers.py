"""The venv the benchmarks install their peers into (bench/.venv-peers),
apart from the project's own: gunicorn, Granian and the others from PyPI,
for the Python that runs the benchmark."""

import os
import subprocess
import sys

VENV = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".venv-peers")


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
