"""Fixtures for the dashboard's browser tests.

Each test module seeds a real `ferry server` with real clients (kfp, mlflow,
`ferry apply`, `ferry deploy`), then runs the matching Playwright script
under web/e2e/ with `node --test`; the script opens the pages in Debian's
headless Chromium and checks what they show. Screenshots land in
test-artifacts/screenshots/.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from ferry_testing import ROOT, FerryServer
from pipelines.pipelines_testing import pipeline_server

WEB = ROOT / "web"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
E2E_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerryServer]:
    """A server for one test module, with lightweight components running under the test venv.

    DASHBOARD_WEB_ROOT (a `vite build` output folder) makes it serve that folder instead of the
    embedded build, for work on the dashboard without relinking the binary.
    """
    web_root = os.environ.get("DASHBOARD_WEB_ROOT")
    extra = ("--web-root", web_root) if web_root else ()
    srv = pipeline_server(tmp_path_factory.mktemp("ferry") / "data", *extra)
    yield srv
    srv.stop()
    print("--- stderr of the server (last 60 lines) ---\n" + "".join(srv.stderr_lines[-60:]))


def run_e2e(script: str, server: FerryServer, **env: str) -> None:
    """Runs web/e2e/<script> against `server`; fails with node's report when any browser test fails."""
    path = WEB / "e2e" / script
    assert path.is_file(), f"no browser test {path}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    child_env = dict(os.environ, FERRY_URL=server.url, SCREENSHOT_DIR=str(SCREENSHOTS), **env)
    proc = subprocess.run(["node", "--test", "--test-reporter=spec", str(path)], cwd=WEB, env=child_env,
                          capture_output=True, text=True, timeout=E2E_TIMEOUT_S)
    assert proc.returncode == 0, f"browser tests in {script} failed:\n{proc.stdout}\n{proc.stderr}"
