"""ferry.tune without a server: wire encoding of distributions, choices and numbers, the optimize loop
over a scripted in-memory service (503 retries, 409 exhaustion, pruned and failed trials, threads), and
report_metrics.

Everything the real server does is tested against the real binary in tests/tuning/test_tune_sdk.py.
"""
from __future__ import annotations

import datetime
import json
import math
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest

import ferry
from ferry import _tuning, errors, tune
from ferry.tune import CategoricalDistribution, DiscreteDistribution, FloatDistribution, IntDistribution

CLOSED_SERVER = "http://127.0.0.1:1"  # nothing listens: a call that reached the network would fail


# Distributions on the wire.

@pytest.mark.parametrize("dist, wire", [
    (FloatDistribution(-5, 10), {"type": "float", "low": -5, "high": 10, "log": False}),
    (FloatDistribution(1e-5, 0.1, log=True), {"type": "float", "low": 1e-5, "high": 0.1, "log": True}),
    (FloatDistribution(0, 1, step=0.25), {"type": "float", "low": 0, "high": 1, "log": False, "step": 0.25}),
    (IntDistribution(1, 64, log=True), {"type": "int", "low": 1, "high": 64, "log": True}),
    (IntDistribution(0, 10, step=2), {"type": "int", "low": 0, "high": 10, "log": False, "step": 2}),
    (IntDistribution(np.int64(1), 3.0), {"type": "int", "low": 1, "high": 3, "log": False}),  # type: ignore[arg-type]
    (DiscreteDistribution([0.1, 1, 10]), {"type": "discrete", "values": [0.1, 1, 10]}),
    (CategoricalDistribution(["adam", 1, 2.5, True, None]),
     {"type": "categorical", "choices": ["adam", "1", "2.5", "true", "null"]}),
])
def test_distribution_encoding(dist: _tuning.Distribution, wire: Dict[str, Any]) -> None:
    encoded = _tuning.encode_distribution("p", dist, "distributions[0]")
    assert encoded == {"name": "p", **wire}
    assert type(encoded.get("low", 0)) is type(wire.get("low", 0))
    json.dumps(encoded, allow_nan=False)


def test_distribution_round_trip_through_the_server_form() -> None:
    for dist in (FloatDistribution(-5, 10), FloatDistribution(1e-3, 1, log=True), FloatDistribution(0, 1, step=0.5),
                 IntDistribution(1, 64, log=True), IntDistribution(0, 10, step=2), DiscreteDistribution([1, 2.5])):
        name, back = _tuning.decode_distribution(_tuning.encode_distribution("p", dist, "d"))
        assert (name, back) == ("p", dist)
    # Categorical choices come back as the server's strings.
    _, cat = _tuning.decode_distribution({"name": "c", "type": "categorical", "choices": ["a", "1", 2, True]})
    assert cat == CategoricalDistribution(["a", "1", "2", "true"])


@pytest.mark.parametrize("doc", [{"type": "float"}, {"name": "x", "type": "weird", "low": 0, "high": 1},
                                 {"name": "x", "type": "int", "low": "a", "high": 1}])
def test_malformed_server_distributions_are_internal_errors(doc: Dict[str, Any]) -> None:
    with pytest.raises(ferry.Internal):
        _tuning.decode_distribution(doc)


@pytest.mark.parametrize("dist, field", [
    (FloatDistribution("0", 1), "distributions[1].low"),  # type: ignore[arg-type]
    (FloatDistribution(0, True), "distributions[1].high"),  # type: ignore[arg-type]
    (IntDistribution(0, 2.5), "distributions[1].high"),  # type: ignore[arg-type]
    (FloatDistribution(0, 1, step=math.nan), "distributions[1].step"),
    (DiscreteDistribution([1, "x"]), "distributions[1].values[1]"),
    (CategoricalDistribution(["a", ["b"]]), "distributions[1].choices[1]"),
    (CategoricalDistribution([1.0, math.inf]), "distributions[1].choices[1]"),
    (CategoricalDistribution([1, "1"]), "distributions[1].choices[1]"),
    (CategoricalDistribution([True, "true"]), "distributions[1].choices[1]"),
    ("not a distribution", "distributions[1]"),
])
def test_bad_distributions_are_refused_before_any_request(dist: Any, field: str) -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        tune.create_study("s", {"ok": FloatDistribution(0, 1), "bad": dist}, server=CLOSED_SERVER)
    assert e.value.field == field
    assert field in str(e.value)


@pytest.mark.parametrize("distributions", [{}, [FloatDistribution(0, 1)], {1: FloatDistribution(0, 1)}])
def test_distributions_must_be_a_named_mapping(distributions: Any) -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        tune.create_study("s", distributions, server=CLOSED_SERVER)
    assert e.value.field in ("distributions", "distributions[0].name")


# Optuna's classes are read by duck typing (the SDK does not depend on optuna).

def optuna_like(class_name: str, **attrs: Any) -> Any:
    return type(class_name, (), dict(attrs, __module__="optuna.distributions"))()


@pytest.mark.parametrize("obj, ours", [
    (optuna_like("FloatDistribution", low=0.0, high=1.0, log=False, step=None), FloatDistribution(0.0, 1.0)),
    (optuna_like("FloatDistribution", low=1e-3, high=1.0, log=True, step=None), FloatDistribution(1e-3, 1, True)),
    (optuna_like("IntDistribution", low=1, high=9, log=False, step=2), IntDistribution(1, 9, step=2)),
    (optuna_like("CategoricalDistribution", choices=("a", 1)), CategoricalDistribution(["a", 1])),
    (optuna_like("UniformDistribution", low=0.0, high=2.0), FloatDistribution(0.0, 2.0)),
    (optuna_like("LogUniformDistribution", low=0.1, high=2.0), FloatDistribution(0.1, 2.0, log=True)),
    (optuna_like("DiscreteUniformDistribution", low=0.0, high=1.0, q=0.1), FloatDistribution(0.0, 1.0, step=0.1)),
    (optuna_like("IntUniformDistribution", low=0, high=8, step=4), IntDistribution(0, 8, step=4)),
    (optuna_like("IntLogUniformDistribution", low=1, high=8), IntDistribution(1, 8, log=True)),
])
def test_optuna_distributions_are_accepted(obj: Any, ours: _tuning.Distribution) -> None:
    assert _tuning.as_distribution(obj, "distributions[0]") == ours


def test_real_optuna_distributions_are_accepted() -> None:
    """The same through the installed optuna (requirements-dev.txt pins it for the benchmark)."""
    import optuna

    d = optuna.distributions
    assert _tuning.as_distribution(d.FloatDistribution(1e-3, 1.0, log=True), "x") == FloatDistribution(1e-3, 1, True)
    assert _tuning.as_distribution(d.FloatDistribution(0.0, 1.0, step=0.25), "x") == FloatDistribution(0, 1, step=0.25)
    assert _tuning.as_distribution(d.IntDistribution(2, 64, log=True), "x") == IntDistribution(2, 64, log=True)
    assert _tuning.as_distribution(d.CategoricalDistribution(["a", 1, None]), "x") == \
        CategoricalDistribution(["a", 1, None])


def test_optuna_like_without_attributes_names_the_field() -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        _tuning.as_distribution(optuna_like("FloatDistribution"), "distributions[3]")
    assert e.value.field == "distributions[3]"


# Categorical choices.

@pytest.mark.parametrize("choice, text", [
    ("sgd", "sgd"), ("", ""), (1, "1"), (-3, "-3"), (2.5, "2.5"), (1.0, "1.0"), (True, "true"), (False, "false"),
    (None, "null"), (np.int32(7), "7"), (np.float64(0.5), "0.5"), ("1", "1"),
])
def test_choice_encoding(choice: Any, text: str) -> None:
    assert _tuning.encode_choice(choice, "c") == text


def test_choice_map_both_ways() -> None:
    choices = ["adam", 1, 1.5, True, None, "2"]
    m = _tuning.ChoiceMap(choices, "distributions[0].choices")
    for c in choices:
        back = m.from_wire(m.to_wire(c, "params.c"))
        assert back == c and type(back) is type(c)
    assert m.to_wire(1, "f") == "1" and m.to_wire(True, "f") == "true"
    assert m.to_wire("nope", "f") == "nope"  # not a choice: the server refuses it by name
    assert m.from_wire("unknown") == "unknown"


# Numbers on the wire.

@pytest.mark.parametrize("value, wire", [
    (1, 1), (0.5, 0.5), (math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity"), (np.float32(2), 2.0),
])
def test_number_encoding(value: Any, wire: Any) -> None:
    encoded = _tuning.encode_number(value, "value")
    assert encoded == wire and type(encoded) is type(wire)
    back = _tuning.decode_number(encoded)
    assert (math.isnan(back) and math.isnan(value)) or back == value


@pytest.mark.parametrize("value", ["0.5", True, None, [1]])
def test_numbers_must_be_numbers(value: Any) -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        _tuning.encode_number(value, "value")
    assert e.value.field == "value"
    with pytest.raises(ferry.Internal):
        _tuning.decode_number(value)


# A study over a scripted in-memory service.

class FakeService:
    """Plays the tuning routes of one study in memory, in their wire forms; `ask_errors` are raised first."""

    def __init__(self, distributions: List[Dict[str, Any]], suggest: Any) -> None:
        self.distributions = distributions
        self.suggest = suggest  # number -> wire params
        self.lock = threading.Lock()
        self.trials: List[Dict[str, Any]] = []
        self.ask_errors: List[errors.FerryError] = []
        self.max_trials: Optional[int] = None
        self.asks = 0
        self.prune_from: Optional[int] = None
        self.closed = 0

    def study_doc(self, name: str) -> Dict[str, Any]:
        return {"name": name, "study_id": 1, "direction": "minimize", "sampler": "tpe", "pruner": "none",
                "sampler_settings": {}, "pruner_settings": {}, "seed": 7, "metric_names": [],
                "distributions": self.distributions, "created": "2026-11-23T10:00:00Z",
                "counts": {}, "best_trial": None}

    def ask(self, name: str, fixed: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        with self.lock:
            self.asks += 1
            if self.ask_errors:
                raise self.ask_errors.pop(0)
            if self.max_trials is not None and len(self.trials) >= self.max_trials:
                raise errors.FailedPrecondition("the grid is exhausted", status=409)
            number = len(self.trials)
            params = dict(self.suggest(number), **(fixed or {}))
            trial = {"number": number, "state": "RUNNING", "params": params, "value": None,
                     "intermediate_values": {}}
            self.trials.append(trial)
            return dict(trial)

    def tell(self, name: str, number: int, state: str, value: Any) -> Dict[str, Any]:
        with self.lock:
            trial = self.trials[number]
            assert trial["state"] == "RUNNING", f"trial {number} told twice"
            trial.update(state=state, value=value)
            return dict(trial)

    def report(self, name: str, number: int, step: int, value: Any) -> None:
        self.trials[number]["intermediate_values"].setdefault(str(step), value)

    def should_prune(self, name: str, number: int) -> bool:
        return self.prune_from is not None and len(self.trials[number]["intermediate_values"]) >= self.prune_from

    def close(self) -> None:
        self.closed += 1

    def states(self) -> List[str]:
        return [t["state"] for t in self.trials]


class FakeConnection:
    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.workers = 0

    def worker_service(self) -> FakeService:
        self.workers += 1
        return self.service

    def close(self) -> None:
        pass


DISTS = {"x": FloatDistribution(-5, 10), "n": IntDistribution(1, 8), "opt": CategoricalDistribution(["adam", 1, None])}


def fake_study(max_trials: Optional[int] = None) -> tuple[tune.Study, FakeService, FakeConnection]:
    wire = [_tuning.encode_distribution(n, d, f"distributions[{i}]") for i, (n, d) in enumerate(DISTS.items())]
    choices = ["adam", "1", "null"]
    service = FakeService(wire, lambda k: {"x": float(k), "n": k % 8 + 1, "opt": choices[k % 3]})
    service.max_trials = max_trials
    connection = FakeConnection(service)
    study = tune.Study(connection, service.study_doc("s"), DISTS)  # type: ignore[arg-type]
    return study, service, connection


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tune, "ASK_RETRY_FIRST_DELAY", 0.0)


def test_ask_maps_choices_back_and_types_values() -> None:
    study, _, _ = fake_study()
    trials = [study.ask() for _ in range(3)]
    assert [t.params["opt"] for t in trials] == ["adam", 1, None]
    assert type(trials[1].params["opt"]) is int
    assert trials[2].params == {"x": 2.0, "n": 3, "opt": None}
    assert type(trials[2].params["n"]) is int and type(trials[2].params["x"]) is float
    assert trials[0].state == "RUNNING" and trials[0].value is None


def test_fixed_params_travel_in_wire_form() -> None:
    study, service, _ = fake_study()
    trial = study.ask({"opt": 1, "n": 4})
    assert service.trials[0]["params"]["opt"] == "1" and service.trials[0]["params"]["n"] == 4
    assert trial.params["opt"] == 1 and trial.params["n"] == 4
    with pytest.raises(ferry.InvalidArgument) as e:
        study.ask({"x": "high"})
    assert e.value.field == "fixed_params.x"


def test_tell_and_report() -> None:
    study, service, _ = fake_study()
    trial = study.ask()
    trial.report(0.5, 0)
    trial.report(math.nan, 1)
    assert service.trials[0]["intermediate_values"] == {"0": 0.5, "1": "NaN"}
    assert math.isnan(trial.intermediate_values[1])
    done = study.tell(trial, 1.25)
    assert (done.number, done.state, done.value) == (0, "COMPLETE", 1.25)
    study.ask()
    assert study.tell(1, state="pruned").state == "PRUNED"
    with pytest.raises(ferry.InvalidArgument) as e:
        study.tell(1, state="DONE")
    assert e.value.field == "state"
    with pytest.raises(ferry.InvalidArgument) as e:
        trial.report(1.0, step=1.5)  # type: ignore[arg-type]
    assert e.value.field == "step"


def test_optimize_records_each_outcome() -> None:
    study, service, _ = fake_study()

    def objective(trial: tune.Trial) -> Any:
        k = trial.number
        if k == 0:
            return (trial.params["x"] - 2) ** 2
        if k == 1:
            raise tune.TrialPruned()
        if k == 2:
            raise KeyError("caught")
        if k == 3:
            return math.nan
        if k == 4:
            return None
        return np.float64(k)

    study.optimize(objective, n_trials=6, catch=(KeyError,))
    assert service.states() == ["COMPLETE", "PRUNED", "FAILED", "FAILED", "FAILED", "COMPLETE"]
    assert [t["value"] for t in service.trials] == [4.0, None, None, None, None, 5.0]


def test_an_exception_not_caught_fails_the_trial_and_is_raised() -> None:
    study, service, _ = fake_study()

    def objective(trial: tune.Trial) -> float:
        if trial.number == 1:
            raise ValueError("boom")
        return 1.0

    with pytest.raises(ValueError, match="boom"):
        study.optimize(objective, n_trials=5, catch=KeyError)
    assert service.states() == ["COMPLETE", "FAILED"]


def test_optuna_trial_pruned_is_recognised() -> None:
    study, service, _ = fake_study()
    optuna_pruned = type("TrialPruned", (Exception,), {"__module__": "optuna.exceptions"})

    def objective(trial: tune.Trial) -> float:
        raise optuna_pruned()

    study.optimize(objective, n_trials=2)
    assert service.states() == ["PRUNED", "PRUNED"]


def test_pruning_through_report_and_should_prune() -> None:
    study, service, _ = fake_study()
    service.prune_from = 3

    def objective(trial: tune.Trial) -> float:
        for step in range(10):
            trial.report(float(step), step)
            if trial.should_prune():
                raise tune.TrialPruned()
        return 0.0

    study.optimize(objective, n_trials=2)
    assert service.states() == ["PRUNED", "PRUNED"]
    assert len(service.trials[0]["intermediate_values"]) == 3


def test_ask_retries_503_and_stops_cleanly_on_409() -> None:
    study, service, _ = fake_study(max_trials=3)
    service.ask_errors = [errors.Unavailable("hyperband is waiting", status=503, retry_after=1.0)] * 4
    study.optimize(lambda t: 1.0, n_trials=10)
    assert service.states() == ["COMPLETE"] * 3
    assert service.asks == 4 + 3 + 1


def test_ask_errors_other_than_503_and_409_are_raised() -> None:
    study, service, _ = fake_study()
    service.ask_errors = [errors.NotFound("no study 's'", status=404)]
    with pytest.raises(ferry.NotFound):
        study.optimize(lambda t: 1.0, n_trials=3)
    service.ask_errors = [errors.Unavailable("cannot reach the server")]  # no HTTP status: not retried
    with pytest.raises(ferry.Unavailable):
        study.optimize(lambda t: 1.0, n_trials=3)


def test_ask_retry_delays_grow_up_to_a_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tune, "ASK_RETRY_FIRST_DELAY", 0.05)
    delays = tune.ask_retry_delays()
    first = [next(delays) for _ in range(12)]
    assert 0.0375 <= first[0] <= 0.05
    assert all(0 < d <= 60 for d in first) and first[-1] > first[0]


def test_optimize_in_threads_runs_exactly_n_trials() -> None:
    study, service, connection = fake_study()
    service.ask_errors = [errors.Unavailable("busy", status=503)] * 3
    seen = set()

    def objective(trial: tune.Trial) -> float:
        seen.add(threading.current_thread().name)
        return float(trial.number)

    study.optimize(objective, n_trials=20, n_jobs=4)
    assert service.states() == ["COMPLETE"] * 20
    assert connection.workers == 4 and service.closed == 4
    assert all(name.startswith("ferry-tune-") for name in seen)


def test_optimize_in_threads_stops_on_exhaustion_and_raises_a_workers_error() -> None:
    study, service, _ = fake_study(max_trials=7)
    study.optimize(lambda t: 1.0, n_trials=None, n_jobs=3)
    assert service.states() == ["COMPLETE"] * 7

    study, service, _ = fake_study()

    def objective(trial: tune.Trial) -> float:
        if trial.number == 4:
            raise RuntimeError("worker failed")
        return 1.0

    with pytest.raises(RuntimeError, match="worker failed"):
        study.optimize(objective, n_trials=50, n_jobs=3)
    assert service.states()[4] == "FAILED"
    assert len(service.trials) < 50  # the others stopped after their current trial


@pytest.mark.parametrize("kw, field", [({"n_trials": -1}, "n_trials"), ({"n_jobs": 0}, "n_jobs"),
                                       ({"catch": ["x"]}, "catch"), ({"timeout": -1}, "timeout")])
def test_optimize_arguments(kw: Dict[str, Any], field: str) -> None:
    study, _, _ = fake_study()
    with pytest.raises(ferry.InvalidArgument) as e:
        study.optimize(lambda t: 1.0, **kw)
    assert e.value.field == field


def test_optimize_timeout_zero_runs_nothing() -> None:
    study, service, _ = fake_study()
    study.optimize(lambda t: 1.0, timeout=0)
    assert service.trials == []


def test_server_argument_must_be_a_url_or_client() -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        tune.load_study("s", server=42)  # type: ignore[arg-type]
    assert e.value.field == "server"
    with pytest.raises(ferry.InvalidArgument) as e:
        tune.load_study("s", server="localhost:8080")
    assert e.value.field == "url"


# report_metrics: Katib's Push collector.

def test_report_metrics_outside_a_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tune.METRICS_FILE_VAR, raising=False)
    with pytest.raises(ferry.FailedPrecondition) as e:
        tune.report_metrics({"accuracy": 0.9})
    assert tune.METRICS_FILE_VAR in e.value.message and "trial" in e.value.message


def test_report_metrics_appends_katib_json_lines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    monkeypatch.setenv(tune.METRICS_FILE_VAR, str(path))
    before = datetime.datetime.now(datetime.timezone.utc)
    tune.report_metrics({"accuracy": 0.9, "loss": 1})
    tune.report_metrics({"loss": math.inf, "epoch": np.int64(3), "lr": "1e-3"})
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert {k: v for k, v in first.items() if k != "timestamp"} == {"accuracy": 0.9, "loss": 1}
    assert {k: v for k, v in second.items() if k != "timestamp"} == {"loss": "Infinity", "epoch": 3, "lr": "1e-3"}
    stamp = datetime.datetime.strptime(first["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    assert before - datetime.timedelta(seconds=1) <= stamp <= datetime.datetime.now(datetime.timezone.utc)
    assert first["timestamp"] <= second["timestamp"]


@pytest.mark.parametrize("metrics, field", [
    ({}, "metrics"), ({"timestamp": 1.0}, "metrics"), ({"": 1.0}, "metrics"),
    ({"acc": "high"}, "metrics.acc"), ({"acc": None}, "metrics.acc"), ({"acc": True}, "metrics.acc"),
])
def test_report_metrics_refuses_what_katib_cannot_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        metrics: Dict[Any, Any], field: str) -> None:
    path = tmp_path / "metrics.json"
    monkeypatch.setenv(tune.METRICS_FILE_VAR, str(path))
    with pytest.raises(ferry.InvalidArgument) as e:
        tune.report_metrics(metrics)
    assert e.value.field == field
    assert not path.exists()


def test_tune_is_exported() -> None:
    assert ferry.tune is tune and "tune" in ferry.__all__
    assert issubclass(tune.TrialPruned, Exception) and not issubclass(tune.TrialPruned, ferry.FerryError)
