"""Helpers for the Katib Experiment integration tests: a `ferry server` whose trials find the project
venv's `python3`, the examples in examples/tuning loaded with their working directory filled in,
and waiting on an Experiment's status through the real SDK client (`ferry.Client`).

The example YAMLs are Katib's shape unchanged: their trial container runs `python3 branin.py ...`
in `workingDir: /opt/ferry/examples/tuning` (where a Katib image would hold the scripts);
`load_example` points that at this checkout's examples/tuning, the only edit a local run needs.
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

import requests
import yaml

from ferry import Client
from ferry_testing import ROOT, FerryServer

EXAMPLES = ROOT / "examples" / "tuning"
EXAMPLE_WORKDIR = "/opt/ferry/examples/tuning"
NAMESPACE = "kubeflow"  # the examples' metadata.namespace, as in Katib's
BRANIN_OPTIMUM = 0.397887
EXPERIMENTS = "experiments.kubeflow.org"
TRIALS = "trials.kubeflow.org"
EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"
FINISH_TIMEOUT_S = 240.0

Object = Dict[str, Any]


def branin(x1: float, x2: float) -> float:
    b = 5.1 / (4 * math.pi ** 2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def trial_env() -> Dict[str, str]:
    """The server's environment additions: the project venv's bin first on PATH, so trials' `python3`
    has scikit-learn and the ferry SDK."""
    venv_bin = ROOT / ".venv" / "bin"
    path = os.environ.get("PATH", "/usr/bin:/bin")
    return {"PATH": f"{venv_bin}{os.pathsep}{path}" if venv_bin.is_dir() else path}


def katib_server(data_dir: Path, *extra_args: str) -> FerryServer:
    """A started `ferry server` on `data_dir` whose trials run under the venv's python3; the caller stops it."""
    return FerryServer(data_dir, tuple(extra_args), env=trial_env()).start()


def load_example(name: str, experiment_name: Optional[str] = None) -> Object:
    """examples/tuning/<name>.yaml as an object, its workingDir pointed at this checkout (nothing else changed
    unless `experiment_name` renames it)."""
    text = (EXAMPLES / f"{name}.yaml").read_text()
    assert EXAMPLE_WORKDIR in text, f"{name}.yaml no longer runs in {EXAMPLE_WORKDIR}"
    obj = yaml.safe_load(text.replace(EXAMPLE_WORKDIR, str(EXAMPLES)))
    if experiment_name:
        obj["metadata"]["name"] = experiment_name
    return obj


def container(experiment: Object) -> Object:
    """The primary (only) container of a batch/v1 Job trial template."""
    return experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][0]


def with_args(experiment: Object, *args: str) -> Object:
    """A copy of `experiment` whose trial command has `args` appended."""
    out = copy.deepcopy(experiment)
    container(out)["command"].extend(args)
    return out


def read_records(path: Path) -> List[Object]:
    """The start/end events branin.py --record appended, in file order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def max_overlap(records: Iterable[Object]) -> int:
    """The largest number of trials running at one moment, from start/end events (an end sorts before a
    start at the same instant)."""
    events = sorted((r["t"], 0 if r["event"] == "end" else 1) for r in records)
    running = peak = 0
    for _, kind in events:
        running += 1 if kind == 1 else -1
        peak = max(peak, running)
    return peak


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = FINISH_TIMEOUT_S,
             interval: float = 0.1) -> Any:
    """Polls until `predicate()` is truthy and returns it; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(interval)


def condition(obj: Object, type_: str) -> Optional[Object]:
    for c in obj.get("status", {}).get("conditions", []) or []:
        if c.get("type") == type_:
            return c
    return None


def is_true(obj: Object, type_: str) -> bool:
    c = condition(obj, type_)
    return c is not None and c.get("status") == "True"


def trial_state(trial: Object) -> str:
    """A Trial's state for display: the type of its last condition whose status is "True"."""
    state = ""
    for c in trial.get("status", {}).get("conditions", []) or []:
        if c.get("status") == "True":
            state = c.get("type", "")
    return state


def assignments(trial_or_optimal: Object) -> Dict[str, str]:
    spec = trial_or_optimal.get("spec", trial_or_optimal)
    return {a["name"]: a["value"] for a in spec.get("parameterAssignments", [])}


def metric(observation_holder: Object, name: str) -> Optional[Object]:
    """The {name, min, max, latest} entry for `name` in an observation (Trial status or currentOptimalTrial)."""
    holder = observation_holder.get("status", observation_holder)
    for m in (holder.get("observation") or {}).get("metrics", []) or []:
        if m.get("name") == name:
            return m
    return None


class Katib:
    """Katib Experiments and Trials on one server, through ferry.Client (and raw HTTP for error checks)."""

    def __init__(self, server: FerryServer, namespace: str = NAMESPACE) -> None:
        self.server = server
        self.namespace = namespace
        self.client = Client(server.url)

    @property
    def collection_url(self) -> str:
        return f"{self.server.url}/api/v1/namespaces/{self.namespace}/{EXPERIMENTS}"

    def create(self, experiment: Object) -> Object:
        return self.client.create(experiment, namespace=self.namespace)

    def post(self, experiment: Object) -> requests.Response:
        """POST without the SDK, for checking the HTTP status and error body."""
        return requests.post(self.collection_url, json=experiment, timeout=30)

    def get(self, name: str) -> Object:
        return self.client.get(EXPERIMENTS, name, self.namespace)

    def delete(self, name: str) -> Object:
        return self.client.delete(EXPERIMENTS, name, self.namespace)

    def trials(self, name: str) -> List[Object]:
        """The experiment's Trial objects by trial number."""
        items = self.client.list(TRIALS, self.namespace, label_selector=f"{EXPERIMENT_LABEL}={name}")
        return sorted(items, key=lambda t: trial_number(name, t["metadata"]["name"]))

    def wait_finished(self, name: str, timeout: float = FINISH_TIMEOUT_S) -> Object:
        """The experiment once its Succeeded or Failed condition is True and no trial is left running or
        pending (the trials still running when it ends are killed, and their status lands a moment later)."""
        last: Dict[str, Object] = {}

        def finished() -> Optional[Object]:
            x = last["x"] = self.get(name)
            status = x.get("status", {})
            settled = not status.get("trialsRunning") and not status.get("trialsPending")
            return x if (is_true(x, "Succeeded") or is_true(x, "Failed")) and settled else None

        try:
            return wait_for(finished, f"experiment {name} to finish", timeout, interval=0.25)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.describe(name, last.get('x'))}") from None

    def wait_status(self, name: str, predicate: Callable[[Object], bool], what: str,
                    timeout: float = FINISH_TIMEOUT_S) -> Object:
        last: Dict[str, Object] = {}

        def check() -> Optional[Object]:
            last["x"] = self.get(name)
            return last["x"] if predicate(last["x"]) else None

        try:
            return wait_for(check, what, timeout, interval=0.1)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.describe(name, last.get('x'))}") from None

    def describe(self, name: str, experiment: Optional[Object] = None) -> str:
        """For assertion messages: the experiment's status, each trial's state, and the tail of trial logs."""
        try:
            experiment = experiment or self.get(name)
        except Exception as e:  # noqa: BLE001 - only for a message
            return f"(experiment {name} unreadable: {e})"
        status = dict(experiment.get("status", {}))
        for key in [k for k in status if k.endswith("TrialList")]:
            status[key] = len(status[key] or [])
        lines = [f"status of {name}: {json.dumps(status, indent=1)[:4000]}"]
        try:
            for t in self.trials(name):
                c = [x for x in t.get("status", {}).get("conditions", []) if x.get("status") == "True"]
                last = c[-1] if c else {}
                lines.append(f"  {t['metadata']['name']}: {trial_state(t)} {last.get('message', '')} "
                             f"{assignments(t)} {t.get('status', {}).get('observation')}")
        except Exception as e:  # noqa: BLE001
            lines.append(f"(trials unreadable: {e})")
        uid = experiment.get("metadata", {}).get("uid", "")
        logs = sorted((self.server.data_dir / "tuning" / uid / "logs").glob("*.log")) if uid else []
        for log in logs[-3:]:
            lines.append(f"--- {log}\n" + log.read_text(errors="replace")[-800:])
        return "\n".join(lines)


def trial_number(experiment_name: str, trial_name: str) -> int:
    prefix = experiment_name[:50] + "-"
    assert trial_name.startswith(prefix), f"trial {trial_name} is not named {prefix}<number>"
    return int(trial_name[len(prefix):])


def metric_value(trial: Object, name: str, key: str = "min") -> float:
    """float(the trial's observation of `name`[key]); fails if the metric was not observed."""
    m = metric(trial, name)
    assert m is not None, f"{trial['metadata']['name']} has no metric {name}: {trial.get('status')}"
    return float(m[key])


def objective_values(trials: Iterable[Object], metric_name: str = "loss") -> List[float]:
    """The objective metric's min of each Succeeded trial (values are strings, as in Katib)."""
    out = []
    for t in trials:
        if trial_state(t) != "Succeeded":
            continue
        out.append(metric_value(t, metric_name))
    return out
