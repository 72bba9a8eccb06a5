"""Fixtures of the C test host tests: the host compiled with cc, and the
gateway library of this checkout (built by `python -m pywsgi_embed._build`
or `make build`; a missing one is an error, not a skip)."""

import os
import sys

import pytest

ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.host import build  # noqa: E402


@pytest.fixture(scope="session")
def gateway():
    return build.gateway_path()


@pytest.fixture(scope="session")
def host(tmp_path_factory):
    return build.build_host(tmp_path_factory.mktemp("host"))
