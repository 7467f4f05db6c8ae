"""The native ONNX-ML runtime against onnxruntime on the converter corpus
(onnx_corpus.py): every model served by `ferry serve`, every output compared
through tritonclient.http to 1e-5, labels exactly."""

from __future__ import annotations

import functools
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient
from onnx import TensorProto, helper

import onnx_corpus
from ferry_testing import ferry_bin, hermetic_env
from serving_testing import FerryServe

TOLERANCE = 1e-5


@functools.lru_cache(maxsize=1)
def corpus() -> onnx_corpus.Corpus:
    return onnx_corpus.build_corpus()


def _names() -> list[str]:
    return [m.name for m in corpus().models]


@pytest.fixture
def serve_model(tmp_path):
    """Serves one corpus model alone, so a model that fails to load fails
    only its own test."""
    servers = []

    def serve(model: onnx_corpus.CorpusModel) -> FerryServe:
        root = tmp_path / "repository"
        onnx_corpus.write_repository(onnx_corpus.Corpus([model], {}), root)
        servers.append(FerryServe(root).start(timeout=60))
        return servers[-1]

    yield serve
    for server in servers:
        server.stop()


def _datatype(a: np.ndarray) -> str:
    return "BYTES" if a.dtype == object else httpclient.np_to_triton_dtype(a.dtype)


def _ort_outputs(model: onnx_corpus.CorpusModel) -> dict[str, np.ndarray]:
    sess = ort.InferenceSession(model.onnx_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(None, model.inputs)
    out = {}
    for name, v in zip(names, values):
        if isinstance(v, list):  # ZipMap: one dict a row, keys in label order
            keys = list(v[0].keys()) if v else []
            v = np.array([[row[k] for k in keys] for row in v], dtype=np.float32)
        out[name] = np.asarray(v)
    return out


def _ferry_outputs(host_port: str, model: onnx_corpus.CorpusModel, names: list[str]) -> dict[str, np.ndarray]:
    client = httpclient.InferenceServerClient(host_port)
    inputs = []
    for name, value in model.inputs.items():
        i = httpclient.InferInput(name, list(value.shape), _datatype(value))
        i.set_data_from_numpy(value, binary_data=True)
        inputs.append(i)
    outputs = [httpclient.InferRequestedOutput(n, binary_data=True) for n in names]
    result = client.infer(model.name, inputs, outputs=outputs)
    return {n: result.as_numpy(n) for n in names}


def _compare(name: str, ferry: np.ndarray, expected: np.ndarray) -> None:
    if expected.dtype == object or expected.dtype.kind in "US":
        got = [v.decode() if isinstance(v, bytes) else str(v) for v in ferry.reshape(-1)]
        want = [str(v) for v in expected.reshape(-1)]
        assert got == want, f"{name}: labels differ"
        return
    assert ferry.size == expected.size, f"{name}: {ferry.shape} vs onnxruntime {expected.shape}"
    ferry = ferry.reshape(expected.shape)
    if expected.dtype.kind in "iub":
        np.testing.assert_array_equal(ferry, expected, err_msg=name)
    else:
        np.testing.assert_allclose(
            ferry.astype(np.float64), expected.astype(np.float64), rtol=TOLERANCE, atol=TOLERANCE, err_msg=name
        )


@pytest.mark.parametrize("name", _names())
def test_matches_onnxruntime(serve_model, name):
    model = next(m for m in corpus().models if m.name == name)
    expected = _ort_outputs(model)
    got = _ferry_outputs(serve_model(model).host_port, model, list(expected))
    for out_name, want in expected.items():
        _compare(out_name, got[out_name], want)


def test_every_corpus_model_converts():
    """The converters in the environment produce the whole corpus; a model
    they cannot produce shows up here with the converter's error."""
    assert corpus().unconvertible == {}


def test_unsupported_operator_refused_at_load(tmp_path):
    # DictVectorizer takes a map input, which the native runtime does not
    # implement: the model must be refused at load, naming the operator.
    graph = helper.make_graph(
        [helper.make_node("DictVectorizer", ["x"], ["y"], domain="ai.onnx.ml", int64_vocabulary=[1, 2])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
    )
    model = helper.make_model(
        graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    proc = subprocess.run(
        [ferry_bin(), "serve", "--listen", "127.0.0.1:0", "--model", f"bad={path}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=hermetic_env(),
    )
    assert proc.returncode != 0
    assert "DictVectorizer" in proc.stderr


def test_bad_tree_model_refused_at_load(tmp_path):
    # A tree whose true child points back to its root (a cycle).
    node = helper.make_node(
        "TreeEnsembleRegressor",
        ["x"],
        ["y"],
        domain="ai.onnx.ml",
        name="cyclic",
        n_targets=1,
        nodes_treeids=[0, 0, 0],
        nodes_nodeids=[0, 1, 2],
        nodes_featureids=[0, 0, 0],
        nodes_modes=["BRANCH_LEQ", "BRANCH_LEQ", "LEAF"],
        nodes_values=[0.5, 0.5, 0.0],
        nodes_truenodeids=[1, 0, 0],
        nodes_falsenodeids=[2, 2, 0],
        target_treeids=[0],
        target_nodeids=[2],
        target_ids=[0],
        target_weights=[1.0],
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
    )
    model = helper.make_model(
        graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    onnx.checker.check_model(model)
    path = tmp_path / "cyclic.onnx"
    path.write_bytes(model.SerializeToString())
    proc = subprocess.run(
        [ferry_bin(), "serve", "--listen", "127.0.0.1:0", "--model", f"cyclic={path}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=hermetic_env(),
    )
    assert proc.returncode != 0
    assert "cyclic" in proc.stderr and "reached twice" in proc.stderr
