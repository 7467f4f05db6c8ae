"""Helpers shared by the tests under tests/mlflow: a real `mlflow server` to compare against, a
tracking server that lives for a whole test module, and an MlflowClient fixture.

`MlflowServer` starts the pinned `mlflow server` (the package in this Python) on a SQLite backend
store in a temp dir and a free port, with one worker and no job runner, and waits for /health.
It can take 30-60 s on a busy machine. If it does not come up, the caller fails the test with the
server's log: the comparison is the point of those tests, so they never skip.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest
import requests

from ferry_testing import FerryServer

START_TIMEOUT_S = 240.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    """`python -m mlflow server` on `directory` (SQLite store and artifacts inside it)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / "mlflow-server.log"
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float = START_TIMEOUT_S) -> "MlflowServer":
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "w")
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        env.pop("MLFLOW_TRACKING_URI", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
             "--backend-store-uri", f"sqlite:///{self.directory}/mlflow.db",
             "--artifacts-destination", str(self.directory / "artifacts"), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.directory, env=env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/health", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"mlflow server was not healthy within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 5000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM to the server's process group (it and its worker), SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            self.proc.wait()


# --- the server the client tests talk to -----------------------------------------------------------

TARGET_ENV = "FERRY_MLFLOW_TESTS_TARGET"


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a tracking server for one test module: a Ferry server on a temp data dir.

    With FERRY_MLFLOW_TESTS_TARGET=mlflow the same tests run against a real `mlflow server`
    instead, which checks that their expectations are MLflow's own (scripts/test never sets it).
    """
    directory = tmp_path_factory.mktemp("tracking")
    if os.environ.get(TARGET_ENV) == "mlflow":
        reference = MlflowServer(directory)
        try:
            reference.start()
        except RuntimeError as e:
            pytest.fail(f"the reference `mlflow server` did not start: {e}")
        try:
            yield reference.url
        finally:
            reference.stop()
        return
    server = FerryServer(directory / "data").start()
    try:
        yield server.url
    finally:
        server.stop()
        print("--- stderr of the ferry server (last 100 lines) ---\n" + "".join(server.stderr_lines[-100:]))


@pytest.fixture
def client(tracking_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator["mlflow.MlflowClient"]:
    """An MlflowClient for `tracking_server`, also set as the fluent API's tracking URI.

    The client retries failed requests with back-off by default, which would turn a server bug
    into minutes of waiting: no retries here.
    """
    import mlflow

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    # set_tracking_uri/set_registry_uri also export these variables; monkeypatch restores them.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mlflow.set_tracking_uri(tracking_server)
    mlflow.set_registry_uri(tracking_server)
    try:
        yield mlflow.MlflowClient(tracking_server, tracking_server)
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
