"""The mlflow run context provider: tags from a Ferry task's environment, registered through the entry point,
and applied by the stock mlflow client to a run it creates on a real `ferry server`."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from typing import Dict

import pytest
import requests

from ferry.tracking_context import PIPELINE_RUN_ID_TAG, PIPELINE_TASK_TAG, PipelineRunContext, pipeline_tags
from ferry_testing import FerryServer


def test_tags_come_from_the_task_environment() -> None:
    env = {"FERRY_RUN_ID": "3f1c", "FERRY_TASK_PATH": "root/train", "KFP_RUN_ID": "3f1c"}
    assert pipeline_tags(env) == {PIPELINE_RUN_ID_TAG: "3f1c", PIPELINE_TASK_TAG: "root/train"}
    assert pipeline_tags({"FERRY_RUN_ID": "3f1c"}) == {PIPELINE_RUN_ID_TAG: "3f1c"}


def test_outside_a_task_there_are_no_tags() -> None:
    assert pipeline_tags({}) == {}
    assert pipeline_tags({"FERRY_RUN_ID": "  ", "FERRY_TASK_PATH": "root/train"}) == {}
    # KFP's own variable alone (a Kubeflow cluster's pod) names no Ferry pipeline run.
    assert pipeline_tags({"KFP_RUN_ID": "abc"}) == {}


def test_provider_reads_this_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FERRY_RUN_ID", raising=False)
    provider = PipelineRunContext()
    assert provider.in_context() is False
    monkeypatch.setenv("FERRY_RUN_ID", "r-9")
    monkeypatch.setenv("FERRY_TASK_PATH", "root/evaluate")
    assert provider.in_context() is True
    assert provider.tags() == {PIPELINE_RUN_ID_TAG: "r-9", PIPELINE_TASK_TAG: "root/evaluate"}


def test_registered_under_mlflows_entry_point_group() -> None:
    found = [ep for ep in entry_points(group="mlflow.run_context_provider") if ep.name == "ferry"]
    assert len(found) == 1
    assert found[0].load() is PipelineRunContext


def _run_tags(server: FerryServer, env: Dict[str, str]) -> Dict[str, str]:
    """Starts and ends a run with the stock mlflow client in a fresh process; returns the run's tags as stored."""
    script = textwrap.dedent("""
        import mlflow
        with mlflow.start_run() as run:
            mlflow.log_param("p", 1)
        print(run.info.run_id)
    """)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("FERRY_", "MLFLOW_"))}
    child_env.update(env, MLFLOW_TRACKING_URI=server.url)
    out = subprocess.run([sys.executable, "-c", script], env=child_env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    reply = requests.get(f"{server.url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, timeout=30)
    reply.raise_for_status()
    return {t["key"]: t["value"] for t in reply.json()["run"]["data"].get("tags", [])}


def test_mlflow_tags_runs_started_in_a_pipeline_task(module_server: FerryServer) -> None:
    tags = _run_tags(module_server, {"FERRY_RUN_ID": "5d6e7f", "FERRY_TASK_PATH": "root/train"})
    assert tags[PIPELINE_RUN_ID_TAG] == "5d6e7f"
    assert tags[PIPELINE_TASK_TAG] == "root/train"
    # mlflow's own context tags are still there.
    assert "mlflow.source.name" in tags


def test_mlflow_runs_outside_a_task_are_not_tagged(module_server: FerryServer) -> None:
    tags = _run_tags(module_server, {})
    assert PIPELINE_RUN_ID_TAG not in tags and PIPELINE_TASK_TAG not in tags
