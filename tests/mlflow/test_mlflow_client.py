"""The unmodified `mlflow` client against Ferry's tracking server: experiments, runs, params,
metrics, artifacts, the scikit-learn flavour end to end (log, register, alias, load, predict),
logged models, search with filters, order_by and paging over 2,500 runs, delete/restore, and
durability across a kill -9.

Every expectation is MLflow's own behaviour: FERRY_MLFLOW_TESTS_TARGET=mlflow runs the same tests
(all but the kill -9 one) against a real `mlflow server`.
"""
from __future__ import annotations

import math
import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

from mlflow_testing import client, tracking_server  # noqa: F401  (fixtures)

NOW = 1_700_000_000_000
MAX_DOUBLE = 1.7976931348623157e308


def error_code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.error_code


# --- the README's story: train, log, register, alias, load, predict ------------------------------------

def test_sklearn_train_log_register_load_predict(client: MlflowClient, tmp_path: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    experiment = mlflow.set_experiment("iris")
    assert client.get_experiment_by_name("iris").experiment_id == experiment.experiment_id

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    notes = tmp_path / "notes.txt"
    notes.write_text("trained on iris\n")
    with mlflow.start_run(run_name="iris-train") as run:
        mlflow.log_param("C", 1.0)
        mlflow.log_params({"max_iter": 300, "solver": "lbfgs"})
        for step, loss in enumerate([0.9, 0.5, 0.3]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metric("accuracy", float(model.score(X, y)))
        mlflow.set_tag("team", "vision")
        mlflow.log_artifact(str(notes))
        info = mlflow.sklearn.log_model(model, name="model", input_example=X.head(3))
    run_id = run.info.run_id

    got = client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "iris-train"
    assert got.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert got.data.params == {"C": "1.0", "max_iter": "300", "solver": "lbfgs"}
    assert got.data.metrics["loss"] == 0.3
    assert got.data.metrics["accuracy"] == pytest.approx(model.score(X, y))
    assert got.data.tags["team"] == "vision"
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "loss")] == [(0, 0.9), (1, 0.5), (2, 0.3)]
    assert "notes.txt" in [f.path for f in client.list_artifacts(run_id)]

    name = "iris-classifier"
    version = mlflow.register_model(info.model_uri, name)
    assert version.version == "1"
    client.set_registered_model_alias(name, "champion", version.version)
    assert client.get_model_version_by_alias(name, "champion").version == "1"

    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(np.asarray(loaded.predict(X)), model.predict(X))
    reloaded = mlflow.sklearn.load_model(f"models:/{name}/1")
    np.testing.assert_allclose(reloaded.predict_proba(X), model.predict_proba(X))


def test_logged_models(client: MlflowClient) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    experiment_id = client.create_experiment("logged-models")
    X, y = load_iris(return_X_y=True)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        weak = LogisticRegression(C=0.01, max_iter=300).fit(X, y)
        tree = mlflow.sklearn.log_model(weak, name="tree", params={"depth": "2"}, tags={"kind": "tree"})
        deep = mlflow.sklearn.log_model(LogisticRegression(C=10, max_iter=300).fit(X, y), name="deep")

    got = mlflow.get_logged_model(tree.model_id)
    assert got.model_id == tree.model_id and got.name == "tree"
    assert got.experiment_id == experiment_id and got.source_run_id == run.info.run_id
    assert str(got.status) == "READY"
    assert got.params == {"depth": "2"}
    assert got.tags["kind"] == "tree"

    listed = mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list")
    assert {m.model_id for m in listed} == {tree.model_id, deep.model_id}
    only = mlflow.search_logged_models(experiment_ids=[experiment_id], filter_string="name = 'deep'",
                                       output_format="list")
    assert [m.model_id for m in only] == [deep.model_id]

    client.set_logged_model_tags(deep.model_id, {"stage": "candidate"})
    assert mlflow.get_logged_model(deep.model_id).tags["stage"] == "candidate"
    client.delete_logged_model_tag(deep.model_id, "stage")
    assert "stage" not in mlflow.get_logged_model(deep.model_id).tags

    loaded = mlflow.pyfunc.load_model(tree.model_uri)
    assert list(loaded.predict(X)) == list(weak.predict(X))

    client.delete_logged_model(deep.model_id)
    remaining = mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list")
    assert [m.model_id for m in remaining] == [tree.model_id]


# --- params, metrics, tags --------------------------------------------------------------------------

def test_params_tags_and_their_errors(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("params")
    run = client.create_run(experiment_id, run_name="p")
    run_id = run.info.run_id
    client.log_param(run_id, "lr", "0.1")
    client.log_param(run_id, "lr", "0.1")  # the same value again is fine
    with pytest.raises(MlflowException) as e:
        client.log_param(run_id, "lr", "0.2")
    assert error_code(e) == "INVALID_PARAMETER_VALUE"
    client.set_tag(run_id, "owner", "ana")
    client.set_tag(run_id, "owner", "bo")  # tags may change
    client.set_tag(run_id, "tmp", "x")
    client.delete_tag(run_id, "tmp")
    data = client.get_run(run_id).data
    assert data.params == {"lr": "0.1"}
    assert data.tags["owner"] == "bo" and "tmp" not in data.tags
    assert data.tags["mlflow.runName"] == "p"
    with pytest.raises(MlflowException) as e:
        client.get_run("0123456789abcdef0123456789abcdef")
    assert error_code(e) == "RESOURCE_DOES_NOT_EXIST"


def test_metric_history_latest_and_non_finite_values(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("metrics")
    run_id = client.create_run(experiment_id).info.run_id
    values = [0.5, float("nan"), float("inf"), float("-inf"), -0.0, 1e308, 5e-324]
    for step, value in enumerate(values):
        client.log_metric(run_id, "odd", value, timestamp=NOW + step, step=step)
    history = client.get_metric_history(run_id, "odd")
    assert [m.step for m in history] == list(range(len(values)))
    assert [m.timestamp for m in history] == [NOW + s for s in range(len(values))]
    # MLflow stores the infinities as the largest finite doubles.
    stored = [math.copysign(MAX_DOUBLE, v) if math.isinf(v) else v for v in values]
    for got, want in zip([m.value for m in history], stored):
        assert (math.isnan(got) and math.isnan(want)) or got == want, (got, want)

    # "Latest" is the maximum by (step, timestamp, value), not the last logged.
    client.log_batch(run_id, metrics=[
        Metric("by_step", 1.0, NOW, 5), Metric("by_step", 2.0, NOW + 100, 3),
        Metric("by_time", 7.0, NOW + 100, 1), Metric("by_time", 9.0, NOW + 50, 1),
        Metric("by_value", 3.0, NOW, 1), Metric("by_value", 4.0, NOW, 1),
    ])
    metrics = client.get_run(run_id).data.metrics
    assert metrics["by_step"] == 1.0
    assert metrics["by_time"] == 7.0
    assert metrics["by_value"] == 4.0
    assert metrics["odd"] == 5e-324

    # A long history, logged in batches, comes back whole and in order.
    points = [Metric("curve", math.sin(i / 100), NOW + i, i) for i in range(5000)]
    for i in range(0, len(points), 1000):
        client.log_batch(run_id, metrics=points[i:i + 1000])
    curve = client.get_metric_history(run_id, "curve")
    assert [(m.step, m.value, m.timestamp) for m in curve] == [(p.step, p.value, p.timestamp) for p in points]
    assert client.get_metric_history(run_id, "never-logged") == []


def test_log_batch_limits_are_enforced_by_the_server(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("batch-limits")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(run_id, params=[Param(f"p{i}", str(i)) for i in range(100)],
                     tags=[RunTag(f"t{i}", str(i)) for i in range(100)])
    data = client.get_run(run_id).data
    assert len(data.params) == 100
    assert data.params["p42"] == "42" and data.tags["t99"] == "99"


# --- artifacts ----------------------------------------------------------------------------------------

def test_artifacts_upload_list_download(client: MlflowClient, tmp_path: Path) -> None:
    experiment_id = client.create_experiment("artifacts")
    run_id = client.create_run(experiment_id).info.run_id
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    files = {
        "a.txt": b"alpha\n",
        "sub/b.bin": bytes(range(256)) * 10,
        "sub/deeper/c.json": b'{"c": 1}',
        "sub/deeper/big.bin": random.Random(4).randbytes(3_000_000),
    }
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    single = tmp_path / "single.csv"
    single.write_text("x,y\n1,2\n")

    client.log_artifacts(run_id, str(src), artifact_path="bundle")
    client.log_artifact(run_id, str(single))
    client.log_artifact(run_id, str(single), artifact_path="copies")

    top = {f.path: f.is_dir for f in client.list_artifacts(run_id)}
    assert top == {"bundle": True, "copies": True, "single.csv": False}
    sub = {f.path: (f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "bundle/sub")}
    assert sub == {"bundle/sub/b.bin": (False, 2560), "bundle/sub/deeper": (True, None)}

    out = Path(client.download_artifacts(run_id, "bundle", str(tmp_path / "out")))
    for rel, data in files.items():
        assert (out / rel).read_bytes() == data, rel
    one = Path(client.download_artifacts(run_id, "copies/single.csv", str(tmp_path / "one")))
    assert one.read_text() == "x,y\n1,2\n"
    with pytest.raises(Exception):
        client.download_artifacts(run_id, "no/such/file.txt", str(tmp_path / "missing"))


# --- search_runs over 2,500 runs --------------------------------------------------------------------------

RUNS = 2500


def populate(client: MlflowClient, experiment_id: str) -> List[Dict]:
    """2,500 runs with a deterministic score (with ties), a group param, a parity tag and start times."""
    def one(i: int) -> Dict:
        run = client.create_run(experiment_id, start_time=NOW + i * 1000, run_name=f"run-{i:04d}")
        score = (i * 37 % 1000) / 1000  # every score appears 2 or 3 times
        metrics = [Metric("score", score, NOW, 0)]
        if i % 5:
            metrics.append(Metric("loss", 1 - score, NOW, 0))
        client.log_batch(run.info.run_id, metrics=metrics,
                         params=[Param("group", str(i % 7))],
                         tags=[RunTag("parity", "even" if i % 2 == 0 else "odd")])
        return {"i": i, "id": run.info.run_id, "start": NOW + i * 1000, "score": score,
                "loss": 1 - score if i % 5 else None, "group": str(i % 7), "name": f"run-{i:04d}",
                "parity": "even" if i % 2 == 0 else "odd"}

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(RUNS)))


@pytest.fixture(scope="module")
def many_runs(tracking_server: str) -> Tuple[str, List[Dict]]:
    c = MlflowClient(tracking_server)
    experiment_id = c.create_experiment("many-runs")
    return experiment_id, populate(c, experiment_id)


def pages(client: MlflowClient, experiment_id: str, page_size: int, **kw) -> List[List[str]]:
    """Every page of a search as lists of run ids, following next_page_token to the end."""
    out: List[List[str]] = []
    token: Optional[str] = None
    while True:
        page = client.search_runs([experiment_id], max_results=page_size, page_token=token, **kw)
        out.append([r.info.run_id for r in page])
        token = page.token
        if not token:
            return out
        assert len(out) < 100, "the search never ends"


def chunks(ids: List[str], size: int) -> List[List[str]]:
    """Pages as MLflow cuts them: a next_page_token only when more results follow, so an exact
    multiple ends with a full page and no empty one."""
    return [ids[i:i + size] for i in range(0, len(ids), size)] or [[]]


def test_search_runs_filter_order_and_pages(client: MlflowClient, many_runs) -> None:
    experiment_id, runs = many_runs
    # Ties on the metric fall back to start_time DESC, then run id.
    chosen = [r for r in runs if r["score"] >= 0.25 and r["group"] == "3"]
    want = [r["id"] for r in sorted(chosen, key=lambda r: (-r["score"], -r["start"], r["id"]))]
    got = pages(client, experiment_id, 100, filter_string="metrics.score >= 0.25 and params.group = '3'",
                order_by=["metrics.score DESC"])
    assert 200 < len(want) < 400 and len(want) % 100
    assert got == chunks(want, 100)


def test_search_runs_all_pages_exact_multiple(client: MlflowClient, many_runs) -> None:
    experiment_id, runs = many_runs
    want = [r["id"] for r in sorted(runs, key=lambda r: (r["group"], r["start"]))]
    got = pages(client, experiment_id, 500, order_by=["params.group ASC", "attributes.start_time ASC"])
    assert got == chunks(want, 500)
    assert [len(p) for p in got] == [500, 500, 500, 500, 500]


def test_search_runs_default_order_and_missing_metric_last(client: MlflowClient, many_runs) -> None:
    experiment_id, runs = many_runs
    # No order_by: newest first.
    default = pages(client, experiment_id, 1000)
    assert default == chunks([r["id"] for r in sorted(runs, key=lambda r: -r["start"])], 1000)
    # Runs without the metric sort after all runs that have it, in either direction.
    for direction, sign in (("ASC", 1), ("DESC", -1)):
        have = sorted((r for r in runs if r["loss"] is not None), key=lambda r: (sign * r["loss"], -r["start"], r["id"]))
        missing = sorted((r for r in runs if r["loss"] is None), key=lambda r: (-r["start"], r["id"]))
        got = pages(client, experiment_id, 1000, filter_string="tags.parity = 'even'",
                    order_by=[f"metrics.loss {direction}"])
        want = [r["id"] for r in have + missing if r["parity"] == "even"]
        assert sum(got, []) == want, direction


def test_search_runs_attribute_filters(client: MlflowClient, many_runs) -> None:
    experiment_id, runs = many_runs
    got = client.search_runs([experiment_id], filter_string="attributes.run_name LIKE 'run-12%'",
                             order_by=["attributes.run_name ASC"], max_results=1000)
    assert [r.info.run_name for r in got] == [f"run-12{i:02d}" for i in range(100)]
    ids = [runs[7]["id"], runs[2000]["id"]]
    got = client.search_runs([experiment_id], filter_string=f"attributes.run_id IN ('{ids[0]}', '{ids[1]}')")
    assert sorted(r.info.run_id for r in got) == sorted(ids)
    frame = mlflow.search_runs([experiment_id], filter_string="metrics.score > 0.99 and tags.parity != 'odd'",
                               order_by=["metrics.score ASC", "attributes.start_time ASC"])
    want = sorted((r for r in runs if r["score"] > 0.99 and r["parity"] == "even"),
                  key=lambda r: (r["score"], r["start"]))
    assert list(frame["run_id"]) == [r["id"] for r in want]
    assert list(frame["metrics.score"]) == [r["score"] for r in want]


def test_search_runs_bad_input(client: MlflowClient, many_runs) -> None:
    experiment_id, _ = many_runs
    for bad in ("metrics.score >", "nonsense.x = 1", "metrics.score = 'a'", "params.group = 3"):
        with pytest.raises(MlflowException) as e:
            client.search_runs([experiment_id], filter_string=bad)
        assert error_code(e) == "INVALID_PARAMETER_VALUE", bad
    with pytest.raises(MlflowException) as e:
        client.search_runs([experiment_id], max_results=50001)
    assert error_code(e) == "INVALID_PARAMETER_VALUE"


# --- delete and restore ------------------------------------------------------------------------------

def test_delete_and_restore_runs_and_experiments(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("lifecycle", tags={"purpose": "test"})
    keep = client.create_run(experiment_id).info.run_id
    gone = client.create_run(experiment_id).info.run_id

    client.delete_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "deleted"
    active = {r.info.run_id for r in client.search_runs([experiment_id])}
    deleted = {r.info.run_id for r in client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)}
    every = {r.info.run_id for r in client.search_runs([experiment_id], run_view_type=ViewType.ALL)}
    assert (active, deleted, every) == ({keep}, {gone}, {keep, gone})
    with pytest.raises(MlflowException) as e:
        client.log_param(gone, "p", "1")
    assert error_code(e) == "INVALID_PARAMETER_VALUE"
    client.restore_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "active"
    client.log_param(gone, "p", "1")

    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert experiment_id not in {e.experiment_id for e in client.search_experiments()}
    assert experiment_id in {e.experiment_id for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)}
    with pytest.raises(MlflowException) as e:
        client.create_run(experiment_id)
    assert error_code(e) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as e:
        client.create_experiment("lifecycle")  # a deleted experiment still holds its name
    assert error_code(e) == "RESOURCE_ALREADY_EXISTS"
    client.restore_experiment(experiment_id)
    restored = client.get_experiment(experiment_id)
    assert restored.lifecycle_stage == "active" and restored.tags["purpose"] == "test"
    assert {r.info.run_id for r in client.search_runs([experiment_id])} == {keep, gone}


def test_experiments_crud_and_search(client: MlflowClient) -> None:
    default = client.get_experiment("0")
    assert default.name == "Default" and default.lifecycle_stage == "active"
    ids = [client.create_experiment(f"exp-search-{i}", tags={"i": str(i)}) for i in range(5)]
    client.rename_experiment(ids[0], "exp-search-renamed")
    client.set_experiment_tag(ids[1], "note", "hello")
    client.delete_experiment_tag(ids[1], "i")
    assert client.get_experiment(ids[1]).tags == {"note": "hello"}
    found = client.search_experiments(filter_string="name LIKE 'exp-search-%'", order_by=["name ASC"])
    assert [e.name for e in found] == ["exp-search-1", "exp-search-2", "exp-search-3", "exp-search-4",
                                       "exp-search-renamed"]
    first = client.search_experiments(filter_string="name LIKE 'exp-search-%'", order_by=["name DESC"],
                                      max_results=2)
    rest = client.search_experiments(filter_string="name LIKE 'exp-search-%'", order_by=["name DESC"],
                                     max_results=10, page_token=first.token)
    assert [e.name for e in first] + [e.name for e in rest] == [e.name for e in reversed(found)]
    tagged = client.search_experiments(filter_string="tags.i = '3'")
    assert [e.experiment_id for e in tagged] == [ids[3]]
    with pytest.raises(MlflowException) as e:
        client.get_experiment("987654321")
    assert error_code(e) == "RESOURCE_DOES_NOT_EXIST"


# --- durability -------------------------------------------------------------------------------------

def test_everything_acknowledged_survives_kill9(server_factory, tmp_path: Path, monkeypatch) -> None:
    if os.environ.get("FERRY_MLFLOW_TESTS_TARGET") == "mlflow":
        pytest.fail("the kill -9 test is about Ferry's server; run it without FERRY_MLFLOW_TESTS_TARGET")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    data_dir = tmp_path / "data"
    srv = server_factory(data_dir)
    c = MlflowClient(srv.url, srv.url)
    experiment_id = c.create_experiment("durable", tags={"k": "v"})
    run_id = c.create_run(experiment_id, run_name="durable-run").info.run_id
    c.log_param(run_id, "alpha", "0.5")
    c.log_batch(run_id, metrics=[Metric("loss", 1 / (i + 1), NOW + i, i) for i in range(1000)],
                params=[Param("beta", "2")], tags=[RunTag("stage", "train")])
    c.log_metric(run_id, "acc", 0.75, timestamp=NOW, step=3)
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(os.urandom(100_000))
    c.log_artifact(run_id, str(artifact))
    c.set_terminated(run_id, "FINISHED", end_time=NOW + 5000)
    gone = c.create_run(experiment_id).info.run_id
    c.delete_run(gone)
    c.create_registered_model("durable-model", tags={"t": "1"}, description="survives")
    version = c.create_model_version("durable-model", f"runs:/{run_id}/model", run_id=run_id)
    c.set_registered_model_alias("durable-model", "champion", version.version)

    srv.kill9()
    again = server_factory(data_dir)
    c = MlflowClient(again.url, again.url)
    exp = c.get_experiment_by_name("durable")
    assert exp.experiment_id == experiment_id and exp.tags == {"k": "v"}
    run = c.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.end_time == NOW + 5000
    assert run.info.run_name == "durable-run"
    assert run.data.params == {"alpha": "0.5", "beta": "2"}
    assert run.data.metrics == {"loss": 1 / 1000, "acc": 0.75}
    assert run.data.tags["stage"] == "train"
    history = c.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(i, 1 / (i + 1)) for i in range(1000)]
    downloaded = Path(c.download_artifacts(run_id, "weights.bin", str(tmp_path / "dl")))
    assert downloaded.read_bytes() == artifact.read_bytes()
    assert c.get_run(gone).info.lifecycle_stage == "deleted"
    model = c.get_registered_model("durable-model")
    assert model.description == "survives" and model.tags == {"t": "1"}
    assert model.aliases == {"champion": "1"}
    assert c.get_model_version_by_alias("durable-model", "champion").run_id == run_id
    # The restarted server keeps numbering where the old one stopped.
    assert c.create_model_version("durable-model", f"runs:/{run_id}/model", run_id=run_id).version == "2"
    assert int(c.create_experiment("after-restart")) > int(experiment_id)
