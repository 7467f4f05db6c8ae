"""The V2 REST surface of `ferry serve` with plain HTTP (requests): the exact JSON shapes of the Open
Inference Protocol and Triton's extensions (metadata, model configuration, statistics, repository),
JSON and binary tensors, every datatype the native runtime serves, KServe V1, and a clean drain."""
from __future__ import annotations

import json
import signal
import struct
from pathlib import Path

import numpy as np
import pytest
import requests

from serving_testing import (FerryServe, add_model, add_one_repository, add_one_server, identity_model,
                             serve_factory, write_model)

__all__ = ["add_one_repository", "add_one_server", "serve_factory"]  # fixtures used below


def post_json(srv: FerryServe, path: str, body) -> requests.Response:
    return requests.post(srv.url + path, data=json.dumps(body), headers={"Content-Type": "application/json"},
                         timeout=30)


def infer_body(rows):
    return {"id": "r-1", "inputs": [{"name": "x", "shape": [len(rows), 4], "datatype": "FP32", "data": rows}]}


def test_server_metadata_and_health(add_one_server: FerryServe):
    srv = add_one_server
    assert srv.model_count == 1
    meta = srv.get("/v2").json()
    assert meta["name"] == "ferry"
    assert meta["version"]
    assert set(meta["extensions"]) >= {"binary_tensor_data", "model_repository", "model_configuration",
                                       "statistics", "classification"}
    assert srv.get("/v2/health/live").status_code == 200
    assert srv.get("/v2/health/ready").status_code == 200


def test_model_metadata_ready_and_versions(add_one_server: FerryServe):
    srv = add_one_server
    meta = srv.get("/v2/models/add_one").json()
    assert meta == {"name": "add_one", "versions": ["1", "2"], "platform": "onnxruntime_onnx",
                    "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
                    "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 4]}]}
    assert srv.get("/v2/models/add_one/versions/1").json()["versions"] == ["1"]
    assert srv.get("/v2/models/add_one/ready").status_code == 200
    assert srv.get("/v2/models/add_one/versions/2/ready").status_code == 200
    missing = srv.get("/v2/models/add_one/versions/3/ready")
    assert missing.status_code == 404 and "'3'" in missing.json()["error"]
    assert srv.get("/v2/models/nope/ready").status_code == 404


def test_model_config_has_triton_shape(add_one_server: FerryServe):
    config = add_one_server.get("/v2/models/add_one/config").json()
    assert config["name"] == "add_one"
    assert config["platform"] == "onnxruntime_onnx"
    assert config["backend"] == "onnxruntime"
    assert config["max_batch_size"] > 0
    assert config["input"][0]["name"] == "x"
    assert config["input"][0]["data_type"] == "TYPE_FP32"
    assert config["input"][0]["dims"] == [4]  # without the batch dimension, as numbers
    assert config["output"][0]["dims"] == [4]
    assert "dynamic_batching" not in config and "sequence_batching" not in config


def test_infer_json_nested_and_flat_with_id_echo(add_one_server: FerryServe):
    srv = add_one_server
    nested = post_json(srv, "/v2/models/add_one/versions/1/infer", infer_body([[1, 2, 3, 4], [5, 6, 7, 8]]))
    assert nested.status_code == 200, nested.text
    assert nested.headers["Content-Type"].startswith("application/json")
    out = nested.json()
    assert out["id"] == "r-1"
    assert out["model_name"] == "add_one" and out["model_version"] == "1"
    assert out["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [2, 4],
                               "data": [2, 3, 4, 5, 6, 7, 8, 9]}]
    flat = infer_body([[0, 0, 0, 0]])
    flat["inputs"][0]["data"] = [0, 0, 0, 0]
    newest = post_json(srv, "/v2/models/add_one/infer", flat).json()  # version 2 adds 2
    assert newest["model_version"] == "2"
    assert newest["outputs"][0]["data"] == [2, 2, 2, 2]


def test_infer_binary_extension(add_one_server: FerryServe):
    srv = add_one_server
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    header = json.dumps({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": x.nbytes}}],
                         "outputs": [{"name": "y", "parameters": {"binary_data": True}}]}).encode()
    r = requests.post(srv.url + "/v2/models/add_one/versions/1/infer", data=header + x.tobytes(),
                      headers={"Inference-Header-Content-Length": str(len(header)),
                               "Content-Type": "application/octet-stream"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/octet-stream"
    json_size = int(r.headers["Inference-Header-Content-Length"])
    meta = json.loads(r.content[:json_size])
    out = meta["outputs"][0]
    assert out["parameters"]["binary_data_size"] == x.nbytes
    y = np.frombuffer(r.content[json_size:], dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(y, x + 1)


@pytest.mark.parametrize("datatype,data,expected", [
    ("FP32", [0.5, -1.25, 3.0], [0.5, -1.25, 3.0]),
    ("FP64", [1e-300, -2.5, 1e300], [1e-300, -2.5, 1e300]),
    ("INT32", [-2147483648, 0, 2147483647], [-2147483648, 0, 2147483647]),
    ("INT64", [-9007199254740993, 0, 9007199254740993], [-9007199254740993, 0, 9007199254740993]),
    ("BOOL", [True, False, True], [True, False, True]),
    ("BYTES", ["a", "", "héllo"], ["a", "", "héllo"]),
])
def test_every_datatype_as_json(serve_factory, tmp_path: Path, datatype, data, expected):
    repository = tmp_path / "models"
    write_model(repository, "echo", 1, identity_model(datatype))
    srv = serve_factory(repository)
    r = post_json(srv, "/v2/models/echo/infer",
                  {"inputs": [{"name": "x", "shape": [1, 3], "datatype": datatype, "data": data}]})
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["datatype"] == datatype and out["shape"] == [1, 3]
    assert out["data"] == expected


def test_classification_extension(add_one_server: FerryServe):
    body = infer_body([[0.1, 0.9, 0.3, 0.2]])
    body["outputs"] = [{"name": "y", "parameters": {"classification": 2}}]
    r = post_json(add_one_server, "/v2/models/add_one/versions/1/infer", body)
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["datatype"] == "BYTES" and out["shape"] == [1, 2]
    assert out["data"] == ["1.900000:1", "1.300000:2"]


def test_statistics(add_one_server: FerryServe):
    srv = add_one_server
    for _ in range(3):
        assert post_json(srv, "/v2/models/add_one/versions/1/infer", infer_body([[1, 2, 3, 4]])).ok
    wrong_shape = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
    assert post_json(srv, "/v2/models/add_one/versions/1/infer", wrong_shape).status_code == 400
    stats = srv.get("/v2/models/add_one/versions/1/stats").json()["model_stats"]
    assert len(stats) == 1
    s = stats[0]
    assert s["name"] == "add_one" and s["version"] == "1"
    assert s["inference_count"] == 3 and s["execution_count"] == 3
    assert s["inference_stats"]["success"]["count"] == 3
    assert s["inference_stats"]["fail"]["count"] == 1
    assert s["inference_stats"]["success"]["ns"] > 0
    for key in ("queue", "compute_input", "compute_infer", "compute_output", "cache_hit", "cache_miss"):
        assert set(s["inference_stats"][key]) == {"count", "ns"}
    assert s["last_inference"] > 0
    everything = srv.get("/v2/models/stats").json()["model_stats"]
    assert [(m["name"], m["version"]) for m in everything] == [("add_one", "1"), ("add_one", "2")]
    assert len(srv.get("/v2/models/add_one/stats").json()["model_stats"]) == 2
    assert srv.get("/v2/models/nope/stats").status_code == 404


def test_repository_index_load_unload(serve_factory, add_one_repository: Path):
    srv = serve_factory(add_one_repository)
    write_model(add_one_repository, "late", 1, add_model(10.0))
    index = requests.post(srv.url + "/v2/repository/index", timeout=30).json()
    assert {"name": "add_one", "version": "1", "state": "READY"} in index
    assert {"name": "late", "state": "UNAVAILABLE", "reason": "not loaded"} in index
    assert requests.post(srv.url + "/v2/repository/models/late/load", timeout=30).status_code == 200
    out = post_json(srv, "/v2/models/late/infer", infer_body([[0, 0, 0, 0]])).json()
    assert out["outputs"][0]["data"] == [10, 10, 10, 10]
    ready = post_json(srv, "/v2/repository/index", {"ready": True}).json()
    assert sorted(m["name"] for m in ready) == ["add_one", "add_one", "late"]
    unload = post_json(srv, "/v2/repository/models/late/unload", {"parameters": {"unload_dependents": False}})
    assert unload.status_code == 200, unload.text
    assert srv.get("/v2/models/late/ready").status_code == 404
    assert post_json(srv, "/v2/models/late/infer", infer_body([[0, 0, 0, 0]])).status_code == 404


def test_kserve_v1(add_one_server: FerryServe):
    srv = add_one_server
    assert srv.get("/v1/models/add_one").json() == {"name": "add_one", "ready": True}
    assert srv.get("/v1/models").json() == {"models": ["add_one"]}
    r = post_json(srv, "/v1/models/add_one:predict", {"instances": [[1, 2, 3, 4], [0, 0, 0, 0]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": [[3, 4, 5, 6], [2, 2, 2, 2]]}
    assert post_json(srv, "/v1/models/nope:predict", {"instances": [[1, 2, 3, 4]]}).status_code == 404


def test_single_file_model_and_metrics(serve_factory, tmp_path: Path):
    five, six = tmp_path / "five.onnx", tmp_path / "six.onnx"
    five.write_bytes(add_model(5.0))
    six.write_bytes(add_model(6.0))
    srv = serve_factory(None, "--model", f"five={five}", "--model", f"six={six}")
    assert srv.model_count == 2
    out = post_json(srv, "/v2/models/five/versions/1/infer", infer_body([[0, 0, 0, 0]])).json()
    assert out["outputs"][0]["data"] == [5, 5, 5, 5]
    out = post_json(srv, "/v2/models/six/infer", infer_body([[0, 0, 0, 0]])).json()
    assert out["outputs"][0]["data"] == [6, 6, 6, 6]
    metrics = srv.get("/metrics").text
    assert 'ferry_http_requests_total{' in metrics and 'route="/v2/models/{model}/versions/{version}/infer"' in metrics


def test_sigterm_drains_and_exits_zero(add_one_server: FerryServe):
    assert add_one_server.stop(signal.SIGTERM) == 0
