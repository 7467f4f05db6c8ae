"""Starting the real `ferry serve` for the serving integration tests, and the small ONNX models they serve.

`ferry serve` prints `ferry serve: listening on http://HOST:PORT (N models)` on stdout once every front
end is listening (preceded by `ferry serve: grpc listening on HOST:PORT` when started with
--grpc-listen); with port 0 the kernel picks free ports, so tests never race for them.

Fixtures: `serve_factory(repository=..., *extra_args)` starts servers that are all stopped at the end of
the test (their stderr is shown when the test fails); `add_one_repository` is a repository holding
`add_one` (y = x + 1 over FP32 [-1, 4]) in versions 1 and 2 (version 2 adds 2). Test modules import the
fixtures they use from here.
"""
from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ferry_testing import ROOT, FerryServer, ferry_bin

SERVE_READY = re.compile(r"ferry serve: listening on (http://\S+) \((\d+) models?\)")
GRPC_READY = re.compile(r"ferry serve: grpc listening on (\S+)")
PERF_ANALYZER = ROOT / "scripts" / "perf_analyzer"

# ONNX element types of the models per V2 datatype the native runtime serves.
ONNX_TYPES: Dict[str, int] = {
    "FP32": TensorProto.FLOAT,
    "FP64": TensorProto.DOUBLE,
    "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64,
    "BOOL": TensorProto.BOOL,
    "BYTES": TensorProto.STRING,
}


def _model(graph: onnx.GraphProto) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def add_model(addend: float = 1.0, columns: int = 4) -> bytes:
    """y = x + addend over FP32 [batch, columns]."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"])], "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", columns])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", columns])],
        [numpy_helper.from_array(np.array([addend], dtype=np.float32), "c")])
    return _model(graph)


def identity_model(datatype: str, columns: int = 3) -> bytes:
    """y = Identity(x) over `datatype` [batch, columns]."""
    elem = ONNX_TYPES[datatype]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "identity",
        [helper.make_tensor_value_info("x", elem, ["batch", columns])],
        [helper.make_tensor_value_info("y", elem, ["batch", columns])])
    return _model(graph)


def write_model(repository: Path, name: str, version: int, model: bytes) -> Path:
    """Writes REPOSITORY/NAME/VERSION/model.onnx (Triton's layout)."""
    path = repository / name / str(version) / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model)
    return path


class FerryServe(FerryServer):
    """A `ferry serve` child process; `url` is its HTTP address, `grpc` its gRPC address when started with
    --grpc-listen."""

    name = "ferry serve"

    def __init__(self, repository: Optional[Path], extra_args: tuple = (), env: Optional[dict] = None):
        super().__init__(repository or Path("."), extra_args, env, defaults=False)
        self.repository = repository
        self.grpc = ""
        self.model_count = -1

    def command(self) -> List[str]:
        args = [ferry_bin(), "serve", "--listen", "127.0.0.1:0"]
        if self.repository is not None:
            args += ["--model-repository", str(self.repository)]
        return args + list(self.extra_args)

    def ready_url(self, line: str) -> Optional[str]:
        grpc = GRPC_READY.search(line)
        if grpc:
            self.grpc = grpc.group(1)
        m = SERVE_READY.search(line)
        if not m:
            return None
        self.model_count = int(m.group(2))
        return m.group(1)

    @property
    def host_port(self) -> str:
        """"127.0.0.1:PORT", as tritonclient and perf_analyzer take it."""
        return self.url.split("://", 1)[1]


@pytest.fixture
def serve_factory(tmp_path: Path) -> Iterator:
    """`make(repository, *extra_args, env=None)` starts a `ferry serve`; all are stopped at the end."""
    started: List[FerryServe] = []

    def make(repository: Optional[Path] = None, *extra_args: str, env: Optional[dict] = None) -> FerryServe:
        srv = FerryServe(repository, tuple(extra_args), env)
        started.append(srv)
        return srv.start(timeout=60)

    yield make
    for i, srv in enumerate(started):
        if srv.proc and srv.proc.poll() is None:
            srv.stop(signal.SIGKILL)
        print(f"--- stderr of ferry serve {i} (last 100 lines) ---\n" + "".join(srv.stderr_lines[-100:]))


@pytest.fixture
def add_one_repository(tmp_path: Path) -> Path:
    """A repository with add_one versions 1 (x + 1) and 2 (x + 2)."""
    repository = tmp_path / "models"
    write_model(repository, "add_one", 1, add_model(1.0))
    write_model(repository, "add_one", 2, add_model(2.0))
    return repository


@pytest.fixture
def add_one_server(serve_factory, add_one_repository: Path) -> FerryServe:
    return serve_factory(add_one_repository)
