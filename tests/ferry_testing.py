"""Starting the real `ferry` binary for integration tests: FerryServer and its pytest fixtures.

`ferry server` prints one line `ferry server listening on http://HOST:PORT`
on stdout once it is ready; with `--listen 127.0.0.1:0` the kernel picks a
free port, so tests never race for ports.

tests/conftest.py and python/ferry/tests/conftest.py import the fixtures
from here, so that the SDK's tests beside its code start servers the same way.
"""
from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"ferry server listening on (http://\S+)")


def ferry_bin() -> str:
    """The binary under test: $FERRY_BIN, else build/release/ferry."""
    path = os.environ.get("FERRY_BIN") or str(ROOT / "build" / "release" / "ferry")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"ferry binary not found at {path}; build it or set FERRY_BIN")
    return path


def hermetic_env(extra: Optional[dict] = None) -> dict:
    """This process's environment without FERRY_* variables (a developer's shell must not steer tests), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env.update(extra or {})
    return env


class FerryServer:
    """A `ferry server` child process on a temp data dir."""

    def __init__(self, data_dir: Path, extra_args: tuple = (), env: Optional[dict] = None,
                 defaults: bool = True):
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.env = env
        # Without defaults the caller supplies --listen/--data-dir (or FERRY_* variables, or a config file).
        self.defaults = defaults
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""
        self.stdout_lines: List[str] = []
        self.stderr_lines: List[str] = []
        self._ready: "queue.Queue[Optional[str]]" = queue.Queue()
        self._readers: List[threading.Thread] = []

    # What the process is called in errors, and how it is started; FerryServe overrides these.
    name = "ferry server"

    def command(self) -> List[str]:
        args = [ferry_bin(), "server"]
        if self.defaults:
            args += ["--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir)]
        return args + list(self.extra_args)

    def ready_url(self, line: str) -> Optional[str]:
        """The URL when `line` is the ready line, else None."""
        m = READY.search(line)
        return m.group(1) if m else None

    def start(self, timeout: float = 30.0) -> "FerryServer":
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=hermetic_env(self.env))
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._readers:
            t.start()
        try:
            url = self._ready.get(timeout=timeout)
        except queue.Empty:
            url = None
        if url:
            self.url = url
            return self
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait()
        self._join_readers()
        raise RuntimeError(f"{self.name} did not become ready (exit code {code}):\n" + self.stderr_text()[-5000:])

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        announced = False
        for line in self.proc.stdout:
            self.stdout_lines.append(line)
            url = None if announced else self.ready_url(line)
            if url:
                announced = True
                self._ready.put(url)
        if not announced:
            self._ready.put(None)

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def _join_readers(self) -> None:
        for t in self._readers:
            t.join(timeout=10)

    def stderr_text(self) -> str:
        """Everything the server wrote to stderr so far (all of it once the process has exited)."""
        return "".join(self.stderr_lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self._join_readers()
        return code

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self._join_readers()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kw)


ServerFactory = Callable[..., FerryServer]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers on demand; all are stopped at the end of the test, and their stderr shown if it failed."""
    started: List[FerryServer] = []

    def make(data_dir: Optional[Path] = None, *extra_args: str, env: Optional[dict] = None,
             defaults: bool = True) -> FerryServer:
        srv = FerryServer(data_dir or tmp_path / f"data{len(started)}", tuple(extra_args), env, defaults)
        started.append(srv)
        return srv.start()

    yield make
    for i, srv in enumerate(started):
        if srv.proc and srv.proc.poll() is None:
            srv.stop(signal.SIGKILL)
        # pytest shows teardown output only for failing tests.
        print(f"--- stderr of server {i} (last 100 lines) ---\n" + "".join(srv.stderr_lines[-100:]))


@pytest.fixture
def ferry_server(server_factory: ServerFactory) -> FerryServer:
    """A running `ferry server` on a free port with a temp data dir."""
    return server_factory()
