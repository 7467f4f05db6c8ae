"""Pipelines and tracking together: a KFP task logs to MLflow with no configuration, its run carries the
pipeline run (`ferry.pipeline_run_id`, `ferry.pipeline_task`), and a model version registered from it shows
the pipeline run and the task's input artifacts in `ferry describe model`.

Pipelines are compiled by the real kfp compiler here and submitted through the unmodified kfp.Client; tasks
run under --task-python (this Python, which imports kfp, mlflow and the Ferry SDK's run context provider).
"""
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import kfp
import pytest
import requests
from kfp import dsl
from kfp.dsl import Dataset, Input, Output
from mlflow import MlflowClient

from ferry_testing import FerryServer, ferry_bin, hermetic_env

RUN_TIMEOUT_S = 300


@dsl.component(base_image="python:3.11")
def make_data(data: Output[Dataset]):
    with open(data.path, "w") as f:
        f.write("x,y\n1,2\n3,4\n")


@dsl.component(base_image="python:3.11")
def log_and_register(data: Input[Dataset], model_name: str) -> str:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_experiment("pipeline-tracking")
    with mlflow.start_run(run_name="from-a-task") as run:
        with open(data.path) as f:
            mlflow.log_metric("rows", len(f.read().splitlines()) - 1)
    client = MlflowClient()
    client.create_registered_model(model_name)
    client.create_model_version(model_name, source=run.info.artifact_uri + "/model", run_id=run.info.run_id)
    return run.info.run_id


@dsl.pipeline(name="tracking-pipeline")
def tracking_pipeline(model_name: str):
    produced = make_data()
    log_and_register(data=produced.outputs["data"], model_name=model_name)


@dsl.component(base_image="python:3.11")
def tracking_uri() -> str:
    import os

    return os.environ.get("MLFLOW_TRACKING_URI", "")


@dsl.pipeline(name="tracking-uri")
def tracking_uri_pipeline():
    tracking_uri().set_caching_options(False)
    tracking_uri().set_caching_options(False).set_env_variable("MLFLOW_TRACKING_URI", "http://elsewhere:5000")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerryServer]:
    srv = FerryServer(tmp_path_factory.mktemp("tracking") / "data", ("--task-python", sys.executable))
    srv.start()
    yield srv
    srv.stop()
    print("--- stderr of the server (last 100 lines) ---\n" + "".join(srv.stderr_lines[-100:]))


def run_to_completion(server: FerryServer, pipeline, arguments: dict) -> dict:
    """Submits through kfp.Client and returns the finished run as the KFP API's JSON (with task details)."""
    client = kfp.Client(host=server.url)
    run_id = client.create_run_from_pipeline_func(pipeline, arguments=arguments).run_id
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        run = requests.get(f"{server.url}/apis/v2beta1/runs/{run_id}", timeout=30).json()
        if run["state"] in ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"):
            break
        assert time.monotonic() < deadline, f"run {run_id} still {run['state']}"
        time.sleep(0.2)
    if run["state"] != "SUCCEEDED":
        logs = "\n".join(Path(p).read_text(errors="replace")[-3000:]
                         for p in sorted((server.data_dir / "pipelines" / "runs" / run_id).rglob("task.log")))
        pytest.fail(f"run {run_id} {run['state']}: {run.get('error')}\n{logs}")
    return run


def task(run: dict, name: str) -> dict:
    found = [t for t in run["run_details"]["task_details"] if t["display_name"] == name]
    assert len(found) == 1, [t["display_name"] for t in run["run_details"]["task_details"]]
    return found[0]


def test_task_logs_to_a_run_tagged_with_the_pipeline_run_and_lineage_shows_it(server: FerryServer) -> None:
    run = run_to_completion(server, tracking_pipeline, {"model_name": "from-pipeline"})
    pipeline_run_id = run["run_id"]
    logger = task(run, "log-and-register")
    mlflow_run_id = logger["output_parameters"]["Output"]

    # The task's run is on this server, found by the tag as any MLflow user would search for it.
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    experiment = client.get_experiment_by_name("pipeline-tracking")
    assert experiment is not None
    found = client.search_runs([experiment.experiment_id],
                               filter_string=f"tags.`ferry.pipeline_run_id` = '{pipeline_run_id}'")
    assert [r.info.run_id for r in found] == [mlflow_run_id]
    tags = found[0].data.tags
    assert tags["ferry.pipeline_run_id"] == pipeline_run_id
    assert tags["ferry.pipeline_task"] == logger["task_id"]
    assert found[0].data.metrics["rows"] == 2

    # The version registered from it traces back to the pipeline run and the task's input artifact.
    version = client.get_model_version("from-pipeline", "1")
    assert version.run_id == mlflow_run_id
    data_uri = logger["inputs"]["data"]["artifact_ids"][0]
    assert data_uri == task(run, "make-data")["outputs"]["data"]["artifact_ids"][0]
    described = subprocess.run([ferry_bin(), "describe", "model", "from-pipeline"], capture_output=True, text=True,
                               env=hermetic_env({"FERRY_SERVER": server.url}), timeout=60)
    assert described.returncode == 0, described.stderr
    assert (f"version 1 <- run {mlflow_run_id} \"from-a-task\" in experiment {experiment.experiment_id}\n"
            f"      part of pipeline run {pipeline_run_id} \"{run['display_name']}\" (SUCCEEDED), "
            f"task {logger['task_id']}\n"
            f"      <- artifact data {data_uri}\n") in described.stdout, described.stdout


def test_tasks_get_this_servers_tracking_uri_unless_their_env_sets_one(server: FerryServer) -> None:
    run = run_to_completion(server, tracking_uri_pipeline, {})
    uris = sorted(t["output_parameters"]["Output"] for t in run["run_details"]["task_details"]
                  if t["kind"] == "container")
    assert uris == sorted([server.url, "http://elsewhere:5000"])
