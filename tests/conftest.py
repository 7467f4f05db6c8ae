"""Fixtures for the integration tests: `ferry_server`, `server_factory` and the `FerryServer` class.

They live in tests/ferry_testing.py so that python/ferry/tests can share them;
this file makes them visible to every test under tests/ (and keeps
`from conftest import FerryServer` working).
"""
from ferry_testing import READY, ROOT, FerryServer, ferry_bin, ferry_server, hermetic_env, server_factory

__all__ = ["READY", "ROOT", "FerryServer", "ferry_bin", "ferry_server", "hermetic_env", "server_factory"]
