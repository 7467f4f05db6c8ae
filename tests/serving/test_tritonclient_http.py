"""`ferry serve` driven by the unmodified tritonclient.http (binary data on and off, both ways): health,
metadata, model configuration, statistics, the repository extension, every datatype including BYTES as
numpy object arrays, request ids, classification, and a model reload under concurrent load that loses no
request."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from serving_testing import (FerryServe, add_model, add_one_repository, add_one_server, identity_model,
                             serve_factory, write_model)

__all__ = ["add_one_repository", "add_one_server", "serve_factory"]  # fixtures used below

NP_TYPES = {"FP32": np.float32, "FP64": np.float64, "INT32": np.int32, "INT64": np.int64, "BOOL": np.bool_,
            "BYTES": np.object_}


def client(srv: FerryServe) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(srv.host_port)


def test_health_and_metadata(add_one_server: FerryServe):
    c = client(add_one_server)
    assert c.is_server_live() and c.is_server_ready()
    assert c.is_model_ready("add_one") and c.is_model_ready("add_one", "1")
    assert not c.is_model_ready("add_one", "9") and not c.is_model_ready("nope")
    meta = c.get_server_metadata()
    assert meta["name"] == "ferry" and "binary_tensor_data" in meta["extensions"]
    model = c.get_model_metadata("add_one", "2")
    assert model["versions"] == ["2"]
    assert model["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    config = c.get_model_config("add_one")
    assert config["input"][0]["dims"] == [4] and config["max_batch_size"] > 0
    with pytest.raises(InferenceServerException, match="nope"):
        c.get_model_metadata("nope")


@pytest.mark.parametrize("binary_in,binary_out", [(True, True), (False, False), (True, False), (False, True)])
def test_infer_binary_and_json(add_one_server: FerryServe, binary_in: bool, binary_out: bool):
    c = client(add_one_server)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary_in)
    out = httpclient.InferRequestedOutput("y", binary_data=binary_out)
    result = c.infer("add_one", [inp], model_version="1", outputs=[out], request_id="req-42")
    np.testing.assert_array_equal(result.as_numpy("y"), x + 1)
    response = result.get_response()
    assert response["id"] == "req-42"
    assert response["model_name"] == "add_one" and response["model_version"] == "1"
    # Without requested outputs the newest version answers with all of them (binary by default).
    default = c.infer("add_one", [inp])
    np.testing.assert_array_equal(default.as_numpy("y"), x + 2)


@pytest.mark.parametrize("datatype", sorted(NP_TYPES))
@pytest.mark.parametrize("binary", [True, False])
def test_every_datatype(serve_factory, tmp_path: Path, datatype: str, binary: bool):
    repository = tmp_path / "models"
    write_model(repository, "echo", 1, identity_model(datatype))
    srv = serve_factory(repository)
    if datatype == "BYTES":
        # Arbitrary bytes travel only as binary data; JSON carries UTF-8 text.
        odd = b"\x00\xff" if binary else "\u00ff"
        x = np.array([["a", "", "héllo".encode()], [odd, "z", "yy"]], dtype=np.object_)
    elif datatype == "BOOL":
        x = np.array([[True, False, True], [False, False, True]])
    else:
        info = np.finfo if datatype.startswith("FP") else np.iinfo
        x = np.array([[info(NP_TYPES[datatype]).min, 0, 1], [2, 3, info(NP_TYPES[datatype]).max]],
                     dtype=NP_TYPES[datatype])
    inp = httpclient.InferInput("x", list(x.shape), datatype)
    inp.set_data_from_numpy(x, binary_data=binary)
    result = client(srv).infer("echo", [inp], outputs=[httpclient.InferRequestedOutput("y", binary_data=binary)])
    y = result.as_numpy("y")
    if datatype == "BYTES":
        as_bytes = [[v if isinstance(v, bytes) else v.encode() for v in row] for row in x]
        # tritonclient gives BYTES from binary data as bytes, from JSON as str.
        expected = as_bytes if binary else [[v.decode() for v in row] for row in as_bytes]
        assert y.tolist() == expected
    else:
        assert y.dtype == x.dtype
        np.testing.assert_array_equal(y, x)


def test_classification(add_one_server: FerryServe):
    x = np.array([[0.1, 0.9, 0.3, 0.2], [4, 3, 2, 1]], dtype=np.float32)
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    out = httpclient.InferRequestedOutput("y", class_count=3)
    result = client(add_one_server).infer("add_one", [inp], model_version="1", outputs=[out])
    assert result.as_numpy("y").tolist() == [[b"1.900000:1", b"1.300000:2", b"1.200000:3"],
                                             [b"5.000000:0", b"4.000000:1", b"3.000000:2"]]


def test_statistics_and_repository(serve_factory, add_one_repository: Path):
    srv = serve_factory(add_one_repository)
    c = client(srv)
    x = np.zeros((2, 4), dtype=np.float32)
    inp = httpclient.InferInput("x", [2, 4], "FP32")
    inp.set_data_from_numpy(x)
    c.infer("add_one", [inp], model_version="2")
    stats = c.get_inference_statistics("add_one", "2")["model_stats"][0]
    assert stats["inference_count"] == 2 and stats["execution_count"] == 1
    assert stats["inference_stats"]["success"]["count"] == 1
    assert len(c.get_inference_statistics()["model_stats"]) == 2

    write_model(add_one_repository, "other", 1, add_model(7.0))
    names = {(m["name"], m.get("state")) for m in c.get_model_repository_index()}
    assert ("other", "UNAVAILABLE") in names and ("add_one", "READY") in names
    c.load_model("other")
    assert c.is_model_ready("other")
    np.testing.assert_array_equal(c.infer("other", [inp]).as_numpy("y"), x + 7)
    c.unload_model("other")
    assert not c.is_model_ready("other")
    with pytest.raises(InferenceServerException, match="other"):
        c.infer("other", [inp])
    with pytest.raises(InferenceServerException, match="not supported"):
        c.load_model("add_one", config='{"max_batch_size": 2}')
    with pytest.raises(InferenceServerException, match="not in the model repository"):
        c.load_model("missing")


def test_reload_under_load_loses_no_request(serve_factory, tmp_path: Path):
    repository = tmp_path / "models"
    write_model(repository, "m", 1, add_model(1.0))
    srv = serve_factory(repository)
    stop = threading.Event()
    failures: list = []
    counts = [0] * 4

    def worker(i: int) -> None:
        c = client(srv)
        x = np.full((1, 4), i, dtype=np.float32)
        inp = httpclient.InferInput("x", [1, 4], "FP32")
        inp.set_data_from_numpy(x)
        while not stop.is_set():
            try:
                y = c.infer("m", [inp], model_version="1").as_numpy("y")
                if not np.array_equal(y, x + 1):
                    failures.append(f"wrong answer {y}")
                counts[i] += 1
            except Exception as e:  # any failure is what this test looks for
                failures.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    c = client(srv)
    try:
        for _ in range(10):
            c.load_model("m")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert failures == []
    assert all(n > 0 for n in counts)
