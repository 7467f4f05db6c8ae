"""Fixtures that start the real `ferry` binary for integration tests.

`ferry server` prints one line `ferry server listening on http://HOST:PORT`
on stdout once it is ready; with `--listen 127.0.0.1:0` the kernel picks a
free port, so tests never race for ports.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"ferry server listening on (http://\S+)")


def ferry_bin() -> str:
    path = os.environ.get("FERRY_BIN") or str(ROOT / "build" / "release" / "ferry")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"ferry binary not found at {path}; build it or set FERRY_BIN")
    return path


class FerryServer:
    """A `ferry server` child process on a temp data dir."""

    def __init__(self, data_dir: Path, extra_args: tuple[str, ...] = (), env: Optional[dict] = None):
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.env = env
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""
        self.stderr_lines: list[str] = []

    def start(self, timeout: float = 30.0) -> "FerryServer":
        args = [ferry_bin(), "server", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir),
                *self.extra_args]
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = READY.search(line)
            if m:
                self.url = m.group(1)
                threading.Thread(target=self._drain_stdout, daemon=True).start()
                return self
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("ferry server did not become ready:\n" + "".join(self.stderr_lines[-50:]))

    def _drain_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kw)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator:
    """Start servers on demand; all are stopped at the end of the test."""
    started: list[FerryServer] = []

    def make(data_dir: Optional[Path] = None, *extra_args: str, env: Optional[dict] = None) -> FerryServer:
        srv = FerryServer(data_dir or tmp_path / f"data{len(started)}", tuple(extra_args), env)
        started.append(srv)
        return srv.start()

    yield make
    for srv in started:
        if srv.proc and srv.proc.poll() is None:
            srv.stop(signal.SIGKILL)


@pytest.fixture
def ferry_server(server_factory) -> FerryServer:
    """A running `ferry server` on a free port with a temp data dir."""
    return server_factory()
