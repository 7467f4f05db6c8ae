"""The SDK's tests run against the real `ferry` binary, started by the fixtures of tests/ferry_testing.py.

One server serves a whole test module; each test works in a namespace of its
own, so tests neither see nor disturb each other's objects.
"""
import signal
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))

from ferry_testing import FerryServer, ferry_server, server_factory  # noqa: E402

import ferry  # noqa: E402

__all__ = ["ferry_server", "server_factory", "module_server", "client", "ns"]


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerryServer]:
    """A `ferry server` shared by the tests of one module."""
    srv = FerryServer(tmp_path_factory.mktemp("ferry-data")).start()
    yield srv
    srv.stop(signal.SIGKILL)


@pytest.fixture
def client(module_server: FerryServer) -> Iterator[ferry.Client]:
    with ferry.Client(module_server.url) as c:
        yield c


@pytest.fixture
def ns() -> str:
    """A namespace no other test uses."""
    return "t-" + uuid.uuid4().hex[:12]
