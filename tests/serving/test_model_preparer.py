"""The ONNX converter (python/ferry/serving/convert.py) on models the real `mlflow` client logs to `ferry server`.

The model preparer (C++) embeds convert.py and runs it on a deployed model's MLflow folder; here the script
runs the same way, as a standalone program, on models logged through MLFLOW_TRACKING_URI and fetched back
by their registry / logged-model URIs: a scikit-learn logistic regression (registered, with an alias), an
XGBoost classifier and a LightGBM regressor convert and agree with the originals — checked again here with
onnxruntime, and end to end by `ferry deploy` of the alias answered through the gateway — while models the native
runtime cannot take (a string input column, no input example nor signature) get the Python verdict and why.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest
import requests

from ferry_testing import ROOT, FerryServer, ferry_bin, hermetic_env

import lightgbm
import mlflow
import onnxruntime as ort
import pandas as pd
import xgboost
from mlflow import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

CONVERT = ROOT / "python" / "ferry" / "serving" / "convert.py"
# Given, so that mlflow does not spend seconds per model inferring them in a subprocess.
PIP = ["scikit-learn", "xgboost", "lightgbm"]


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory):
    # The controller runs the embedded converter with --task-python: this venv's, which has mlflow and skl2onnx.
    srv = FerryServer(tmp_path_factory.mktemp("preparer") / "data", ("--task-python", sys.executable)).start()
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(srv.url)
    mlflow.set_registry_uri(srv.url)
    mlflow.set_experiment("converter")
    yield srv
    mlflow.set_tracking_uri(previous)
    srv.stop()
    print("--- stderr of the server (last 50 lines) ---\n" + "".join(srv.stderr_lines[-50:]))


def convert_all(*jobs: Tuple[str, str, Path]) -> List[Tuple[subprocess.CompletedProcess, Dict[str, Any]]]:
    """Runs convert.py on each (model_dir, flavor, out_dir) side by side (each pays mlflow's import time)."""
    procs = []
    for model_dir, flavor, out in jobs:
        out.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, str(CONVERT), "--model-dir", model_dir, "--flavor", flavor,
                "--output", str(out / "model.onnx"), "--verdict", str(out / "verdict.json")]
        procs.append((args, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    results = []
    for (args, proc), (_, _, out) in zip(procs, jobs):
        stdout, stderr = proc.communicate(timeout=300)
        verdict_path = out / "verdict.json"
        verdict = json.loads(verdict_path.read_text()) if verdict_path.exists() else {}
        results.append((subprocess.CompletedProcess(args, proc.returncode, stdout, stderr), verdict))
    return results


def convert(model_dir: str, flavor: str, out: Path) -> Tuple[subprocess.CompletedProcess, Dict[str, Any]]:
    return convert_all((model_dir, flavor, out))[0]


def onnx_outputs(path: Path, rows: np.ndarray) -> list:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: rows.astype(np.float32)})


def test_registered_sklearn_model_converts_and_is_served_natively(tracking: FerryServer, tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", input_example=X[:5], registered_model_name="iris",
                                 pip_requirements=PIP)
    MlflowClient().set_registered_model_alias("iris", "champion", "1")
    local = mlflow.artifacts.download_artifacts("models:/iris@champion", dst_path=str(tmp_path / "dl"))

    run, verdict = convert(local, "sklearn", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert verdict["runtime"] == "onnx" and verdict["reason"] == "", verdict
    assert verdict["rows"] == 5 and verdict["max_abs_diff"] <= 1e-5, verdict
    label, proba = onnx_outputs(tmp_path / "out" / "model.onnx", X)
    assert (label == model.predict(X)).all()
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-5, atol=1e-5)

    # End to end: `ferry deploy` of the alias; the server's preparer runs its embedded copy of convert.py,
    # serves the result natively, and the gateway answers as scikit-learn does.
    out = subprocess.run([ferry_bin(), "--server", tracking.url, "deploy", "models:/iris@champion", "--name", "iris"],
                         capture_output=True, text=True, env=hermetic_env(), timeout=60)
    assert out.returncode == 0, out
    url = f"{tracking.url}/api/v1/namespaces/default/inferenceservices/iris"
    deadline = time.monotonic() + 120
    while True:
        status = requests.get(url, timeout=30).json().get("status", {})
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", [])):
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    revision = status["ferry"]["revisions"][-1]
    assert revision["runtime"] == "onnx" and revision["resolvedUri"] == "models:/iris/1", revision
    rows = X[:7].astype(np.float32)
    body = {"inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32",
                        "data": rows.flatten().tolist()}]}
    resp = requests.post(f"{tracking.url}/v2/models/iris/infer", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    outputs = {o["name"]: o for o in resp.json()["outputs"]}
    assert outputs["label"]["data"] == model.predict(X[:7]).tolist()
    np.testing.assert_allclose(np.array(outputs["probabilities"]["data"]).reshape(7, 3),
                               model.predict_proba(X[:7]), rtol=1e-5, atol=1e-5)

    # Replicas outlive a server restart by design; deleting the endpoint is what stops them.
    replica = "http://" + revision["replicas"][0]["address"]
    assert requests.delete(url, timeout=30).status_code in (200, 202)
    while True:
        try:
            requests.get(f"{replica}/v2/health/live", timeout=2)
        except requests.ConnectionError:
            break
        assert time.monotonic() < deadline + 60, "the replica outlived its endpoint"
        time.sleep(0.5)


def test_xgboost_and_lightgbm_models_convert(tracking: FerryServer, tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    classifier = xgboost.XGBClassifier(n_estimators=30, max_depth=3).fit(X, y)
    Xd, yd = load_diabetes(return_X_y=True)
    regressor = lightgbm.LGBMRegressor(n_estimators=40, verbose=-1).fit(Xd, yd)
    with mlflow.start_run():
        xgb_info = mlflow.xgboost.log_model(classifier, name="xgb", input_example=X[:10], pip_requirements=PIP)
        lgb_info = mlflow.lightgbm.log_model(regressor, name="lgb", input_example=Xd[:10], pip_requirements=PIP)

    xgb_dir = mlflow.artifacts.download_artifacts(xgb_info.model_uri, dst_path=str(tmp_path / "xgb"))
    lgb_dir = mlflow.artifacts.download_artifacts(lgb_info.model_uri, dst_path=str(tmp_path / "lgb"))
    (run, verdict), (lgb_run, lgb_verdict) = convert_all((xgb_dir, "xgboost", tmp_path / "xgb-out"),
                                                         (lgb_dir, "lightgbm", tmp_path / "lgb-out"))
    assert run.returncode == 0 and verdict["runtime"] == "onnx", (verdict, run.stderr)
    label, proba = onnx_outputs(tmp_path / "xgb-out" / "model.onnx", X)
    assert (label == classifier.predict(X)).all()
    np.testing.assert_allclose(proba, classifier.predict_proba(X), rtol=1e-5, atol=1e-5)
    assert lgb_run.returncode == 0 and lgb_verdict["runtime"] == "onnx", (lgb_verdict, lgb_run.stderr)
    (value,) = onnx_outputs(tmp_path / "lgb-out" / "model.onnx", Xd)
    np.testing.assert_allclose(value.reshape(-1), regressor.predict(Xd), rtol=1e-4, atol=1e-4)


def test_models_the_native_runtime_cannot_take_get_the_python_verdict(tracking: FerryServer,
                                                                        tmp_path: Path) -> None:
    frame = pd.DataFrame({"color": ["red", "green", "blue", "red"] * 5, "size": np.arange(20.0)})
    target = [0, 1, 0, 1] * 5
    pipeline = Pipeline([("encode", ColumnTransformer([("onehot", OneHotEncoder(), ["color"])],
                                                      remainder="passthrough")),
                         ("model", LogisticRegression())]).fit(frame, target)
    X, y = load_iris(return_X_y=True)
    bare = LogisticRegression(max_iter=500).fit(X, y)
    with mlflow.start_run():
        strings = mlflow.sklearn.log_model(pipeline, name="strings", input_example=frame.head(3),
                                           serialization_format="cloudpickle", pip_requirements=PIP)
        no_example = mlflow.sklearn.log_model(bare, name="bare", pip_requirements=PIP)
    strings_dir = mlflow.artifacts.download_artifacts(strings.model_uri, dst_path=str(tmp_path / "s"))
    bare_dir = mlflow.artifacts.download_artifacts(no_example.model_uri, dst_path=str(tmp_path / "b"))
    (run, verdict), (bare_run, bare_verdict) = convert_all((strings_dir, "sklearn", tmp_path / "s-out"),
                                                           (bare_dir, "sklearn", tmp_path / "b-out"))
    assert run.returncode == 0, run.stderr
    assert verdict["runtime"] == "python" and "color" in verdict["reason"], verdict
    assert not (tmp_path / "s-out" / "model.onnx").exists()
    assert bare_run.returncode == 0, bare_run.stderr
    assert bare_verdict["runtime"] == "python" and "input example" in bare_verdict["reason"], bare_verdict


def test_bad_invocations_exit_non_zero(tmp_path: Path) -> None:
    run, verdict = convert(str(tmp_path / "nothing"), "sklearn", tmp_path / "out")
    assert run.returncode == 1 and "not an MLflow model folder" in run.stderr and verdict == {}, run
    run = subprocess.run([sys.executable, str(CONVERT), "--model-dir", str(tmp_path), "--flavor", "pytorch",
                          "--output", "x", "--verdict", "y"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--flavor" in run.stderr, run
