"""Helpers for the pipeline integration tests: a `ferry server` whose lightweight components run
under the test venv's Python (which imports kfp), compiling pipelines with the real kfp compiler at
test time, waiting for runs through kfp.Client, and reading a run's task details as Ferry returns
them (kfp.Client's models drop the fields Ferry adds, such as `cached` and `output_parameters`).

Every pipeline in these tests takes an `out_dir` parameter: components write what they saw there,
and it makes each test's task inputs (and so its cache keys) unique on a shared server.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import kfp
import kfp_server_api
import pytest
from kfp import compiler

from ferry_testing import ROOT, FerryServer

RUN_TIMEOUT_S = 600
FINAL_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")

warnings.filterwarnings("ignore", category=FutureWarning)


def task_python() -> str:
    """The interpreter lightweight components run under: the repo's venv (it has kfp), else this one."""
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if os.access(venv, os.X_OK) else sys.executable


def pipeline_server(data_dir: Path, *extra_args: str) -> FerryServer:
    """A started `ferry server` on `data_dir` with --task-python set; the caller stops it."""
    srv = FerryServer(data_dir, ("--task-python", task_python()) + tuple(extra_args))
    return srv.start()


@pytest.fixture(scope="module")
def kfp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerryServer]:
    """One server for a test module (every test's pipelines take their own out_dir)."""
    srv = pipeline_server(tmp_path_factory.mktemp("ferry") / "data")
    yield srv
    srv.stop()
    print("--- stderr of the server (last 100 lines) ---\n" + "".join(srv.stderr_lines[-100:]))


@pytest.fixture(scope="module")
def kfp_client(kfp_server: FerryServer) -> kfp.Client:
    return kfp.Client(host=kfp_server.url)


def compile_pipeline(pipeline_func: Callable, path: Path) -> Path:
    """Compiles with kfp's compiler to `path` (YAML) and returns it."""
    compiler.Compiler().compile(pipeline_func=pipeline_func, package_path=str(path))
    return path


def wait_run(client: kfp.Client, run_id: str, timeout: float = RUN_TIMEOUT_S) -> kfp_server_api.V2beta1Run:
    """kfp's own wait_for_run_completion; it returns once the run is SUCCEEDED, FAILED or SKIPPED."""
    return client.wait_for_run_completion(run_id, timeout=timeout, sleep_duration=1)


def run_func(client: kfp.Client, pipeline_func: Callable, arguments: Dict[str, Any],
             **kwargs: Any) -> kfp_server_api.V2beta1Run:
    """create_run_from_pipeline_func, then wait for the run to finish."""
    result = client.create_run_from_pipeline_func(pipeline_func, arguments=arguments, **kwargs)
    return wait_run(client, result.run_id)


def raw_run(server: FerryServer, run_id: str) -> Dict[str, Any]:
    """GET /apis/v2beta1/runs/{id} as JSON, with every field Ferry returns."""
    resp = server.get(f"/apis/v2beta1/runs/{run_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def raw_tasks(server: FerryServer, run_id: str) -> List[Dict[str, Any]]:
    return raw_run(server, run_id).get("run_details", {}).get("task_details", [])


def leaf_tasks(server: FerryServer, run_id: str) -> Dict[str, Dict[str, Any]]:
    """The run's container tasks by display name (names are unique in the pipelines that use this)."""
    out: Dict[str, Dict[str, Any]] = {}
    for t in raw_tasks(server, run_id):
        if t.get("kind") == "container":
            assert t["display_name"] not in out, f"display name {t['display_name']} is not unique"
            out[t["display_name"]] = t
    return out


def task_states(run: kfp_server_api.V2beta1Run) -> Dict[str, List[str]]:
    """display name -> states of the tasks with that name, from kfp.Client's get_run."""
    states: Dict[str, List[str]] = {}
    for t in run.run_details.task_details or []:
        states.setdefault(t.display_name, []).append(t.state)
    return states


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = RUN_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def read_lines(path: Path) -> List[str]:
    return path.read_text().splitlines() if path.exists() else []


def describe_failure(server: FerryServer, run_id: str) -> str:
    """For assertion messages: each task's state and error, and the tail of failed tasks' logs."""
    lines = []
    for t in raw_tasks(server, run_id):
        lines.append(f"{t['task_id']}: {t['state']} {t.get('error', {}).get('message', '')}")
    for log in sorted((server.data_dir / "pipelines" / "runs" / run_id).rglob("task.log")):
        lines.append(f"--- {log}\n" + log.read_text(errors="replace")[-1500:])
    return "\n".join(lines)


def run_error(server: FerryServer, run: kfp_server_api.V2beta1Run) -> Optional[str]:
    return f"{run.state}: {run.error}\n{describe_failure(server, run.run_id)}"
