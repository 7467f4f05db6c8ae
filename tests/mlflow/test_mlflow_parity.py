"""Error parity with `mlflow server`: the same REST calls against MLflow and against Ferry.

A session starts the real `mlflow server` (the pinned package, SQLite backend, one worker) and a
Ferry server, prepares the same fixtures on both (an experiment, a run, a deleted run, a deleted
experiment, a registered model with one version), and then runs each case of CASES against both.
Every case records what MLflow answers (HTTP status and `error_code`); the test asserts that
MLflow still answers that (so the table stays true to the pinned release) and that Ferry answers
the same. A difference is a finding: the assertion message shows both answers. A few cases name
a deliberate deviation (`ferry=`, with the reason): where MLflow answers with an HTML page or a
leaked database error, or silently drops an unknown enum value, which DESIGN.md §1 forbids.

test_response_shape_parity compares successful responses: the set of JSON keys at every level
(values such as ids and timestamps differ by nature and are not compared).

If `mlflow server` cannot start the tests fail with its log: they never skip.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest
import requests

from ferry_testing import FerryServer
from mlflow_testing import MlflowServer

API = "/api/2.0/mlflow"
INVALID = (400, "INVALID_PARAMETER_VALUE")
MISSING = (404, "RESOURCE_DOES_NOT_EXIST")
EXISTS = (400, "RESOURCE_ALREADY_EXISTS")
OK = (200, "")

Body = Any  # a dict (JSON body, or query for GET), a str (sent verbatim), or None


@dataclass(frozen=True)
class Step:
    """One request: `path` under /api/2.0/mlflow (or absolute, from /api/); strings in `body` and `path` are
    formatted with the server's context."""
    method: str
    path: str
    body: Body = None


@dataclass(frozen=True)
class Case:
    name: str
    request: Step
    expect: Tuple[int, str]  # MLflow's (HTTP status, error_code); error_code "" for a success
    before: Tuple[Step, ...] = ()  # must succeed on both servers first
    # A deliberate deviation: what Ferry answers instead where MLflow's answer is an accident of its
    # implementation or breaks DESIGN.md's rules, and why.
    ferry: Optional[Tuple[int, str]] = None
    why: str = ""


def fill(value: Any, ctx: Dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format_map(ctx) if "{" in value else value
    if isinstance(value, dict):
        return {k: fill(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ctx) for v in value]
    return value


def send(session: requests.Session, base: str, step: Step, ctx: Dict[str, str]) -> requests.Response:
    path = fill(step.path, ctx)
    url = base + (path if path.startswith("/api/") else API + path)
    if isinstance(step.body, str):  # raw body, e.g. malformed JSON
        return session.request(step.method, url, data=step.body.encode(),
                               headers={"Content-Type": "application/json"}, timeout=60)
    body = fill(step.body, ctx) if step.body is not None else None
    if step.method == "GET":
        return session.get(url, params=body, timeout=60)
    return session.request(step.method, url, json=body, timeout=60)


def answer(resp: requests.Response) -> Tuple[int, str]:
    """(HTTP status, error_code) of a response; error_code "" when there is none."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    code = body.get("error_code", "") if isinstance(body, dict) else ""
    return resp.status_code, code


def describe(resp: requests.Response) -> str:
    return f"HTTP {resp.status_code} {resp.text[:300]!r}"


NOW = 1_700_000_000_000
METRIC = {"key": "m", "value": 1.0, "timestamp": NOW, "step": 0}


def batch(metrics: int = 0, params: int = 0, tags: int = 0) -> Dict[str, Any]:
    return {"run_id": "{run}",
            "metrics": [dict(METRIC, key=f"bm{i}") for i in range(metrics)],
            "params": [{"key": f"bp{i}", "value": "v"} for i in range(params)],
            "tags": [{"key": f"bt{i}", "value": "v"} for i in range(tags)]}


def search_runs(**fields: Any) -> Step:
    return Step("POST", "/runs/search", dict({"experiment_ids": ["{exp}"]}, **fields))


CASES: List[Case] = [
    # --- experiments
    Case("experiment duplicate name", Step("POST", "/experiments/create", {"name": "parity"}), EXISTS),
    Case("experiment create without name", Step("POST", "/experiments/create", {}), INVALID),
    Case("experiment create empty name", Step("POST", "/experiments/create", {"name": ""}), INVALID),
    Case("experiment create name of wrong type", Step("POST", "/experiments/create", {"name": 12}), INVALID),
    Case("experiment create tags not a list",
         Step("POST", "/experiments/create", {"name": "parity-tags", "tags": {"a": "b"}}), INVALID),
    Case("experiment get missing", Step("GET", "/experiments/get", {"experiment_id": "987654"}), MISSING),
    Case("experiment get without id", Step("GET", "/experiments/get", {}), INVALID),
    Case("experiment get-by-name missing",
         Step("GET", "/experiments/get-by-name", {"experiment_name": "no such experiment"}), MISSING),
    Case("experiment delete missing", Step("POST", "/experiments/delete", {"experiment_id": "987654"}), MISSING),
    Case("experiment rename to existing name",
         Step("POST", "/experiments/update", {"experiment_id": "{exp}", "new_name": "Default"}),
         (400, "BAD_REQUEST"), ferry=EXISTS,
         why="MLflow leaks SQLite's IntegrityError as BAD_REQUEST; both answer 400"),
    Case("experiment set-tag on missing experiment",
         Step("POST", "/experiments/set-experiment-tag", {"experiment_id": "987654", "key": "k", "value": "v"}),
         MISSING),
    Case("experiment set-tag key too long",
         Step("POST", "/experiments/set-experiment-tag", {"experiment_id": "{exp}", "key": "k" * 251, "value": "v"}),
         INVALID),
    Case("experiments search max_results 0", Step("POST", "/experiments/search", {"max_results": 0}), INVALID),
    Case("experiments search max_results 50001",
         Step("POST", "/experiments/search", {"max_results": 50001}), INVALID),
    Case("experiments search without max_results (proto default 0)", Step("POST", "/experiments/search", {}),
         INVALID),
    Case("experiments search bad filter",
         Step("POST", "/experiments/search", {"max_results": 10, "filter": "name = "}), INVALID),
    Case("experiments search filter on an unknown attribute",
         Step("POST", "/experiments/search", {"max_results": 10, "filter": "attribute.owner = 'me'"}), INVALID),
    Case("experiments search bad order_by",
         Step("POST", "/experiments/search", {"max_results": 10, "order_by": ["bogus_column DESC"]}), INVALID),
    Case("experiments search with an unknown view_type",
         Step("POST", "/experiments/search", {"max_results": 10, "view_type": "SOMETIMES"}), OK, ferry=INVALID,
         why="MLflow's proto parser drops an unknown enum value; Ferry rejects it, naming the field (DESIGN.md §1)"),
    # --- runs
    Case("run get missing", Step("GET", "/runs/get", {"run_id": "0123456789abcdef0123456789abcdef"}), MISSING),
    Case("run get without id", Step("GET", "/runs/get", {}), INVALID),
    Case("run create in missing experiment", Step("POST", "/runs/create", {"experiment_id": "987654"}), MISSING),
    Case("run create in deleted experiment",
         Step("POST", "/runs/create", {"experiment_id": "{deleted_exp}"}), INVALID),
    Case("run create start_time of wrong type",
         Step("POST", "/runs/create", {"experiment_id": "{exp}", "start_time": "yesterday"}), INVALID),
    Case("run update missing run",
         Step("POST", "/runs/update", {"run_id": "0123456789abcdef0123456789abcdef", "status": "FINISHED"}),
         MISSING),
    Case("run update with an unknown status",
         Step("POST", "/runs/update", {"run_id": "{run}", "status": "EXPLODED"}), OK, ferry=INVALID,
         why="MLflow's proto parser drops an unknown enum value; Ferry rejects it, naming the field (DESIGN.md §1)"),
    Case("run delete missing", Step("POST", "/runs/delete", {"run_id": "0123456789abcdef0123456789abcdef"}),
         MISSING),
    Case("param overwrite with a different value",
         Step("POST", "/runs/log-parameter", {"run_id": "{run}", "key": "overwritten", "value": "2"}), INVALID,
         before=(Step("POST", "/runs/log-parameter", {"run_id": "{run}", "key": "overwritten", "value": "1"}),)),
    Case("param re-log with the same value",
         Step("POST", "/runs/log-parameter", {"run_id": "{run}", "key": "same", "value": "1"}), OK,
         before=(Step("POST", "/runs/log-parameter", {"run_id": "{run}", "key": "same", "value": "1"}),)),
    Case("param value too long is truncated",
         Step("POST", "/runs/log-parameter", {"run_id": "{run}", "key": "long", "value": "x" * 6001}), OK),
    Case("param key with a bad character",
         Step("POST", "/runs/log-parameter", {"run_id": "{run}", "key": "bad!key", "value": "1"}), INVALID),
    Case("param key escaping the run",
         Step("POST", "/runs/log-parameter", {"run_id": "{run}", "key": "../up", "value": "1"}), INVALID),
    Case("param without value",
         Step("POST", "/runs/log-parameter", {"run_id": "{run}", "key": "novalue"}), OK),
    Case("param without key",
         Step("POST", "/runs/log-parameter", {"run_id": "{run}", "value": "1"}), INVALID),
    Case("param on a deleted run",
         Step("POST", "/runs/log-parameter", {"run_id": "{deleted_run}", "key": "p", "value": "1"}), INVALID),
    Case("metric key with a bad character",
         Step("POST", "/runs/log-metric", dict(METRIC, run_id="{run}", key="bad*key")), INVALID),
    Case("metric key too long",
         Step("POST", "/runs/log-metric", dict(METRIC, run_id="{run}", key="k" * 251)), INVALID),
    Case("metric without value",
         Step("POST", "/runs/log-metric", {"run_id": "{run}", "key": "m", "timestamp": NOW}), INVALID),
    Case("metric without timestamp",
         Step("POST", "/runs/log-metric", {"run_id": "{run}", "key": "m", "value": 1.0}), INVALID),
    Case("metric value not a number",
         Step("POST", "/runs/log-metric", dict(METRIC, run_id="{run}", value="high")), INVALID),
    Case("metric step not an integer",
         Step("POST", "/runs/log-metric", dict(METRIC, run_id="{run}", step="first")), INVALID),
    Case("metric on a missing run",
         Step("POST", "/runs/log-metric", dict(METRIC, run_id="0123456789abcdef0123456789abcdef")), MISSING),
    Case("metric on a deleted run",
         Step("POST", "/runs/log-metric", dict(METRIC, run_id="{deleted_run}")), INVALID),
    Case("metric NaN accepted", Step("POST", "/runs/log-metric", dict(METRIC, run_id="{run}", value="NaN")), OK),
    Case("tag key with a bad character",
         Step("POST", "/runs/set-tag", {"run_id": "{run}", "key": "bad?tag", "value": "v"}), INVALID),
    Case("tag on a deleted run",
         Step("POST", "/runs/set-tag", {"run_id": "{deleted_run}", "key": "t", "value": "v"}), INVALID),
    Case("delete a tag that is not set",
         Step("POST", "/runs/delete-tag", {"run_id": "{run}", "key": "never-set"}), MISSING),
    Case("log-batch with 1001 metrics", Step("POST", "/runs/log-batch", batch(metrics=1001)), INVALID),
    Case("log-batch with 101 params", Step("POST", "/runs/log-batch", batch(params=101)), INVALID),
    Case("log-batch with 101 tags", Step("POST", "/runs/log-batch", batch(tags=101)), INVALID),
    Case("log-batch with more than 1000 entities in all",
         Step("POST", "/runs/log-batch", batch(metrics=1000, params=100, tags=100)), INVALID),
    Case("log-batch at the limits", Step("POST", "/runs/log-batch", batch(metrics=900, params=50, tags=50)), OK),
    Case("log-batch with a param logged twice with different values",
         Step("POST", "/runs/log-batch", {"run_id": "{run}", "params": [{"key": "dup", "value": "1"},
                                                                        {"key": "dup", "value": "2"}]}), INVALID),
    Case("log-batch metrics not a list",
         Step("POST", "/runs/log-batch", {"run_id": "{run}", "metrics": {"key": "m"}}), INVALID),
    Case("log-batch on a deleted run", Step("POST", "/runs/log-batch", dict(batch(params=1), run_id="{deleted_run}")),
         INVALID),
    Case("log-batch without run_id", Step("POST", "/runs/log-batch", {"params": [{"key": "p", "value": "1"}]}),
         INVALID),
    # --- search_runs
    Case("search runs filter with a dangling operator", search_runs(filter="metrics.acc >"), INVALID),
    Case("search runs filter with an unknown entity", search_runs(filter="foo.bar = 1"), INVALID),
    Case("search runs filter comparing a metric to a string", search_runs(filter="metrics.acc = 'high'"), INVALID),
    Case("search runs filter comparing a param to a number", search_runs(filter="params.lr = 0.1"), INVALID),
    Case("search runs filter with OR", search_runs(filter="metrics.a > 1 OR metrics.b > 1"), INVALID),
    Case("search runs filter with an unknown attribute", search_runs(filter="attributes.bogus = 'x'"), INVALID),
    Case("search runs filter with an unsupported metric operator", search_runs(filter="metrics.acc LIKE '%a'"),
         INVALID),
    Case("search runs filter with an unquoted string", search_runs(filter="params.lr = fast"), INVALID),
    Case("search runs filter that is valid", search_runs(filter="metrics.acc > 0.5 and params.lr = '0.1'"), OK),
    Case("search runs order_by with a bad direction", search_runs(order_by=["metrics.acc DOWNWARDS"]), INVALID),
    Case("search runs order_by an unknown entity", search_runs(order_by=["bogus.acc"]), INVALID),
    Case("search runs max_results 0", search_runs(max_results=0), INVALID),
    Case("search runs max_results 50001", search_runs(max_results=50001), INVALID),
    Case("search runs bad page token", search_runs(page_token="not-a-token"), INVALID),
    Case("search runs experiment_ids not a list",
         Step("POST", "/runs/search", {"experiment_ids": "{exp}"}), INVALID),
    Case("search runs max_results of wrong type", search_runs(max_results="many"), INVALID),
    # --- metric history
    Case("metric history without metric_key", Step("GET", "/metrics/get-history", {"run_id": "{run}"}), INVALID),
    Case("metric history of a missing run is empty",
         Step("GET", "/metrics/get-history", {"run_id": "0123456789abcdef0123456789abcdef", "metric_key": "m"}),
         OK),
    Case("bulk-interval history without run_ids",
         Step("GET", "/metrics/get-history-bulk-interval", {"metric_key": "m"}), INVALID),
    Case("bulk-interval history max_results too large",
         Step("GET", "/metrics/get-history-bulk-interval", {"run_ids": "{run}", "metric_key": "m",
                                                            "max_results": "2501"}), INVALID),
    # --- artifacts
    Case("artifacts list of a missing run",
         Step("GET", "/artifacts/list", {"run_id": "0123456789abcdef0123456789abcdef"}), MISSING),
    Case("artifacts list escaping the run", Step("GET", "/artifacts/list", {"run_id": "{run}", "path": "../.."}),
         INVALID),
    Case("artifact proxy path escaping the root",
         Step("GET", "/api/2.0/mlflow-artifacts/artifacts/%2E%2E/%2E%2E/etc/passwd"), INVALID),
    # --- logged models
    Case("logged model get missing", Step("GET", "/logged-models/m-0123456789abcdef0123456789abcdef"), MISSING),
    Case("logged model create in a missing experiment",
         Step("POST", "/logged-models", {"experiment_id": "987654", "name": "lm"}), MISSING),
    Case("logged models search bad filter",
         Step("POST", "/logged-models/search", {"experiment_ids": ["{exp}"], "filter": "name ="}), INVALID),
    # --- request bodies
    Case("malformed JSON body reads as empty", Step("POST", "/experiments/create", '{"name": "broken"'), INVALID),
    Case("JSON body that is an array", Step("POST", "/experiments/create", '["name"]'), (500, ""), ferry=INVALID,
         why="MLflow crashes with an HTML 500 page"),
    Case("unknown endpoint", Step("POST", "/experiments/explode", {}), (404, ""),
         ferry=(404, "ENDPOINT_NOT_FOUND"), why="MLflow answers Flask's HTML 404 page"),
    # --- registry
    Case("registered model duplicate", Step("POST", "/registered-models/create", {"name": "parity-model"}), EXISTS),
    Case("registered model create without name", Step("POST", "/registered-models/create", {}), INVALID),
    Case("registered model get missing", Step("GET", "/registered-models/get", {"name": "no-such-model"}), MISSING),
    Case("registered model rename to existing name",
         Step("POST", "/registered-models/rename", {"name": "parity-other", "new_name": "parity-model"}), EXISTS,
         before=(Step("POST", "/registered-models/create", {"name": "parity-other"}),)),
    Case("registered model delete missing",
         Step("DELETE", "/registered-models/delete", {"name": "no-such-model"}), MISSING),
    Case("registered models search bad filter",
         Step("GET", "/registered-models/search", {"filter": "name == "}), INVALID),
    Case("registered models search max_results 1001",
         Step("GET", "/registered-models/search", {"max_results": "1001"}), INVALID),
    Case("model version get missing",
         Step("GET", "/model-versions/get", {"name": "parity-model", "version": "99"}), MISSING),
    Case("model version get non-numeric version",
         Step("GET", "/model-versions/get", {"name": "parity-model", "version": "one"}), INVALID),
    Case("model version create for a missing model",
         Step("POST", "/model-versions/create", {"name": "no-such-model", "source": "{run_source}", "run_id": "{run}"}),
         MISSING),
    Case("model version transition to a bad stage",
         Step("POST", "/model-versions/transition-stage", {"name": "parity-model", "version": "1", "stage": "Bogus",
                                                           "archive_existing_versions": False}), INVALID),
    Case("model versions search bad filter",
         Step("GET", "/model-versions/search", {"filter": "name = parity-model"}), INVALID),
    Case("alias with a bad character",
         Step("POST", "/registered-models/alias", {"name": "parity-model", "alias": "bad alias", "version": "1"}),
         INVALID),
    Case("alias that looks like a version",
         Step("POST", "/registered-models/alias", {"name": "parity-model", "alias": "v3", "version": "1"}), INVALID),
    Case("alias 'latest' is reserved",
         Step("POST", "/registered-models/alias", {"name": "parity-model", "alias": "Latest", "version": "1"}),
         INVALID),
    Case("alias to a missing version",
         Step("POST", "/registered-models/alias", {"name": "parity-model", "alias": "ghost", "version": "99"}),
         MISSING),
    Case("alias get missing",
         Step("GET", "/registered-models/alias", {"name": "parity-model", "alias": "nobody"}), INVALID),
    Case("registered model tag key too long",
         Step("POST", "/registered-models/set-tag", {"name": "parity-model", "key": "k" * 251, "value": "v"}),
         INVALID),
]


@dataclass
class Target:
    """One server under comparison, with the ids of the fixtures prepared on it."""
    name: str
    url: str
    session: requests.Session = field(default_factory=requests.Session)
    ctx: Dict[str, str] = field(default_factory=dict)
    log: Optional[Any] = None  # callable returning the server's log tail

    def call(self, step: Step) -> requests.Response:
        return send(self.session, self.url, step, self.ctx)

    def must(self, method: str, path: str, body: Body = None) -> Dict[str, Any]:
        resp = self.call(Step(method, path, body))
        assert resp.status_code == 200, f"{self.name}: {method} {path} failed: {describe(resp)}"
        return resp.json()


def prepare(target: Target) -> None:
    """The same fixtures on each server; their ids go into the target's context."""
    ctx = target.ctx
    ctx["exp"] = target.must("POST", "/experiments/create", {"name": "parity"})["experiment_id"]
    ctx["run"] = target.must("POST", "/runs/create", {"experiment_id": ctx["exp"], "start_time": NOW})["run"]["info"]["run_id"]
    ctx["run_source"] = f"runs:/{ctx['run']}/model"
    ctx["deleted_run"] = target.must("POST", "/runs/create", {"experiment_id": ctx["exp"]})["run"]["info"]["run_id"]
    target.must("POST", "/runs/delete", {"run_id": ctx["deleted_run"]})
    ctx["deleted_exp"] = target.must("POST", "/experiments/create", {"name": "parity-deleted"})["experiment_id"]
    target.must("POST", "/experiments/delete", {"experiment_id": ctx["deleted_exp"]})
    target.must("POST", "/registered-models/create", {"name": "parity-model"})
    target.must("POST", "/model-versions/create", {"name": "parity-model", "source": ctx["run_source"],
                                                   "run_id": ctx["run"]})


@pytest.fixture(scope="session")
def mlflow_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-reference"))
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(f"the reference `mlflow server` did not start: {e}")
    target = Target("mlflow", server.url, log=server.log_tail)
    try:
        prepare(target)
        yield target
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ferry_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = FerryServer(tmp_path_factory.mktemp("ferry-parity"))
    server.start()
    target = Target("ferry", server.url, log=lambda: server.stderr_text()[-5000:])
    try:
        prepare(target)
        yield target
    finally:
        server.stop()


@pytest.fixture(scope="session")
def targets(mlflow_target: Target, ferry_target: Target) -> Tuple[Target, Target]:
    return mlflow_target, ferry_target


def test_cases_are_uniquely_named():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_error_parity(case: Case, targets: Tuple[Target, Target]) -> None:
    mlflow, ferry = targets
    for target in targets:
        for step in case.before:
            resp = target.call(step)
            assert resp.status_code == 200, f"{target.name}: setup {step.method} {step.path}: {describe(resp)}"
    theirs = mlflow.call(case.request)
    ours = ferry.call(case.request)
    assert answer(theirs) == case.expect, (
        f"the pinned mlflow server no longer answers {case.expect} to {case.name!r}: {describe(theirs)}")
    wanted = case.ferry or answer(theirs)
    assert answer(ours) == wanted, (
        f"PARITY: {case.name}: mlflow answered {describe(theirs)}; ferry answered {describe(ours)}"
        + (f"; ferry should answer {wanted} ({case.why})" if case.ferry else ""))
    if wanted[1]:
        body = ours.json()
        assert isinstance(body.get("message"), str) and body["message"], f"ferry's error has no message: {body}"


# --- shapes of successful responses ---------------------------------------------------------------

def keys(value: Any, path: str = "") -> Set[str]:
    """Every key path in a JSON value; list elements are merged under `path[]`."""
    out: Set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(f"{path}.{k}")
            out |= keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            out |= keys(v, f"{path}[]")
    return out


def shape_sequence(target: Target) -> Dict[str, Any]:
    """Representative successful calls; the same on both servers."""
    out: Dict[str, Any] = {}
    exp = target.must("POST", "/experiments/create", {"name": "shapes", "tags": [{"key": "team", "value": "a"}]})
    out["experiments/create"] = exp
    exp_id = exp["experiment_id"]
    out["experiments/get"] = target.must("GET", "/experiments/get", {"experiment_id": exp_id})
    out["experiments/get-by-name"] = target.must("GET", "/experiments/get-by-name", {"experiment_name": "shapes"})
    out["experiments/search"] = target.must("POST", "/experiments/search",
                                            {"max_results": 1, "filter": "name = 'shapes'"})
    created = target.must("POST", "/runs/create", {"experiment_id": exp_id, "start_time": NOW, "run_name": "r",
                                                   "tags": [{"key": "t", "value": "1"}]})
    out["runs/create"] = created
    run_id = created["run"]["info"]["run_id"]
    out["runs/log-batch"] = target.must("POST", "/runs/log-batch", {
        "run_id": run_id, "metrics": [dict(METRIC, key="acc", value=0.9)],
        "params": [{"key": "lr", "value": "0.1"}], "tags": [{"key": "u", "value": "2"}]})
    out["runs/log-metric"] = target.must("POST", "/runs/log-metric", dict(METRIC, run_id=run_id, key="loss", step=3))
    out["runs/update"] = target.must("POST", "/runs/update", {"run_id": run_id, "status": "FINISHED",
                                                              "end_time": NOW + 1000})
    out["runs/get"] = target.must("GET", "/runs/get", {"run_id": run_id})
    out["runs/search"] = target.must("POST", "/runs/search", {"experiment_ids": [exp_id], "max_results": 1,
                                                              "order_by": ["metrics.acc DESC"]})
    out["runs/search (empty)"] = target.must("POST", "/runs/search", {"experiment_ids": [exp_id],
                                                                      "filter": "metrics.acc > 5"})
    out["metrics/get-history"] = target.must("GET", "/metrics/get-history", {"run_id": run_id, "metric_key": "loss"})
    out["metrics/get-history-bulk-interval"] = target.must(
        "GET", "/metrics/get-history-bulk-interval", {"run_ids": run_id, "metric_key": "loss", "max_results": 10})
    out["artifacts/list"] = target.must("GET", "/artifacts/list", {"run_id": run_id})
    logged = target.must("POST", "/logged-models", {"experiment_id": exp_id, "name": "lm", "source_run_id": run_id,
                                                    "params": [{"key": "p", "value": "1"}],
                                                    "tags": [{"key": "t", "value": "1"}]})
    out["logged-models (create)"] = logged
    out["logged-models (get)"] = target.must("GET", f"/logged-models/{logged['model']['info']['model_id']}")
    out["registered-models/create"] = target.must("POST", "/registered-models/create",
                                                  {"name": "shapes-model", "description": "d",
                                                   "tags": [{"key": "k", "value": "v"}]})
    out["model-versions/create"] = target.must("POST", "/model-versions/create", {
        "name": "shapes-model", "source": f"runs:/{run_id}/model", "run_id": run_id,
        "tags": [{"key": "k", "value": "v"}]})
    target.must("POST", "/registered-models/alias", {"name": "shapes-model", "alias": "champion", "version": "1"})
    out["registered-models/get"] = target.must("GET", "/registered-models/get", {"name": "shapes-model"})
    out["registered-models/alias (get)"] = target.must("GET", "/registered-models/alias",
                                                       {"name": "shapes-model", "alias": "champion"})
    out["registered-models/search"] = target.must("GET", "/registered-models/search",
                                                  {"filter": "name = 'shapes-model'"})
    out["model-versions/search"] = target.must("GET", "/model-versions/search", {"filter": "name = 'shapes-model'"})
    out["registered-models/get-latest-versions"] = target.must("POST", "/registered-models/get-latest-versions",
                                                               {"name": "shapes-model"})
    return out


@pytest.fixture(scope="session")
def shapes(targets: Tuple[Target, Target]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    return shape_sequence(targets[0]), shape_sequence(targets[1])


SHAPE_CALLS = ["experiments/create", "experiments/get", "experiments/get-by-name", "experiments/search",
               "runs/create", "runs/log-batch", "runs/log-metric", "runs/update", "runs/get", "runs/search",
               "runs/search (empty)", "metrics/get-history",
               "metrics/get-history-bulk-interval", "artifacts/list", "logged-models (create)", "logged-models (get)",
               "registered-models/create", "model-versions/create",
               "registered-models/get", "registered-models/alias (get)", "registered-models/search",
               "model-versions/search", "registered-models/get-latest-versions"]


@pytest.mark.parametrize("call", SHAPE_CALLS)
def test_response_shape_parity(call: str, shapes: Tuple[Dict[str, Any], Dict[str, Any]]) -> None:
    theirs, ours = shapes[0][call], shapes[1][call]
    missing = sorted(keys(theirs) - keys(ours))
    extra = sorted(keys(ours) - keys(theirs))
    assert not missing and not extra, (
        f"PARITY: {call}: keys only in mlflow's answer {missing}, only in ferry's {extra}\n"
        f"mlflow: {json.dumps(theirs)[:1500]}\nferry: {json.dumps(ours)[:1500]}")
