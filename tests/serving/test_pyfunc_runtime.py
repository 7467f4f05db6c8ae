"""`ferry serve` hosting MLflow pyfunc models in Python worker processes, driven by the unmodified
tritonclient.http: a scikit-learn model saved by mlflow.sklearn.save_model (signature from its input
example) and custom PythonModels (string columns in and out, a tensor model), compared with the
models' own predict; a worker that crashes on a magic input while 8 threads send normal requests; and
models the runtime must refuse."""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Dict, Iterator, List

import numpy as np
import pandas as pd
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from ferry_testing import ROOT
from serving_testing import FerryServe

PYTHON = str(ROOT / ".venv" / "bin" / "python")
CRASH_MESSAGE = "exited (exit code 7) while running the request; restarted"


def _save_models(root: Path) -> Dict[str, object]:
    """Saves the served models under ROOT; returns the in-process models to compare with."""
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema, TensorSpec
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    x = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    y = (x["a"] + 0.5 * x["b"] - x["d"] > 0).astype(np.int64)
    sk = LogisticRegression().fit(x, y)
    reqs = ["mlflow", "scikit-learn"]  # skips requirement inference, which loads each model again
    mlflow.sklearn.save_model(sk, str(root / "sk"), input_example=x.head(3), pip_requirements=reqs)

    class Labeller(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return [f"{s}:{a * 2:g}" for s, a in zip(model_input["s"], model_input["a"])]

    mlflow.pyfunc.save_model(
        str(root / "labeller"), python_model=Labeller(), pip_requirements=reqs,
        signature=ModelSignature(Schema([ColSpec("string", "s"), ColSpec("double", "a")]),
                                 Schema([ColSpec("string")])))

    class Crashy(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            if (model_input == -1).any():
                print("crashy: magic input, exiting")  # goes to the server's log, not the protocol
                os._exit(7)
            print(f"crashy: {len(model_input)} rows")
            return model_input.sum(axis=1)

    mlflow.pyfunc.save_model(
        str(root / "crashy"), python_model=Crashy(), pip_requirements=reqs,
        signature=ModelSignature(Schema([TensorSpec(np.dtype("float32"), (-1, 2))]),
                                 Schema([TensorSpec(np.dtype("float32"), (-1,))])))
    return {"sk": sk, "x": x}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Dict[str, object]:
    root = tmp_path_factory.mktemp("pyfunc")
    saved = _save_models(root)
    saved["root"] = root
    return saved


@pytest.fixture(scope="module")
def server(models) -> Iterator[FerryServe]:
    root = models["root"]
    srv = FerryServe(None, ("--model", f"sk={root / 'sk'}", "--model", f"labeller={root / 'labeller'}",
                            "--model", f"crashy={root / 'crashy'}", "--python", PYTHON,
                            "--python-workers", "2"))
    srv.start(timeout=120)
    yield srv
    srv.stop()
    print("--- stderr of ferry serve (last 60 lines) ---\n" + "".join(srv.stderr_lines[-60:]))


def client(srv: FerryServe) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(srv.host_port, concurrency=1)


def column_inputs(frame: pd.DataFrame, binary: bool) -> List[httpclient.InferInput]:
    inputs = []
    for name in frame.columns:
        column = frame[name].to_numpy().reshape(-1, 1)
        datatype = "BYTES" if column.dtype == object else "FP64"
        tensor = httpclient.InferInput(name, list(column.shape), datatype)
        tensor.set_data_from_numpy(column, binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_sklearn_model_metadata_follows_its_signature(server: FerryServe):
    meta = client(server).get_model_metadata("sk")
    assert meta["platform"] == "python"
    assert meta["inputs"] == [{"name": n, "datatype": "FP64", "shape": [-1, 1]} for n in "abcd"]
    assert meta["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]


@pytest.mark.parametrize("binary", [True, False])
def test_sklearn_model_answers_as_its_own_predict(server: FerryServe, models, binary: bool):
    x = models["x"].iloc[:50]
    result = client(server).infer("sk", column_inputs(x, binary))
    got = result.as_numpy("predict")
    np.testing.assert_array_equal(got, models["sk"].predict(x))
    assert got.dtype == np.int64 and got.shape == (50,)


def test_custom_model_takes_and_returns_strings(server: FerryServe):
    frame = pd.DataFrame({"s": np.array(["x", "héllo", ""], dtype=object), "a": [1.5, -2.0, 0.0]})
    result = client(server).infer("labeller", column_inputs(frame, True))
    assert result.as_numpy("predict").tolist() == [b"x:3", "héllo:-4".encode(), b":0"]


def test_wrong_inputs_are_refused_with_a_message(server: FerryServe, models):
    c = client(server)
    flat = httpclient.InferInput("a", [3], "FP64")  # columns are [-1, 1]
    flat.set_data_from_numpy(np.ones(3))
    with pytest.raises(InferenceServerException, match=r"input 'a'|\"a\"") as info:
        c.infer("sk", [flat])
    assert info.value.status() == "400"
    missing = column_inputs(models["x"].iloc[:2], True)[:3]
    with pytest.raises(InferenceServerException, match="d") as info:
        c.infer("sk", missing)
    assert info.value.status() == "400"


def crashy_inputs(rows: np.ndarray) -> List[httpclient.InferInput]:
    tensor = httpclient.InferInput("input-0", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows.astype(np.float32))
    return [tensor]


def test_a_worker_crash_under_load_fails_only_its_request(server: FerryServe):
    failures: List[str] = []
    successes = [0]
    lock = threading.Lock()
    start = threading.Barrier(9)

    def normal(seed: int) -> None:
        c = client(server)
        start.wait()
        for i in range(25):
            rows = np.array([[seed, i], [1, 2]], dtype=np.float32)
            try:
                got = c.infer("crashy", crashy_inputs(rows)).as_numpy("predict")
                assert got.tolist() == [seed + i, 3.0]
                with lock:
                    successes[0] += 1
            except InferenceServerException as e:
                with lock:
                    failures.append(f"{e.status()} {e.message()}")

    threads = [threading.Thread(target=normal, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    start.wait()
    with pytest.raises(InferenceServerException) as crash:
        client(server).infer("crashy", crashy_inputs(np.array([[-1, 0]], dtype=np.float32)))
    for t in threads:
        t.join()

    assert crash.value.status() == "503"
    assert "python worker" in crash.value.message() and CRASH_MESSAGE in crash.value.message()
    # Only the magic request ran on the worker that died; any other failure would have to be that crash.
    assert all(f.startswith("503 ") and CRASH_MESSAGE in f for f in failures), failures
    assert successes[0] + len(failures) == 8 * 25 and successes[0] >= 8 * 25 - 1
    # Both workers answer again (the restarted one loads the model on its first request).
    c = client(server)
    for i in range(6):
        assert c.infer("crashy", crashy_inputs(np.array([[i, 1]]))).as_numpy("predict").tolist() == [i + 1.0]
    log = server.stderr_text()
    assert "crashy: magic input, exiting" in log and "crashy" in log


def workers_serving(model_dir: Path) -> int:
    """Live processes whose command line names `model_dir` (the workers of the model loaded from it)."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and str(model_dir).encode() in cmdline:
            count += 1
    return count


def test_repository_version_folder_loads_and_unloads_its_workers(models, tmp_path: Path):
    repository = tmp_path / "models"
    version = repository / "summer" / "1"
    shutil.copytree(models["root"] / "crashy", version)
    srv = FerryServe(repository, ("--python", PYTHON, "--python-workers", "3"))
    srv.start(timeout=120)
    try:
        c = client(srv)
        assert c.infer("summer", crashy_inputs(np.array([[2, 3]]))).as_numpy("predict").tolist() == [5.0]
        assert workers_serving(version) == 3
        c.unload_model("summer")
        assert not c.is_model_ready("summer")
        assert workers_serving(version) == 0
        c.load_model("summer")
        assert c.infer("summer", crashy_inputs(np.array([[1, 1]]))).as_numpy("predict").tolist() == [2.0]
    finally:
        srv.stop()
    assert workers_serving(version) == 0


def test_a_model_without_signature_is_refused_at_start(tmp_path: Path):
    unsigned = tmp_path / "unsigned"
    unsigned.mkdir()
    (unsigned / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n")
    srv = FerryServe(None, ("--model", f"u={unsigned}", "--python", PYTHON))
    with pytest.raises(RuntimeError, match="has no signature"):
        srv.start(timeout=30)
    srv.stop()


def test_a_missing_interpreter_is_named_at_start(models):
    srv = FerryServe(None, ("--model", f"c={models['root'] / 'crashy'}", "--python", "/nonexistent/python3"))
    with pytest.raises(RuntimeError, match="cannot start python '/nonexistent/python3'"):
        srv.start(timeout=30)
    srv.stop()
