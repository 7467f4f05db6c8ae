"""The ask/tell REST API (/api/v1/tuning/studies) of the real binary, over raw HTTP: the study
lifecycle, ask/tell until a best trial exists, report and should-prune under medianstop, parallel
asks, hyperband's 503 and an exhausted grid's 409, bad input, and every trial recorded as an
MLflow run that the unmodified `mlflow` client finds, also across a restart.
"""
from __future__ import annotations

import math
import threading
from typing import Any, Dict, List, Optional

import pytest
import requests
from mlflow import MlflowClient

from ferry_testing import FerryServer

API = "/api/v1/tuning/studies"

DISTRIBUTIONS = [
    {"name": "x", "type": "float", "low": -5, "high": 10},
    {"name": "n", "type": "int", "low": 1, "high": 64, "log": True},
    {"name": "opt", "type": "categorical", "choices": ["adam", "sgd", 3, True]},
]


def call(server: FerryServer, method: str, path: str, body: Any = None, status: int = 200,
         **kw: Any) -> Any:
    r = requests.request(method, server.url + API + path, json=body, timeout=30, **kw)
    assert r.status_code == status, f"{method} {path} {body} -> {r.status_code} {r.text}"
    return r.json()


def create(server: FerryServer, name: str, status: int = 201, **fields: Any) -> Dict[str, Any]:
    body = {"name": name, "distributions": DISTRIBUTIONS, **fields}
    return call(server, "POST", "", body, status)


def objective(params: Dict[str, Any]) -> float:
    return (params["x"] - 2) ** 2 + math.log2(params["n"]) / 10 + (0 if params["opt"] == "adam" else 0.5)


def test_study_lifecycle(ferry_server: FerryServer) -> None:
    study = create(ferry_server, "lifecycle", direction="maximize", sampler="random", seed=3,
                   sampler_settings={"random_state": 5}, metric_names=["accuracy"])
    assert study["name"] == "lifecycle" and study["direction"] == "maximize"
    assert study["sampler_settings"] == {"random_state": "5"}
    assert study["distributions"][2]["choices"] == ["adam", "sgd", "3", "true"]
    assert study["counts"] == {"running": 0, "complete": 0, "pruned": 0, "failed": 0}
    assert study["best_trial"] is None and study["created"].endswith("Z")

    again = create(ferry_server, "lifecycle", 200, direction="maximize", sampler="random", seed=3,
                   sampler_settings={"random_state": "5"}, metric_names=["accuracy"], load_if_exists=True)
    assert again == study
    err = create(ferry_server, "lifecycle", 409, load_if_exists=True)["error"]
    assert err["code"] == "AlreadyExists" and err["field"] == "direction"
    assert create(ferry_server, "lifecycle", 409)["error"]["code"] == "AlreadyExists"

    assert call(ferry_server, "GET", "/lifecycle") == study
    for name in ("a-study", "z-study"):
        create(ferry_server, name)
    first = call(ferry_server, "GET", "?page_size=2")
    assert [s["name"] for s in first["studies"]] == ["a-study", "lifecycle"]
    rest = call(ferry_server, "GET", "", params={"page_size": 2, "page_token": first["next_page_token"]})
    assert [s["name"] for s in rest["studies"]] == ["z-study"] and rest["next_page_token"] == ""

    assert call(ferry_server, "DELETE", "/lifecycle") == {}
    assert call(ferry_server, "GET", "/lifecycle", status=404)["error"]["code"] == "NotFound"
    assert call(ferry_server, "DELETE", "/lifecycle", status=404)["error"]["code"] == "NotFound"
    assert [s["name"] for s in call(ferry_server, "GET", "")["studies"]] == ["a-study", "z-study"]


def test_ask_tell_until_a_best_trial(ferry_server: FerryServer) -> None:
    create(ferry_server, "quadratic", sampler="tpe", sampler_settings={"n_startup_trials": 5}, seed=1)
    assert call(ferry_server, "GET", "/quadratic/best-trial", status=404)["error"]["code"] == "NotFound"
    values = {}
    for i in range(20):
        trial = call(ferry_server, "POST", "/quadratic/trials", status=201)
        assert trial["number"] == i and trial["state"] == "RUNNING" and trial["value"] is None
        params = trial["params"]
        assert -5 <= params["x"] <= 10 and isinstance(params["n"], int) and 1 <= params["n"] <= 64
        assert params["opt"] in ("adam", "sgd", "3", "true")
        values[i] = objective(params)
        told = call(ferry_server, "POST", f"/quadratic/trials/{i}/tell", {"value": values[i]})
        assert told["state"] == "COMPLETE" and told["value"] == values[i] and told["params"] == params

    best = call(ferry_server, "GET", "/quadratic/best-trial")
    assert best["value"] == min(values.values())
    assert best["number"] == min(values, key=lambda k: (values[k], k))
    study = call(ferry_server, "GET", "/quadratic")
    assert study["best_trial"] == best and study["counts"]["complete"] == 20
    trials = call(ferry_server, "GET", "/quadratic/trials")["trials"]
    assert [t["number"] for t in trials] == list(range(20))
    assert call(ferry_server, "GET", "/quadratic/trials/3") == trials[3]

    # Enqueued values (Optuna's enqueue_trial): the trial gets them.
    fixed = call(ferry_server, "POST", "/quadratic/trials",
                 {"fixed_params": {"x": 2.0, "n": 1, "opt": "adam"}}, 201)
    assert fixed["params"] == {"x": 2.0, "n": 1, "opt": "adam"}
    told = call(ferry_server, "POST", f"/quadratic/trials/{fixed['number']}/tell", {"value": 0.0})
    assert call(ferry_server, "GET", "/quadratic/best-trial") == told


def test_report_and_should_prune_with_medianstop(ferry_server: FerryServer) -> None:
    create(ferry_server, "prune", sampler="random", pruner="medianstop",
           pruner_settings={"min_trials_required": 2, "start_step": 2})
    for number, curve in enumerate([[1.0, 0.8, 0.6], [1.2, 0.9, 0.7]]):
        call(ferry_server, "POST", "/prune/trials", status=201)
        for step, value in enumerate(curve):
            assert call(ferry_server, "POST", f"/prune/trials/{number}/report",
                        {"step": step, "value": value}) == {}
            assert call(ferry_server, "GET", f"/prune/trials/{number}/should-prune") == {"should_prune": False}
        call(ferry_server, "POST", f"/prune/trials/{number}/tell", {"value": curve[-1]})

    call(ferry_server, "POST", "/prune/trials", status=201)
    call(ferry_server, "POST", "/prune/trials/2/report", {"step": 0, "value": 5.0})
    # Fewer reports than start_step: not yet.
    assert call(ferry_server, "GET", "/prune/trials/2/should-prune") == {"should_prune": False}
    call(ferry_server, "POST", "/prune/trials/2/report", {"step": 1, "value": "NaN"})
    assert call(ferry_server, "GET", "/prune/trials/2/should-prune") == {"should_prune": True}
    trial = call(ferry_server, "POST", "/prune/trials/2/tell", {"state": "PRUNED"})
    assert trial["state"] == "PRUNED" and trial["intermediate_values"] == {"0": 5.0, "1": "NaN"}
    # A good trial is not pruned.
    call(ferry_server, "POST", "/prune/trials", status=201)
    call(ferry_server, "POST", "/prune/trials/3/report", {"step": 0, "value": 0.5})
    call(ferry_server, "POST", "/prune/trials/3/report", {"step": 1, "value": 0.4})
    assert call(ferry_server, "GET", "/prune/trials/3/should-prune") == {"should_prune": False}


def test_parallel_asks_get_dense_distinct_numbers(ferry_server: FerryServer) -> None:
    create(ferry_server, "parallel", sampler="tpe")
    numbers: List[int] = []
    errors: List[str] = []
    lock = threading.Lock()

    def worker() -> None:
        with requests.Session() as session:
            for _ in range(6):
                r = session.post(ferry_server.url + API + "/parallel/trials", timeout=30)
                if r.status_code != 201:
                    errors.append(r.text)
                    return
                number = r.json()["number"]
                t = session.post(ferry_server.url + API + f"/parallel/trials/{number}/tell",
                                 json={"value": objective(r.json()["params"])}, timeout=30)
                if t.status_code != 200:
                    errors.append(t.text)
                with lock:
                    numbers.append(number)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == list(range(48))
    assert call(ferry_server, "GET", "/parallel")["counts"]["complete"] == 48


def test_hyperband_waiting_is_503_and_an_exhausted_grid_is_409(ferry_server: FerryServer) -> None:
    call(ferry_server, "POST", "", {
        "name": "hb", "sampler": "hyperband",
        "sampler_settings": {"resource_name": "epochs", "eta": 2, "r_l": 2},
        "distributions": [{"name": "epochs", "type": "int", "low": 1, "high": 2},
                          {"name": "lr", "type": "float", "low": 1e-4, "high": 1e-1, "log": True}],
    }, 201)
    first = [call(ferry_server, "POST", "/hb/trials", status=201) for _ in range(2)]
    assert all(t["params"]["epochs"] == 1 for t in first)
    r = requests.post(ferry_server.url + API + "/hb/trials", timeout=30)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.json()["error"]["code"] == "Unavailable"
    for t in first:
        call(ferry_server, "POST", f"/hb/trials/{t['number']}/tell", {"value": t["params"]["lr"]})
    promoted = call(ferry_server, "POST", "/hb/trials", status=201)
    assert promoted["params"]["epochs"] == 2

    call(ferry_server, "POST", "", {"name": "grid", "sampler": "grid", "distributions": [
        {"name": "c", "type": "categorical", "choices": ["a", "b"]},
        {"name": "k", "type": "int", "low": 0, "high": 1}]}, 201)
    seen = {tuple(sorted(call(ferry_server, "POST", "/grid/trials", status=201)["params"].items()))
            for _ in range(4)}
    assert len(seen) == 4
    err = call(ferry_server, "POST", "/grid/trials", status=409)["error"]
    assert err["code"] == "FailedPrecondition"


BAD_REQUESTS = [
    # (method, path, body, status, field)
    ("POST", "", {"name": "s", "distributions": DISTRIBUTIONS, "colour": 1}, 400, "colour"),
    ("POST", "", {"name": 7, "distributions": DISTRIBUTIONS}, 400, "name"),
    ("POST", "", {"name": "bad name", "distributions": DISTRIBUTIONS}, 400, "name"),
    ("POST", "", {"name": "n" * 129, "distributions": DISTRIBUTIONS}, 400, "name"),
    ("POST", "", {"name": "n" * 100_000, "distributions": DISTRIBUTIONS}, 400, "name"),
    ("POST", "", {"name": "s", "distributions": {}}, 400, "distributions"),
    ("POST", "", {"name": "s", "distributions": [{"name": "x", "type": "float", "low": 2, "high": 1}]},
     400, "distributions[0].low"),
    ("POST", "", {"name": "s", "distributions": [{"name": "x", "type": "float", "low": "0", "high": 1}]},
     400, "distributions[0].low"),
    ("POST", "", {"name": "s", "distributions": [{"name": "x", "type": "int", "low": 0.5, "high": 1}]},
     400, "distributions[0].low"),
    ("POST", "", {"name": "s", "distributions": [{"name": "x", "type": "beta", "low": 0, "high": 1}]},
     400, "distributions[0].type"),
    ("POST", "", {"name": "s", "distributions": [{"name": "x", "type": "categorical", "choices": ["a", "a"]}]},
     400, "distributions[0].choices[1]"),
    ("POST", "", {"name": "s", "distributions": [{"name": "x", "type": "categorical", "choices": ["a"],
                                                  "low": 0}]}, 400, "distributions[0].low"),
    ("POST", "", {"name": "s", "distributions": DISTRIBUTIONS, "direction": "down"}, 400, "direction"),
    ("POST", "", {"name": "s", "distributions": DISTRIBUTIONS, "sampler": "enas"}, 400, "sampler"),
    ("POST", "", {"name": "s", "distributions": DISTRIBUTIONS, "sampler_settings": {"nope": 1}},
     400, "sampler_settings.nope"),
    ("POST", "", {"name": "s", "distributions": DISTRIBUTIONS, "seed": -1}, 400, "seed"),
    ("POST", "", {"name": "s", "distributions": DISTRIBUTIONS, "seed": "1"}, 400, "seed"),
    ("POST", "", {"name": "s", "distributions": DISTRIBUTIONS, "load_if_exists": 1}, 400, "load_if_exists"),
    ("GET", "?page_size=0", None, 400, "page_size"),
    ("GET", "?limit=3", None, 400, "limit"),
    ("GET", "/bad%20name", None, 400, "name"),
    ("GET", "/s/trials/abc", None, 400, "number"),
    ("GET", "/s/trials/-1", None, 400, "number"),
    ("GET", "/s/trials/0.5", None, 400, "number"),
    ("GET", "/s/trials/12345678901234567890123", None, 400, "number"),
    ("POST", "/s/trials", {"fixed_params": {"x": 100}}, 400, "fixed_params.x"),
    ("POST", "/s/trials", {"fixed_params": {"nope": 1}}, 400, "fixed_params.nope"),
    ("POST", "/s/trials", {"fixed_params": {"opt": "rmsprop"}}, 400, "fixed_params.opt"),
    ("POST", "/s/trials", {"fixed_params": {"n": 2.5}}, 400, "fixed_params.n"),
    ("POST", "/s/trials", {"fixed": {}}, 400, "fixed"),
    ("POST", "/s/trials/0/tell", {"value": "NaN"}, 400, "value"),
    ("POST", "/s/trials/0/tell", {"value": "ten"}, 400, "value"),
    ("POST", "/s/trials/0/tell", {}, 400, "value"),
    ("POST", "/s/trials/0/tell", {"state": "DONE", "value": 1}, 400, "state"),
    ("POST", "/s/trials/0/tell", {"state": "PRUNED", "value": 1}, 400, "value"),
    ("POST", "/s/trials/0/tell", {"value": 1, "when": "now"}, 400, "when"),
    ("POST", "/s/trials/0/report", {"step": 1.5, "value": 1}, 400, "step"),
    ("POST", "/s/trials/0/report", {"step": -1, "value": 1}, 400, "step"),
    ("POST", "/s/trials/0/report", {"step": 0, "value": [1]}, 400, "value"),
    ("POST", "/s/trials/0/report", {"value": 1}, 400, "step"),
    ("GET", "/s/trials/5", None, 404, None),
    ("GET", "/missing", None, 404, None),
    ("POST", "/missing/trials", None, 404, None),
]


@pytest.mark.parametrize("method,path,body,status,field", BAD_REQUESTS,
                         ids=[f"{m} {p} {b}"[:80] for m, p, b, _, _ in BAD_REQUESTS])
def test_bad_input_is_4xx_naming_the_field(ferry_server: FerryServer, method: str, path: str,
                                           body: Optional[dict], status: int, field: Optional[str]) -> None:
    create(ferry_server, "s")
    call(ferry_server, "POST", "/s/trials", status=201)
    err = call(ferry_server, method, path, body, status)["error"]
    assert err["message"]
    assert err.get("field") == field, err
    # Nothing changed.
    study = call(ferry_server, "GET", "/s")
    assert study["counts"] == {"running": 1, "complete": 0, "pruned": 0, "failed": 0}
    assert [s["name"] for s in call(ferry_server, "GET", "")["studies"]] == ["s"]


def test_malformed_bodies(ferry_server: FerryServer) -> None:
    create(ferry_server, "s")
    call(ferry_server, "POST", "/s/trials", status=201)
    headers = {"Content-Type": "application/json"}
    for path, text in [("", "{not json"), ("", "[]"), ("", ""), ("/s/trials/0/tell", '{"value": NaN}'),
                       ("/s/trials/0/tell", '{"value": 1e999}'), ("/s/trials/0/report", "null")]:
        r = requests.post(ferry_server.url + API + path, data=text, headers=headers, timeout=30)
        assert r.status_code == 400, (path, text, r.text)
        assert r.json()["error"]["code"] == "InvalidArgument"
    r = requests.post(ferry_server.url + API, data="name: s", headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 415


def runs_of(server: FerryServer, study: str) -> List[Any]:
    client = MlflowClient(tracking_uri=server.url)
    experiment = client.get_experiment_by_name(study)
    assert experiment is not None and experiment.tags.get("ferry.tuning.study") == study
    return client.search_runs([experiment.experiment_id], order_by=["attributes.run_name ASC"])


def test_trials_are_mlflow_runs(ferry_server: FerryServer) -> None:
    create(ferry_server, "tracked", sampler="random", metric_names=["loss"])
    for number, state in enumerate(["COMPLETE", "PRUNED", "FAILED", None]):
        trial = call(ferry_server, "POST", "/tracked/trials", status=201)
        call(ferry_server, "POST", f"/tracked/trials/{number}/report", {"step": 0, "value": 1.0 + number})
        call(ferry_server, "POST", f"/tracked/trials/{number}/report", {"step": 1, "value": 0.5 + number})
        if state == "COMPLETE":
            call(ferry_server, "POST", f"/tracked/trials/{number}/tell", {"value": 0.25})
        elif state:
            call(ferry_server, "POST", f"/tracked/trials/{number}/tell", {"state": state})
        if number == 0:
            first = trial

    runs = runs_of(ferry_server, "tracked")
    assert [r.info.run_name for r in runs] == ["trial-0", "trial-1", "trial-2", "trial-3"]
    assert [r.info.status for r in runs] == ["FINISHED", "KILLED", "FAILED", "RUNNING"]
    for number, run in enumerate(runs):
        assert run.data.tags["ferry.tuning.study"] == "tracked"
        assert run.data.tags["ferry.tuning.trial"] == str(number)
        assert set(run.data.params) == {"x", "n", "opt"}
    assert runs[0].data.params["n"] == str(first["params"]["n"])
    assert runs[0].data.params["opt"] == first["params"]["opt"]
    assert float(runs[0].data.params["x"]) == pytest.approx(first["params"]["x"])

    client = MlflowClient(tracking_uri=ferry_server.url)
    history = client.get_metric_history(runs[0].info.run_id, "loss")
    assert sorted((m.step, m.value) for m in history) == [(0, 1.0), (1, 0.5), (2, 0.25)]
    assert runs[1].data.metrics["loss"] == 1.5  # pruned: its last intermediate value
    assert runs[3].data.metrics["loss"] == 3.5

    # Deleting the study ends its running trials' runs.
    call(ferry_server, "DELETE", "/tracked")
    assert client.get_run(runs[3].info.run_id).info.status == "KILLED"


def test_trial_runs_continue_after_a_restart(server_factory: Any, tmp_path: Any) -> None:
    data = tmp_path / "data"
    server = server_factory(data)
    create(server, "resumed", sampler="random")
    call(server, "POST", "/resumed/trials", status=201)
    call(server, "POST", "/resumed/trials/0/report", {"step": 0, "value": 2.0})
    assert server.stop() == 0

    server = server_factory(data)
    call(server, "POST", "/resumed/trials/0/report", {"step": 1, "value": 1.0})
    call(server, "POST", "/resumed/trials/0/tell", {"value": 0.5})
    assert call(server, "POST", "/resumed/trials", status=201)["number"] == 1

    runs = runs_of(server, "resumed")
    assert [(r.info.run_name, r.info.status) for r in runs] == [("trial-0", "FINISHED"), ("trial-1", "RUNNING")]
    history = MlflowClient(tracking_uri=server.url).get_metric_history(runs[0].info.run_id, "objective")
    assert sorted((m.step, m.value) for m in history) == [(0, 2.0), (1, 1.0), (2, 0.5)]
