"""`ferry serve`'s dynamic batching, bounded queues and per-model Prometheus metrics, driven by the
unmodified tritonclient (HTTP and gRPC) and plain HTTP: concurrent requests are answered correctly and
share executions; a full queue answers 429 with Retry-After (gRPC: RESOURCE_EXHAUSTED) and the server
keeps serving; /metrics carries the ferry_inference_* families and Triton's nv_inference_* counters
per model and version, with counts that match the requests sent; bad batching flags are refused."""
from __future__ import annotations

import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, FrozenSet, Tuple

import numpy as np
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import InferenceServerException

from ferry_testing import ferry_bin, hermetic_env
from serving_testing import FerryServe, add_model, add_one_repository, serve_factory, write_model

__all__ = ["add_one_repository", "serve_factory"]  # fixtures used below

Samples = Dict[Tuple[str, FrozenSet[Tuple[str, str]]], float]


def scrape(srv: FerryServe) -> Samples:
    """Every sample of /metrics by (name, labels)."""
    response = requests.get(srv.url + "/metrics", timeout=10)
    assert response.status_code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            # The parser names every counter sample NAME_total (OpenMetrics); Triton's nv_* counters
            # are exposed without the suffix, and are looked up by their exposed names.
            name = s.name
            if family.type == "counter" and family.name.startswith("nv_"):
                name = name.removesuffix("_total")
            labels = dict(s.labels)
            if "le" in labels:  # "1" and "1.0" are one bound
                labels["le"] = str(float(labels["le"]))
            samples[(name, frozenset(labels.items()))] = s.value
    return samples


def sample(samples: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in samples, f"no sample {name}{labels} in /metrics"
    return samples[key]


def infer_body(rows: int, value: float) -> dict:
    x = np.full((rows, 4), value, dtype=np.float32)
    return {"inputs": [{"name": "x", "shape": [rows, 4], "datatype": "FP32", "data": x.flatten().tolist()}]}


def test_concurrent_requests_share_executions_and_metrics_count_them(serve_factory, add_one_repository: Path):
    srv = serve_factory(add_one_repository, "--max-batch-size", "32", "--max-queue-delay-us", "2000")
    before = scrape(srv)
    # Every loaded version has its series from the start, at 0.
    for version in ("1", "2"):
        assert sample(before, "ferry_inference_requests_total", model="add_one", version=version) == 0
        assert sample(before, "nv_inference_exec_count", model="add_one", version=version) == 0

    n = 32
    rows = [1 + i % 3 for i in range(n)]
    barrier = threading.Barrier(n)

    def one(i: int) -> bool:
        c = httpclient.InferenceServerClient(srv.host_port)
        x = np.full((rows[i], 4), float(i), dtype=np.float32)
        inp = httpclient.InferInput("x", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        barrier.wait()
        result = c.infer("add_one", [inp], model_version="1")
        return bool(np.array_equal(result.as_numpy("y"), x + 1))

    with ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(one, range(n)))
    assert all(answers)

    after = scrape(srv)
    v1 = {"model": "add_one", "version": "1"}
    assert sample(after, "ferry_inference_requests_total", **v1) == n
    assert sample(after, "nv_inference_request_success", **v1) == n
    assert sample(after, "nv_inference_request_failure", **v1) == 0
    assert sample(after, "nv_inference_count", **v1) == sum(rows)
    assert sample(after, "ferry_inference_request_duration_seconds_count", **v1) == n
    assert sample(after, "ferry_inference_queue_duration_seconds_count", **v1) == n
    executions = sample(after, "ferry_inference_batch_size_count", **v1)
    assert executions == sample(after, "nv_inference_exec_count", **v1)
    assert sample(after, "ferry_inference_batch_size_sum", **v1) == sum(rows)
    # Some executions ran more than one request's row.
    one_row = sample(after, "ferry_inference_batch_size_bucket", le="1.0", **v1)
    assert executions - one_row > 0
    assert executions < n
    # Version 2 was not asked.
    assert sample(after, "ferry_inference_requests_total", model="add_one", version="2") == 0

    # A failed request is counted with its reason, for ferry's family and Triton's.
    bad = requests.post(srv.url + "/v2/models/add_one/versions/2/infer",
                        json={"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]},
                        timeout=10)
    assert bad.status_code == 400
    failed = scrape(srv)
    v2 = {"model": "add_one", "version": "2"}
    assert sample(failed, "ferry_inference_failures_total", reason="InvalidArgument", **v2) == 1
    assert sample(failed, "nv_inference_request_failure", **v2) == 1
    assert sample(failed, "ferry_inference_requests_total", **v2) == 1
    assert sample(failed, "nv_inference_exec_count", **v2) == 0

    # The statistics extension counts the shared executions too.
    stats = httpclient.InferenceServerClient(srv.host_port).get_inference_statistics("add_one", "1")
    entry = stats["model_stats"][0]
    assert entry["inference_count"] == sum(rows)
    assert entry["execution_count"] == executions


def test_full_queue_answers_429_and_the_server_keeps_serving(serve_factory, add_one_repository: Path):
    # A request of 3 rows waits up to half a second for company; another 3 rows would exceed the queue's
    # 4, so requests arriving meanwhile are refused.
    srv = serve_factory(add_one_repository, "--max-batch-size", "4", "--max-queue-rows", "4",
                        "--max-queue-delay-us", "500000", "--grpc-listen", "127.0.0.1:0")
    url = srv.url + "/v2/models/add_one/versions/1/infer"
    barrier = threading.Barrier(16)

    def one(i: int) -> requests.Response:
        barrier.wait()
        return requests.post(url, json=infer_body(3, float(i)), timeout=30)

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(one, range(16)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429}, statuses
    refused = [r for r in responses if r.status_code == 429]
    assert refused and statuses.count(200) >= 1
    for r in refused:
        assert r.headers["Retry-After"] == "1"
        assert r.json() == {"error": "model 'add_one' queue is full (3 rows waiting); retry later"}
    for i, r in enumerate(responses):
        if r.status_code == 200:
            assert r.json()["outputs"][0]["data"] == [i + 1.0] * 12

    # gRPC: RESOURCE_EXHAUSTED while an HTTP request waits. Which of the two arrives first is up to the
    # scheduler, so HTTP requests keep coming until a gRPC one finds the queue taken.
    grpc = grpcclient.InferenceServerClient(srv.grpc)
    inp = grpcclient.InferInput("x", [3, 4], "FP32")
    inp.set_data_from_numpy(np.zeros((3, 4), dtype=np.float32))
    stop = threading.Event()

    def keep_queue_busy() -> None:
        while not stop.is_set():
            requests.post(url, json=infer_body(3, 0.0), timeout=30)

    busy = threading.Thread(target=keep_queue_busy)
    busy.start()
    errors = []
    try:
        for _ in range(40):
            try:
                grpc.infer("add_one", [inp], model_version="1")
            except InferenceServerException as e:
                errors.append(e)
                break
    finally:
        stop.set()
        busy.join()
    assert errors, "no gRPC request was refused"
    assert errors[0].status() == "StatusCode.RESOURCE_EXHAUSTED"
    assert "queue is full" in errors[0].message()

    # The server stays up and answers once the burst is over.
    after = requests.post(url, json=infer_body(1, 5.0), timeout=30)
    assert after.status_code == 200 and after.json()["outputs"][0]["data"] == [6.0] * 4
    metrics = scrape(srv)
    v1 = {"model": "add_one", "version": "1"}
    assert sample(metrics, "ferry_inference_failures_total", reason="ResourceExhausted", **v1) >= len(refused) + 1
    assert sample(metrics, "nv_inference_request_failure", **v1) >= len(refused) + 1


def test_models_that_cannot_batch_are_served_unbatched(serve_factory, tmp_path: Path):
    # add_fixed's input has a fixed first dimension: it is served, without a batcher.
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"])], "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(np.array([1.0], dtype=np.float32), "c")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    repository = tmp_path / "models"
    write_model(repository, "add_fixed", 1, model.SerializeToString())
    write_model(repository, "add_one", 1, add_model(1.0))
    srv = serve_factory(repository, "--max-batch-size", "8")
    assert srv.model_count == 2
    r = requests.post(srv.url + "/v2/models/add_fixed/infer",
                      json={"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [0.0] * 8}]},
                      timeout=10)
    assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [1.0] * 8
    assert any("served without batching" in line and "add_fixed" in line for line in srv.stderr_lines + srv.stdout_lines)


def test_bad_batching_flags_are_refused(add_one_repository: Path):
    for args, message in [
        (["--max-batch-size", "8", "--max-queue-rows", "4"], "--max-queue-rows 4 is smaller than --max-batch-size 8"),
        (["--max-batch-size", "-1"], "--max-batch-size"),
        (["--max-queue-delay-us", "x"], "--max-queue-delay-us"),
        (["--max-queue-delay-us", "600000000"], "--max-queue-delay-us"),
    ]:
        done = subprocess.run([ferry_bin(), "serve", "--model-repository", str(add_one_repository), *args],
                              capture_output=True, text=True, timeout=30, env=hermetic_env())
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
