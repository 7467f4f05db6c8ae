"""ferry.tune against the real `ferry server`: optimizing, threads, pruning, categorical choices, restarts
and errors, through the SDK only (the REST shapes themselves are tested in test_ask_tell_rest.py).
"""
from __future__ import annotations

import math
import signal
import threading
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
import requests

import ferry
from ferry_testing import FerryServer, ServerFactory
from ferry import tune
from ferry.tune import CategoricalDistribution, DiscreteDistribution, FloatDistribution, IntDistribution


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerryServer]:
    srv = FerryServer(tmp_path_factory.mktemp("ferry-tune")).start()
    yield srv
    srv.stop(signal.SIGKILL)


@pytest.fixture
def client(server: FerryServer) -> Iterator[ferry.Client]:
    with ferry.Client(server.url) as c:
        yield c


@pytest.fixture
def name() -> str:
    return "study-" + uuid.uuid4().hex[:10]


def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


BRANIN_MIN = 0.397887


# Optimizing.

def test_tpe_minimizes_a_quadratic(client: ferry.Client, name: str) -> None:
    study = tune.create_study(name, {"x": FloatDistribution(-10, 10), "y": FloatDistribution(-10, 10)},
                              seed=1, server=client)
    study.optimize(lambda t: (t.params["x"] - 2) ** 2 + (t.params["y"] + 1) ** 2, n_trials=100)
    # Seeds 1-10 all end below 0.15.
    assert study.best_value < 0.25
    assert abs(study.best_params["x"] - 2) < 0.5 and abs(study.best_params["y"] + 1) < 0.5
    trials = study.trials
    assert [t.number for t in trials] == list(range(100))
    assert all(t.state == "COMPLETE" for t in trials)
    assert min(t.value for t in trials if t.value is not None) == study.best_value


def test_tpe_maximizes_negative_branin(client: ferry.Client, name: str) -> None:
    study = tune.create_study(name, {"x1": FloatDistribution(-5, 10), "x2": FloatDistribution(0, 15)},
                              direction="maximize", sampler="tpe", sampler_settings={"n_startup_trials": 10},
                              seed=3, server=client)
    assert (study.direction, study.sampler, study.sampler_settings) == ("maximize", "tpe",
                                                                        {"n_startup_trials": "10"})
    study.optimize(lambda t: -branin(t.params["x1"], t.params["x2"]), n_trials=100)
    assert -study.best_value < BRANIN_MIN + 0.25  # seeds 1-10 all end within 0.22
    assert study.best_trial.value == study.best_value


def test_optimize_in_four_threads(server: FerryServer, name: str) -> None:
    study = tune.create_study(name, {"x": FloatDistribution(-5, 5), "n": IntDistribution(1, 64, log=True)},
                              server=server.url)
    threads = set()
    lock = threading.Lock()

    def objective(trial: tune.Trial) -> float:
        with lock:
            threads.add(threading.get_ident())
        trial.report(trial.params["x"] ** 2 + 1, 0)
        assert isinstance(trial.params["n"], int) and 1 <= trial.params["n"] <= 64
        return float(trial.params["x"] ** 2 + math.log(trial.params["n"]))

    study.optimize(objective, n_trials=40, n_jobs=4)
    trials = study.trials
    assert sorted(t.number for t in trials) == list(range(40))
    assert all(t.state == "COMPLETE" and 0 in t.intermediate_values for t in trials)
    assert len(threads) == 4
    info = requests.get(f"{server.url}/api/v1/tuning/studies/{name}", timeout=30).json()
    assert info["counts"] == {"running": 0, "complete": 40, "pruned": 0, "failed": 0}


def test_exhausted_grid_ends_optimize_cleanly(client: ferry.Client, name: str) -> None:
    study = tune.create_study(name, {"n": IntDistribution(0, 2), "opt": CategoricalDistribution(["a", "b"])},
                              sampler="grid", server=client)
    study.optimize(lambda t: float(t.params["n"]), n_trials=50, n_jobs=3)
    trials = study.trials
    assert len(trials) == 6 and all(t.state == "COMPLETE" for t in trials)
    assert sorted((t.params["n"], t.params["opt"]) for t in trials) == [
        (n, o) for n in range(3) for o in ("a", "b")]
    with pytest.raises(ferry.FailedPrecondition) as e:
        study.ask()
    assert e.value.status == 409


def test_hyperband_waits_are_retried(client: ferry.Client, name: str) -> None:
    # eta 3, r_l 9: brackets of 9+3+1, 5+2 and 3 trials; a rung waits (503) for the one before it.
    study = tune.create_study(name, {"epochs": IntDistribution(1, 9), "x": FloatDistribution(0, 1)},
                              sampler="hyperband", sampler_settings={"resource_name": "epochs", "eta": 3, "r_l": 9},
                              seed=5, server=client)
    study.optimize(lambda t: t.params["x"] / t.params["epochs"], n_jobs=4)
    trials = study.trials
    assert len(trials) == 23 and all(t.state == "COMPLETE" for t in trials)
    epochs = sorted(t.params["epochs"] for t in trials)
    assert epochs == sorted([1] * 9 + [3] * 3 + [9] + [3] * 5 + [9] * 2 + [9] * 3)


# Pruning.

def test_medianstop_prunes_through_report_and_should_prune(client: ferry.Client, name: str) -> None:
    study = tune.create_study(name, {"x": FloatDistribution(0, 1)}, sampler="random", pruner="medianstop",
                              pruner_settings={"min_trials_required": 3, "start_step": 2}, seed=11, server=client)
    assert study.pruner == "medianstop"

    def objective(trial: tune.Trial) -> float:
        for step in range(8):
            trial.report(trial.params["x"] + 0.1 / (step + 1), step)
            if trial.should_prune():
                raise tune.TrialPruned()
        return float(trial.params["x"])

    study.optimize(objective, n_trials=25)
    trials = study.trials
    pruned = [t for t in trials if t.state == "PRUNED"]
    complete = [t for t in trials if t.state == "COMPLETE"]
    assert len(pruned) >= 3 and len(complete) >= 3
    assert all(t.state == "COMPLETE" for t in trials[:3])  # min_trials_required
    # Curves only fall, so a trial is pruned at its start_step-th report or never.
    assert all(len(t.intermediate_values) == 2 for t in pruned)
    assert all(len(t.intermediate_values) == 8 for t in complete)
    # A pruned trial keeps its last intermediate value, as Optuna records it.
    assert all(t.value == t.intermediate_values[max(t.intermediate_values)] for t in pruned)
    best_pruned = min(t.params["x"] for t in pruned)
    assert study.best_value < best_pruned


def test_failed_and_caught_trials(client: ferry.Client, name: str) -> None:
    study = tune.create_study(name, {"x": FloatDistribution(0, 1)}, sampler="random", server=client)

    def objective(trial: tune.Trial) -> float:
        if trial.number == 1:
            raise ArithmeticError("caught")
        if trial.number == 2:
            return math.nan
        if trial.number == 4:
            raise LookupError("not caught")
        return 1.0

    with pytest.raises(LookupError):
        study.optimize(objective, n_trials=10, catch=(ArithmeticError,))
    assert [t.state for t in study.trials] == ["COMPLETE", "FAILED", "FAILED", "COMPLETE", "FAILED"]


# Categorical choices that are not strings.

def test_categorical_choices_keep_their_objects(server: FerryServer, name: str) -> None:
    choices = [1, 2.5, True, None, "adam", "1.0"]
    study = tune.create_study(name, {"c": CategoricalDistribution(choices), "d": DiscreteDistribution([0.1, 10])},
                              sampler="random", seed=2, server=server.url)
    rank = {repr(c): i for i, c in enumerate(choices)}  # not choices.index: True == 1
    study.optimize(lambda t: rank[repr(t.params["c"])] + t.params["d"], n_trials=40)
    seen = {(type(t.params["c"]), t.params["c"]) for t in study.trials}
    assert seen <= {(type(c), c) for c in choices} and len(seen) >= 4
    assert all(t.params["d"] in (0.1, 10) for t in study.trials)
    assert study.best_params == {"c": 1, "d": 0.1} and type(study.best_params["c"]) is int

    fixed = study.ask({"c": True, "d": 10})
    assert fixed.params == {"c": True, "d": 10.0}
    raw = requests.get(f"{server.url}/api/v1/tuning/studies/{name}/trials/{fixed.number}", timeout=30).json()
    assert raw["params"]["c"] == "true"
    done = study.tell(fixed, 0.0)
    assert done.params["c"] is True and done.value == 0.0

    # A loaded study knows the choices only as the server's strings ...
    loaded = tune.load_study(name, server=server.url)
    assert loaded.distributions["c"] == CategoricalDistribution(["1", "2.5", "true", "null", "adam", "1.0"])
    assert loaded.trial(fixed.number).params["c"] == "true"
    # ... and create_study(load_if_exists=True) with the originals maps them back.
    again = tune.create_study(name, {"c": CategoricalDistribution(choices), "d": DiscreteDistribution([0.1, 10])},
                              sampler="random", seed=2, load_if_exists=True, server=server.url)
    assert again.study_id == study.study_id
    assert again.trial(fixed.number).params["c"] is True


# Durability.

def test_load_study_after_a_restart_continues_numbering(server_factory: ServerFactory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = server_factory(data)
    study = tune.create_study("restart", {"x": FloatDistribution(-5, 5), "c": CategoricalDistribution([1, "b"])},
                              seed=9, server=first.url)
    study.optimize(lambda t: t.params["x"] ** 2, n_trials=5)
    running = study.ask()
    running.report(3.0, 0)
    best_before = study.best_trial
    study.close()
    assert first.stop() == 0

    second = server_factory(data)
    loaded = tune.load_study("restart", server=second.url)
    assert (loaded.sampler, loaded.seed, loaded.direction) == ("tpe", 9, "minimize")
    trials = loaded.trials
    assert [t.state for t in trials] == ["COMPLETE"] * 5 + ["RUNNING"]
    assert trials[5].intermediate_values == {0: 3.0}
    assert loaded.best_trial.number == best_before.number and loaded.best_value == best_before.value
    assert loaded.ask().number == 6
    assert loaded.tell(running.number, 1.0).state == "COMPLETE"
    loaded.optimize(lambda t: t.params["x"] ** 2, n_trials=3)
    assert [t.number for t in loaded.trials] == list(range(10))


# Errors name the field.

@pytest.mark.parametrize("distributions, field", [
    ({"x": FloatDistribution(1, 0)}, "distributions[0]"),
    ({"x": FloatDistribution(0, 1), "n": IntDistribution(0, 10, log=True)}, "distributions[1]"),
    ({"x": FloatDistribution(0, 1), "c": CategoricalDistribution([])}, "distributions[1]"),
    ({"x": FloatDistribution(0, 1), "d": DiscreteDistribution([1, 1])}, "distributions[1]"),
])
def test_bad_spaces_name_the_field(client: ferry.Client, name: str, distributions: Dict[str, Any],
                                   field: str) -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        tune.create_study(name, distributions, server=client)
    assert e.value.status == 400 and e.value.field is not None and e.value.field.startswith(field)


@pytest.mark.parametrize("kw, field", [
    ({"direction": "sideways"}, "direction"),
    ({"sampler": "enas"}, "sampler"),
    ({"sampler_settings": {"n_startup_trialz": 3}}, "n_startup_trialz"),
    ({"pruner": "medianstop", "pruner_settings": {"start_step": "soon"}}, "start_step"),
    ({"pruner": "never"}, "pruner"),
])
def test_bad_study_settings_name_the_field(client: ferry.Client, name: str, kw: Dict[str, Any],
                                           field: str) -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        tune.create_study(name, {"x": FloatDistribution(0, 1)}, server=client, **kw)
    assert e.value.field is not None and field in e.value.field


def test_study_and_trial_errors(client: ferry.Client, name: str) -> None:
    with pytest.raises(ferry.NotFound):
        tune.load_study(name, server=client)
    with pytest.raises(ferry.InvalidArgument) as e:
        tune.create_study("Bad name!", {"x": FloatDistribution(0, 1)}, server=client)
    assert e.value.field == "name"

    study = tune.create_study(name, {"x": FloatDistribution(0, 1)}, server=client)
    with pytest.raises(ferry.AlreadyExists):
        tune.create_study(name, {"x": FloatDistribution(0, 1)}, server=client)
    with pytest.raises(ferry.AlreadyExists):
        tune.create_study(name, {"x": FloatDistribution(0, 2)}, load_if_exists=True, server=client)
    assert tune.create_study(name, {"x": FloatDistribution(0, 1)}, load_if_exists=True,
                             server=client).study_id == study.study_id

    with pytest.raises(ferry.NotFound):
        study.best_trial
    with pytest.raises(ferry.InvalidArgument) as e:
        study.ask({"y": 0.5})
    assert e.value.field == "fixed_params.y"
    with pytest.raises(ferry.InvalidArgument) as e:
        study.ask({"x": 7.0})
    assert e.value.field == "fixed_params.x"

    trial = study.ask()
    with pytest.raises(ferry.InvalidArgument) as e:
        trial.report(1.0, -1)
    assert e.value.field == "step"
    with pytest.raises(ferry.InvalidArgument) as e:
        study.tell(trial)  # COMPLETE needs a value
    assert e.value.field == "value"
    with pytest.raises(ferry.InvalidArgument) as e:
        study.tell(trial, math.inf)
    assert e.value.field == "value"
    study.tell(trial, 0.5)
    with pytest.raises(ferry.FailedPrecondition):
        study.tell(trial, 0.25)
    with pytest.raises(ferry.NotFound):
        study.tell(99, 0.5)
    with pytest.raises(ferry.NotFound):
        study.trial(99)


def test_list_and_delete(client: ferry.Client, name: str) -> None:
    tune.create_study(name, {"x": FloatDistribution(0, 1)}, server=client)
    assert name in tune.get_all_study_names(server=client)
    tune.delete_study(name, server=client)
    assert name not in tune.get_all_study_names(server=client)
    with pytest.raises(ferry.NotFound):
        tune.load_study(name, server=client)
    with pytest.raises(ferry.NotFound):
        tune.delete_study(name, server=client)


def test_server_defaults_to_the_environment(server: FerryServer, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERRY_SERVER", server.url)
    with tune.create_study(name, {"x": FloatDistribution(0, 1)}) as study:
        study.tell(study.ask(), 0.5)
    assert tune.load_study(name).best_value == 0.5
