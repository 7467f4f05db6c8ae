"""Tags an MLflow run started inside a Ferry pipeline task with that pipeline run.

Ferry's engine starts every task with `FERRY_RUN_ID` (the pipeline run's id,
which is also the KFP run id) and `FERRY_TASK_PATH` (the task's path in the
run, e.g. ``root/train``), and the server points `MLFLOW_TRACKING_URI` at
itself. With this package installed, `mlflow.start_run()` in a task therefore
needs no configuration: mlflow loads `PipelineRunContext` through its
`mlflow.run_context_provider` entry point (python/pyproject.toml) and adds

    ferry.pipeline_run_id = <FERRY_RUN_ID>
    ferry.pipeline_task   = <FERRY_TASK_PATH>

to the run's tags. The registry follows `ferry.pipeline_run_id` from a model
version's source run to the pipeline run (`ferry describe model`).

mlflow's registry only instantiates the class and calls `in_context()` and
`tags()` (mlflow.tracking.context.abstract_context.RunContextProvider), so
the SDK does not import mlflow.
"""
from __future__ import annotations

import os
from typing import Dict, Mapping, Optional

PIPELINE_RUN_ID_TAG = "ferry.pipeline_run_id"
PIPELINE_TASK_TAG = "ferry.pipeline_task"

_RUN_ID_VAR = "FERRY_RUN_ID"
_TASK_PATH_VAR = "FERRY_TASK_PATH"


def pipeline_tags(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The tags naming the pipeline run and task this process runs in; empty outside a Ferry task."""
    env = os.environ if environ is None else environ
    run_id = env.get(_RUN_ID_VAR, "").strip()
    if not run_id:
        return {}
    tags = {PIPELINE_RUN_ID_TAG: run_id}
    task = env.get(_TASK_PATH_VAR, "").strip()
    if task:
        tags[PIPELINE_TASK_TAG] = task
    return tags


class PipelineRunContext:
    """An mlflow run context provider: in context inside a Ferry pipeline task."""

    def in_context(self) -> bool:
        return bool(pipeline_tags())

    def tags(self) -> Dict[str, str]:
        return pipeline_tags()
