"""The gRPC front end of `ferry serve` (inference.GRPCInferenceService, as Triton defines it) with the
unmodified tritonclient.grpc and perf_analyzer -i grpc: health, metadata, configuration, inference with
every datatype the native runtime serves (raw and typed contents), streaming, statistics, the model
repository, bad input (each answered with a status and a message naming the problem, the server staying
up), the message size limit, and that Ferry's .proto files agree with tritonclient's field by field."""
from __future__ import annotations

import queue
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
from google.protobuf import descriptor_pb2
from tritonclient.grpc import model_config_pb2, service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from ferry_testing import ROOT
from serving_testing import (PERF_ANALYZER, FerryServe, add_model, add_one_repository, identity_model,
                             serve_factory, write_model)

__all__ = ["add_one_repository", "serve_factory"]  # fixtures used below

PROTO_DIR = ROOT / "src" / "ferry" / "api" / "grpc"

# numpy dtype of each V2 datatype, and three values that probe its range.
DATATYPES = {
    "FP32": (np.float32, [0.5, -1.25, 3.0e38]),
    "FP64": (np.float64, [1e-300, -2.5, 1e300]),
    "INT32": (np.int32, [-2147483648, 0, 2147483647]),
    "INT64": (np.int64, [-9007199254740993, 0, 9007199254740993]),
    "BOOL": (np.bool_, [True, False, True]),
    "BYTES": (np.object_, [b"a", b"", "h\u00e9llo".encode()]),
}
# The InferTensorContents field that carries each datatype.
CONTENTS_FIELD = {"FP32": "fp32_contents", "FP64": "fp64_contents", "INT32": "int_contents",
                  "INT64": "int64_contents", "BOOL": "bool_contents", "BYTES": "bytes_contents"}


@pytest.fixture
def grpc_server(serve_factory, add_one_repository: Path) -> FerryServe:
    srv = serve_factory(add_one_repository, "--grpc-listen", "127.0.0.1:0")
    assert srv.grpc, "ferry serve did not announce its gRPC address"
    return srv


@pytest.fixture
def client(grpc_server: FerryServe) -> grpcclient.InferenceServerClient:
    c = grpcclient.InferenceServerClient(url=grpc_server.grpc)
    yield c
    c.close()


def stub(srv: FerryServe):
    return service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(srv.grpc))


def add_one_inputs(x: np.ndarray):
    inp = grpcclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    return [inp]


def assert_error(excinfo, status: str, *fragments: str) -> None:
    err = excinfo.value
    assert err.status() == status, (err.status(), err.message())
    for fragment in fragments:
        assert fragment in err.message(), err.message()


def test_health_and_server_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta.name == "ferry" and meta.version
    assert set(meta.extensions) >= {"model_repository", "model_configuration", "statistics", "classification"}


def test_model_metadata_and_readiness(client):
    meta = client.get_model_metadata("add_one")
    assert meta.name == "add_one"
    assert list(meta.versions) == ["1", "2"]
    assert meta.platform == "onnxruntime_onnx"
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [("x", "FP32", [-1, 4])]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [("y", "FP32", [-1, 4])]
    assert list(client.get_model_metadata("add_one", "1").versions) == ["1"]
    assert client.is_model_ready("add_one")
    assert client.is_model_ready("add_one", "1")
    assert not client.is_model_ready("add_one", "3")
    assert not client.is_model_ready("nope")


def test_model_config_matches_the_rest_surface(grpc_server, client):
    config = client.get_model_config("add_one").config
    rest = requests.get(grpc_server.url + "/v2/models/add_one/config", timeout=30).json()
    assert config.name == rest["name"] == "add_one"
    assert config.platform == rest["platform"] == "onnxruntime_onnx"
    assert config.backend == rest["backend"] == "onnxruntime"
    assert config.max_batch_size == rest["max_batch_size"] > 0
    assert [(i.name, model_config_pb2.DataType.Name(i.data_type), list(i.dims)) for i in config.input] == \
        [(i["name"], i["data_type"], i["dims"]) for i in rest["input"]] == [("x", "TYPE_FP32", [4])]
    assert [(o.name, list(o.dims)) for o in config.output] == [("y", [4])]
    as_json = client.get_model_config("add_one", as_json=True)["config"]
    assert as_json["input"][0]["data_type"] == "TYPE_FP32"


def test_infer_versions_outputs_and_request_id(client):
    x = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.float32)
    newest = client.infer("add_one", add_one_inputs(x), request_id="req-7")
    assert newest.get_response().id == "req-7"
    assert newest.get_response().model_version == "2"
    np.testing.assert_array_equal(newest.as_numpy("y"), x + 2)
    v1 = client.infer("add_one", add_one_inputs(x), model_version="1",
                      outputs=[grpcclient.InferRequestedOutput("y")])
    np.testing.assert_array_equal(v1.as_numpy("y"), x + 1)


def test_classification_extension(client):
    x = np.array([[0.1, 0.9, 0.3, 0.2]], dtype=np.float32)
    result = client.infer("add_one", add_one_inputs(x), model_version="1",
                          outputs=[grpcclient.InferRequestedOutput("y", class_count=2)])
    assert [v.decode() for v in result.as_numpy("y").ravel()] == ["1.900000:1", "1.300000:2"]


@pytest.mark.parametrize("datatype", list(DATATYPES))
def test_every_datatype_raw_contents(serve_factory, tmp_path: Path, datatype: str):
    repository = tmp_path / "models"
    write_model(repository, "echo", 1, identity_model(datatype))
    srv = serve_factory(repository, "--grpc-listen", "127.0.0.1:0")
    dtype, values = DATATYPES[datatype]
    x = np.array([values, values[::-1]], dtype=dtype)
    inp = grpcclient.InferInput("x", list(x.shape), datatype)
    inp.set_data_from_numpy(x)
    with grpcclient.InferenceServerClient(srv.grpc) as c:
        result = c.infer("echo", [inp])
    out = result.get_output("y")
    assert out.datatype == datatype and list(out.shape) == [2, 3]
    y = result.as_numpy("y")
    if datatype == "BYTES":
        assert y.tolist() == x.tolist()
    else:
        assert y.dtype == x.dtype
        np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("datatype", list(DATATYPES))
def test_every_datatype_typed_contents(serve_factory, tmp_path: Path, datatype: str):
    """InferTensorContents instead of raw_input_contents, as other gRPC clients send; the answer is raw."""
    repository = tmp_path / "models"
    write_model(repository, "echo", 1, identity_model(datatype))
    srv = serve_factory(repository, "--grpc-listen", "127.0.0.1:0")
    dtype, values = DATATYPES[datatype]
    request = service_pb2.ModelInferRequest(model_name="echo", id="typed")
    tensor = request.inputs.add(name="x", datatype=datatype, shape=[1, 3])
    getattr(tensor.contents, CONTENTS_FIELD[datatype]).extend(values)
    response = stub(srv).ModelInfer(request, timeout=30)
    assert response.id == "typed"
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [("y", datatype, [1, 3])]
    raw = response.raw_output_contents[0]
    if datatype == "BYTES":
        expected = b"".join(len(v).to_bytes(4, "little") + v for v in values)
        assert raw == expected
    else:
        np.testing.assert_array_equal(np.frombuffer(raw, dtype=dtype), np.array(values, dtype=dtype))


def test_stream_infer_answers_in_order_with_errors_inline(client):
    answers: "queue.Queue" = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    x = np.array([[1, 1, 1, 1]], dtype=np.float32)
    for i in range(5):
        if i == 2:
            client.async_stream_infer("nope", add_one_inputs(x), request_id=str(i))
        else:
            client.async_stream_infer("add_one", add_one_inputs(x * i), model_version="1", request_id=str(i))
    got = [answers.get(timeout=30) for _ in range(5)]
    client.stop_stream()
    for i, (result, error) in enumerate(got):
        if i == 2:
            assert result is None
            assert "Request for unknown model: 'nope' is not found" in error.message()
        else:
            assert error is None, error
            assert result.get_response().id == str(i)
            np.testing.assert_array_equal(result.as_numpy("y"), x * i + 1)
    assert client.is_server_live()


def test_inference_worker_pool(serve_factory, add_one_repository: Path):
    """--infer-threads N moves inference (unary and streaming) from gRPC's threads to a pool of N."""
    srv = serve_factory(add_one_repository, "--grpc-listen", "127.0.0.1:0", "--infer-threads", "2")
    x = np.array([[1, 2, 3, 4]], dtype=np.float32)

    def infer(i: int) -> np.ndarray:
        with grpcclient.InferenceServerClient(srv.grpc) as c:
            return c.infer("add_one", add_one_inputs(x * i)).as_numpy("y")

    with ThreadPoolExecutor(4) as pool:
        for i, y in enumerate(pool.map(infer, range(16))):
            np.testing.assert_array_equal(y, x * i + 2)
    with grpcclient.InferenceServerClient(srv.grpc) as c:
        answers: "queue.Queue" = queue.Queue()
        c.start_stream(callback=lambda result, error: answers.put((result, error)))
        for i in range(4):
            c.async_stream_infer("add_one", add_one_inputs(x * i), request_id=str(i))
        got = [answers.get(timeout=30) for _ in range(4)]
        c.stop_stream()
    assert [r.get_response().id for r, e in got] == ["0", "1", "2", "3"]


def test_sigterm_with_an_open_stream_exits_zero(grpc_server):
    c = grpcclient.InferenceServerClient(grpc_server.grpc)
    answers: "queue.Queue" = queue.Queue()
    c.start_stream(callback=lambda result, error: answers.put((result, error)))
    c.async_stream_infer("add_one", add_one_inputs(np.zeros((1, 4), np.float32)))
    result, error = answers.get(timeout=30)
    assert error is None
    assert grpc_server.stop(signal.SIGTERM) == 0  # the open stream is cancelled at the drain deadline
    c.close()


def test_statistics(client):
    x = np.array([[1, 2, 3, 4]], dtype=np.float32)
    for _ in range(3):
        client.infer("add_one", add_one_inputs(x), model_version="1")
    with pytest.raises(InferenceServerException):
        bad = grpcclient.InferInput("x", [1, 3], "FP32")
        bad.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32))
        client.infer("add_one", [bad], model_version="1")
    stats = client.get_inference_statistics("add_one", "1").model_stats
    assert len(stats) == 1
    s = stats[0]
    assert (s.name, s.version) == ("add_one", "1")
    assert s.inference_count == 3 and s.execution_count == 3
    assert s.inference_stats.success.count == 3 and s.inference_stats.success.ns > 0
    assert s.inference_stats.fail.count == 1
    assert s.last_inference > 0
    every = client.get_inference_statistics().model_stats
    assert [(m.name, m.version) for m in every] == [("add_one", "1"), ("add_one", "2")]
    assert len(client.get_inference_statistics("add_one").model_stats) == 2
    with pytest.raises(InferenceServerException) as e:
        client.get_inference_statistics("nope")
    assert_error(e, "StatusCode.INVALID_ARGUMENT", "Request for unknown model: 'nope' is not found")


def test_repository_index_load_unload(grpc_server, client, add_one_repository: Path):
    write_model(add_one_repository, "late", 1, add_model(10.0))
    index = client.get_model_repository_index().models
    assert ("add_one", "1", "READY") in [(m.name, m.version, m.state) for m in index]
    assert ("late", "UNAVAILABLE") in [(m.name, m.state) for m in index]
    assert not client.is_model_ready("late")
    client.load_model("late")
    assert client.is_model_ready("late")
    y = client.infer("late", add_one_inputs(np.zeros((1, 4), dtype=np.float32))).as_numpy("y")
    np.testing.assert_array_equal(y, np.full((1, 4), 10, dtype=np.float32))
    ready = stub(grpc_server).RepositoryIndex(service_pb2.RepositoryIndexRequest(ready=True), timeout=30)
    assert sorted(m.name for m in ready.models) == ["add_one", "add_one", "late"]
    client.unload_model("late")
    assert not client.is_model_ready("late")
    with pytest.raises(InferenceServerException) as e:
        client.infer("late", add_one_inputs(np.zeros((1, 4), dtype=np.float32)))
    assert_error(e, "StatusCode.NOT_FOUND", "late")  # known to the repository, not loaded
    with pytest.raises(InferenceServerException) as e:
        client.load_model("missing")
    assert_error(e, "StatusCode.NOT_FOUND", "missing")
    for hostile in ("../etc", "a/b", ".."):
        with pytest.raises(InferenceServerException) as e:
            client.load_model(hostile)
        assert_error(e, "StatusCode.INVALID_ARGUMENT")
    with pytest.raises(InferenceServerException) as e:
        client.load_model("late", config='{"max_batch_size": 4}')
    assert_error(e, "StatusCode.UNIMPLEMENTED", "'config'")
    assert client.is_server_live()


def test_bad_inputs_name_the_problem_and_the_server_stays_up(grpc_server, client):
    def infer_with(datatype, shape, data: np.ndarray, model="add_one"):
        inp = grpcclient.InferInput("x", shape, datatype)
        inp.set_data_from_numpy(data)
        return client.infer(model, [inp])

    cases = [
        ("wrong shape", lambda: infer_with("FP32", [1, 3], np.zeros((1, 3), np.float32)),
         "StatusCode.INVALID_ARGUMENT", ["'x'"]),
        ("wrong datatype", lambda: infer_with("FP64", [1, 4], np.zeros((1, 4), np.float64)),
         "StatusCode.INVALID_ARGUMENT", ["'x'", "FP64"]),
        ("unknown model", lambda: infer_with("FP32", [1, 4], np.zeros((1, 4), np.float32), model="nope"),
         "StatusCode.INVALID_ARGUMENT", ["Request for unknown model: 'nope' is not found"]),
        ("unknown version", lambda: client.infer("add_one", add_one_inputs(np.zeros((1, 4), np.float32)),
                                                 model_version="9"),
         "StatusCode.NOT_FOUND", ["add_one", "9"]),
        ("unknown output", lambda: client.infer("add_one", add_one_inputs(np.zeros((1, 4), np.float32)),
                                                outputs=[grpcclient.InferRequestedOutput("z")]),
         "StatusCode.INVALID_ARGUMENT", ["'z'"]),
        ("metadata of unknown model", lambda: client.get_model_metadata("nope"),
         "StatusCode.INVALID_ARGUMENT", ["Request for unknown model"]),
        ("config of unknown model", lambda: client.get_model_config("nope"),
         "StatusCode.INVALID_ARGUMENT", ["Request for unknown model"]),
    ]
    for what, call, status, fragments in cases:
        with pytest.raises(InferenceServerException) as e:
            call()
        assert_error(e, status, *fragments)
        assert client.is_server_live(), what

    s = stub(grpc_server)
    raw_cases = [
        # 12 bytes for FP32 [1, 4] (16 bytes).
        (dict(shape=[1, 4], raw=[b"\0" * 12]), ["'x'", "16", "12"]),
        # Two raw buffers for one input.
        (dict(shape=[1, 4], raw=[b"\0" * 16, b"\0" * 16]), ["raw_input_contents has 2 entries for 1 inputs"]),
        # Typed values of the wrong type.
        (dict(shape=[1, 4], int_contents=[1, 2, 3, 4]), ["fp32_contents", "int_contents"]),
        # Too few typed values.
        (dict(shape=[1, 4], fp32_contents=[1, 2]), ["needs 4 values", "got 2"]),
        # No data at all.
        (dict(shape=[1, 4]), ["has no data"]),
        # An unknown datatype.
        (dict(shape=[1, 4], datatype="FLOAT32", raw=[b"\0" * 16]), ["FLOAT32"]),
    ]
    for case, fragments in raw_cases:
        request = service_pb2.ModelInferRequest(model_name="add_one")
        tensor = request.inputs.add(name="x", datatype=case.get("datatype", "FP32"), shape=case["shape"])
        for field in ("int_contents", "fp32_contents"):
            if field in case:
                getattr(tensor.contents, field).extend(case[field])
        request.raw_input_contents.extend(case.get("raw", []))
        with pytest.raises(grpc.RpcError) as e:
            s.ModelInfer(request, timeout=30)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (case, e.value.details())
        for fragment in fragments:
            assert fragment in e.value.details(), (case, e.value.details())
        assert client.is_server_live()


def test_garbage_bytes_are_invalid_argument(grpc_server, client):
    channel = grpc.insecure_channel(grpc_server.grpc)
    for method in ("ModelInfer", "ModelMetadata", "RepositoryModelLoad"):
        call = channel.unary_unary(f"/inference.GRPCInferenceService/{method}",
                                   request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            call(b"\xff\xff\xff\xff\x0f not a protobuf", timeout=30)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
        assert "not a valid inference." in e.value.details()
    # A garbage message inside a stream is answered in error_message; the stream goes on.
    stream = channel.stream_stream("/inference.GRPCInferenceService/ModelStreamInfer",
                                   request_serializer=lambda b: b,
                                   response_deserializer=service_pb2.ModelStreamInferResponse.FromString)
    good = service_pb2.ModelInferRequest(model_name="add_one", id="ok")
    good.inputs.add(name="x", datatype="FP32", shape=[1, 4])
    good.raw_input_contents.append(np.ones((1, 4), np.float32).tobytes())
    answers = list(stream(iter([b"\xff\xff garbage", good.SerializeToString()]), timeout=30))
    assert "not a valid inference.ModelInferRequest" in answers[0].error_message
    assert answers[1].error_message == "" and answers[1].infer_response.id == "ok"
    channel.close()
    assert client.is_server_live()


def test_unimplemented_methods_say_what(client):
    with pytest.raises(InferenceServerException) as e:
        client.get_system_shared_memory_status()
    assert_error(e, "StatusCode.UNIMPLEMENTED", "shared memory")
    with pytest.raises(InferenceServerException) as e:
        client.get_trace_settings()
    assert_error(e, "StatusCode.UNIMPLEMENTED", "trace")
    with pytest.raises(InferenceServerException) as e:
        client.get_log_settings()
    assert_error(e, "StatusCode.UNIMPLEMENTED", "log settings")
    assert client.is_server_live()


def test_message_size_limit_is_resource_exhausted(serve_factory, add_one_repository: Path):
    srv = serve_factory(add_one_repository, "--grpc-listen", "127.0.0.1:0", "--max-body-bytes", "65536")
    with grpcclient.InferenceServerClient(srv.grpc) as c:
        small = np.zeros((16, 4), np.float32)
        np.testing.assert_array_equal(c.infer("add_one", add_one_inputs(small)).as_numpy("y"), small + 2)
        big = np.zeros((8192, 4), np.float32)  # 128 KiB
        with pytest.raises(InferenceServerException) as e:
            c.infer("add_one", add_one_inputs(big))
        assert_error(e, "StatusCode.RESOURCE_EXHAUSTED")
        assert c.is_server_live()


def run_perf_analyzer(srv: FerryServe, *extra: str) -> str:
    proc = subprocess.run(
        [str(PERF_ANALYZER), "-m", "add_one", "-u", srv.grpc, "-i", "grpc", "--concurrency-range", "1:2",
         "--measurement-interval", "1000", "-b", "1",
         # Accept any window as stable: throughput on a shared test machine varies, and this test checks
         # that perf_analyzer completes against ferry serve, not how fast it is.
         "--stability-percentage", "1000", "--max-trials", "5", *extra],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def throughputs(output: str):
    return [float(line.split("throughput:")[1].split()[0])
            for line in output.splitlines() if "throughput:" in line and "Concurrency" in line]


def test_perf_analyzer_grpc(grpc_server):
    out = run_perf_analyzer(grpc_server)
    values = throughputs(out)
    assert len(values) == 2 and all(v > 0 for v in values), out


def test_perf_analyzer_grpc_streaming(grpc_server):
    out = run_perf_analyzer(grpc_server, "--streaming")
    values = throughputs(out)
    assert len(values) == 2 and all(v > 0 for v in values), out


def _descriptor_set(tmp_path: Path) -> descriptor_pb2.FileDescriptorSet:
    out = tmp_path / "ferry_grpc.pb"
    subprocess.run(["protoc", f"-I{PROTO_DIR}", f"--descriptor_set_out={out}", "grpc_service.proto",
                    "model_config.proto"], check=True)
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _fields(messages, prefix=""):
    """{full message name: {field name: (number, type, label, type_name)}}, nested messages included."""
    out = {}
    for m in messages:
        name = prefix + m.name
        out[name] = {f.name: (f.number, f.type, f.label, f.type_name) for f in m.field}
        out.update(_fields(m.nested_type, name + "."))
    return out


def test_protos_agree_with_tritonclient(tmp_path: Path):
    """Every message, field, enum value and method in Ferry's .proto files is the same (name, number,
    type) as in the schema tritonclient was built from; Ferry may leave things out, never differ."""
    ours = {f.name: f for f in _descriptor_set(tmp_path).file}
    for name, module in (("grpc_service.proto", service_pb2), ("model_config.proto", model_config_pb2)):
        theirs = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(theirs)
        mine = ours[name]
        assert mine.package == theirs.package == "inference"
        their_fields = _fields(theirs.message_type)
        for message, fields in _fields(mine.message_type).items():
            assert message in their_fields, message
            for field, spec in fields.items():
                assert their_fields[message].get(field) == spec, (message, field)
        their_enums = {e.name: {v.name: v.number for v in e.value} for e in theirs.enum_type}
        for enum in mine.enum_type:
            assert {v.name: v.number for v in enum.value}.items() <= their_enums[enum.name].items()
        their_methods = {m.name: m for s in theirs.service for m in s.method}
        for service in mine.service:
            assert service.name == "GRPCInferenceService"
            for method in service.method:
                t = their_methods[method.name]
                assert (method.input_type, method.output_type, method.client_streaming, method.server_streaming) \
                    == (t.input_type, t.output_type, t.client_streaming, t.server_streaming)
