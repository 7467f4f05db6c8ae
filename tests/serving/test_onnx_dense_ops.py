"""The native runtime's dense ai.onnx operators against onnxruntime: tiny one-node models built with
onnx.helper, served by the real `ferry serve`, called with tritonclient.http, and compared with what
onnxruntime computes for the same model and inputs (floating outputs to 1e-5, the rest exactly).

One repository holds every case (a model each), so one server answers them all; a test per case names
the operator that disagrees."""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException
from onnx import TensorProto, helper, numpy_helper

from serving_testing import FerryServe, write_model

RNG = np.random.default_rng(20240611)

V2_DATATYPES = {np.float32: "FP32", np.float64: "FP64", np.int64: "INT64", np.int32: "INT32", np.bool_: "BOOL",
                np.object_: "BYTES"}


def f32(*shape: int, low: float = -3.0, high: float = 3.0) -> np.ndarray:
    return RNG.uniform(low, high, size=shape).astype(np.float32)


def i64(*values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


class Case:
    """One model: a node (or a few) over graph inputs fed by the request, plus initializers."""

    def __init__(self, name: str, op: str, inputs: Sequence[Tuple[str, np.ndarray]], *,
                 attrs: Optional[dict] = None, opset: int = 17, out_types: Sequence[int] = (),
                 outputs: int = 1, node_inputs: Optional[List[str]] = None,
                 inits: Sequence[Tuple[str, np.ndarray]] = (), dims: Optional[Dict[str, list]] = None,
                 ir_version: int = 8):
        self.name = name
        self.inputs = list(inputs)
        first = helper.np_dtype_to_tensor_dtype(self.inputs[0][1].dtype) if self.inputs else TensorProto.FLOAT
        types = list(out_types) or [first] * outputs
        out_names = [f"y{i}" for i in range(len(types))]
        node = helper.make_node(op, node_inputs or [n for n, _ in self.inputs] + [n for n, _ in inits], out_names,
                                name=f"{name}_node", **(attrs or {}))
        graph_inputs = []
        for n, a in self.inputs:
            shape = (dims or {}).get(n, list(a.shape))
            graph_inputs.append(helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), shape))
        graph = helper.make_graph(
            [node], name, graph_inputs, [helper.make_tensor_value_info(o, t, None) for o, t in zip(out_names, types)],
            [numpy_helper.from_array(a, n) for n, a in inits])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = ir_version
        self.model = model.SerializeToString()


def mlp_case() -> Case:
    """A small MLP as skl2onnx writes one (MatMul, Add, Relu, Softmax), batching over N."""
    w1, b1, w2, b2 = f32(4, 8), f32(8), f32(8, 3), f32(3)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["h1"]),
             helper.make_node("Relu", ["h1"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["o"]),
             helper.make_node("Add", ["o", "b2"], ["logits"]), helper.make_node("Softmax", ["logits"], ["y0"], axis=1),
             helper.make_node("ArgMax", ["logits"], ["y1"], axis=1, keepdims=0)]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y0", TensorProto.FLOAT, ["N", 3]),
                               helper.make_tensor_value_info("y1", TensorProto.INT64, ["N"])],
                              [numpy_helper.from_array(a, n) for n, a in
                               [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    case = Case.__new__(Case)
    case.name, case.inputs, case.model = "mlp", [("x", f32(5, 4))], model.SerializeToString()
    return case


def build_cases() -> List[Case]:
    B = TensorProto.BOOL
    I64 = TensorProto.INT64
    x23 = f32(2, 3)
    pos = f32(2, 3, low=0.1, high=4.0)
    cases = [
        Case("identity", "Identity", [("x", x23)]),
        Case("identity_bytes", "Identity", [("x", np.array(["a", "", "ü"], dtype=object))]),
        Case("add_broadcast", "Add", [("a", f32(2, 1, 3)), ("b", f32(2, 1))]),
        Case("sub", "Sub", [("a", x23), ("b", f32(3))]),
        Case("mul_int", "Mul", [("a", i64(1, -2, 3)), ("b", i64(4, 5, -6))]),
        Case("div", "Div", [("a", x23), ("b", pos)]),
        Case("div_int", "Div", [("a", i64(7, -7, 9)), ("b", i64(2, 2, -4))]),
        Case("pow", "Pow", [("a", pos), ("b", f32(2, 3))]),
        Case("pow_int_exponent", "Pow", [("a", x23)], inits=[("e", i64(2))]),
        Case("max", "Max", [("a", x23), ("b", f32(3)), ("c", f32(2, 1))]),
        Case("min", "Min", [("a", x23), ("b", f32(3))]),
        Case("sum", "Sum", [("a", x23), ("b", f32(2, 3)), ("c", f32(1))]),
        Case("mean", "Mean", [("a", x23), ("b", f32(2, 3))]),
        Case("equal", "Equal", [("a", i64(1, 2, 3)), ("b", i64(3, 2, 1))], out_types=[B]),
        Case("equal_string", "Equal", [("a", np.array(["a", "b"], dtype=object)),
                                       ("b", np.array(["a", "c"], dtype=object))], out_types=[B], opset=19),
        Case("less", "Less", [("a", x23), ("b", f32(3))], out_types=[B]),
        Case("greater", "Greater", [("a", x23), ("b", f32(2, 1))], out_types=[B]),
        Case("less_or_equal", "LessOrEqual", [("a", x23), ("b", x23.copy())], out_types=[B]),
        Case("greater_or_equal", "GreaterOrEqual", [("a", x23), ("b", f32(3))], out_types=[B]),
        Case("not", "Not", [("a", np.array([True, False, True]))]),
        Case("and", "And", [("a", np.array([True, False, True, False])), ("b", np.array([True, True, False, False]))]),
        Case("or", "Or", [("a", np.array([True, False, True, False])), ("b", np.array([True, True, False, False]))]),
        Case("xor", "Xor", [("a", np.array([True, False, True, False])), ("b", np.array([True, True, False, False]))]),
        Case("where", "Where", [("c", np.array([[True], [False]])), ("a", f32(3)), ("b", f32(2, 3))],
             out_types=[TensorProto.FLOAT]),
        Case("gemm", "Gemm", [("a", f32(4, 2)), ("b", f32(3, 4))], inits=[("c", f32(3))],
             attrs={"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}),
        Case("gemm_column_c", "Gemm", [("a", f32(2, 4)), ("b", f32(4, 3)), ("c", f32(2, 1))]),
        Case("matmul", "MatMul", [("a", f32(5, 4)), ("b", f32(4, 3))]),
        Case("matmul_batched", "MatMul", [("a", f32(2, 1, 3, 4)), ("b", f32(3, 4, 2))]),
        Case("matmul_vector", "MatMul", [("a", f32(4)), ("b", f32(2, 4, 3))]),
        Case("concat", "Concat", [("a", x23), ("b", f32(2, 1))], attrs={"axis": -1}),
        Case("reshape", "Reshape", [("x", f32(2, 3, 4))], inits=[("s", i64(0, -1))]),
        Case("reshape_newest", "Reshape", [("x", f32(2, 3, 4))], inits=[("s", i64(-1, 4))], opset=26, ir_version=13),
        Case("flatten", "Flatten", [("x", f32(2, 3, 4))], attrs={"axis": 2}),
        Case("squeeze_attr", "Squeeze", [("x", f32(2, 1, 3))], attrs={"axes": [1]}, opset=11),
        Case("squeeze_input", "Squeeze", [("x", f32(2, 1, 3, 1))], inits=[("a", i64(-1))]),
        Case("unsqueeze_attr", "Unsqueeze", [("x", x23)], attrs={"axes": [0, 3]}, opset=11),
        Case("unsqueeze_input", "Unsqueeze", [("x", x23)], inits=[("a", i64(1))]),
        Case("transpose", "Transpose", [("x", f32(2, 3, 4))], attrs={"perm": [2, 0, 1]}),
        Case("shape", "Shape", [("x", f32(2, 3, 4))], out_types=[I64]),
        Case("shape_slice", "Shape", [("x", f32(2, 3, 4))], out_types=[I64], attrs={"start": 1}, opset=15),
        Case("size", "Size", [("x", f32(2, 3, 4))], out_types=[I64]),
        Case("gather", "Gather", [("x", f32(3, 4)), ("i", np.array([[2, 0], [-1, 1]], dtype=np.int64))],
             attrs={"axis": 1}),
        Case("slice_steps", "Slice", [("x", f32(4, 5))],
             inits=[("s", i64(-1, 0)), ("e", i64(-100, 5)), ("a", i64(1, 0)), ("st", i64(-2, 2))]),
        Case("expand", "Expand", [("x", f32(3, 1))], inits=[("s", i64(2, 1, 4))]),
        Case("tile", "Tile", [("x", x23)], inits=[("r", i64(2, 3))]),
        Case("split", "Split", [("x", f32(2, 5))], inits=[("s", i64(2, 3))], attrs={"axis": 1}, outputs=2),
        Case("argmax", "ArgMax", [("x", f32(3, 4))], attrs={"axis": 1}, out_types=[I64]),
        Case("argmin_last", "ArgMin", [("x", np.array([[1, 0, 0], [2, 2, 1]], dtype=np.float32))],
             attrs={"axis": 1, "keepdims": 0, "select_last_index": 1}, out_types=[I64]),
        Case("topk", "TopK", [("x", np.array([[1, 3, 3, 2], [5, 4, 6, 4]], dtype=np.float32))], inits=[("k", i64(2))],
             out_types=[TensorProto.FLOAT, I64]),
        Case("topk_smallest", "TopK", [("x", f32(3, 5))], inits=[("k", i64(3))], attrs={"largest": 0, "axis": 0},
             out_types=[TensorProto.FLOAT, I64]),
        Case("constant_of_shape", "ConstantOfShape", [("s", i64(2, 3))], out_types=[I64],
             attrs={"value": numpy_helper.from_array(i64(7))}),
        Case("range", "Range", [("a", np.array(1.0, np.float32)), ("b", np.array(3.0, np.float32)),
                                ("c", np.array(0.4, np.float32))]),
        Case("add_dynamic", "Add", [("a", f32(2, 3)), ("b", f32(2, 3))], dims={"a": ["N", "C"], "b": ["N", "D"]}),
        Case("clip_attr", "Clip", [("x", x23)], attrs={"min": -1.0, "max": 0.5}, opset=6),
        Case("clip_inputs", "Clip", [("x", x23)], inits=[("lo", np.array(-0.5, np.float32))]),
        Case("softmax_opset11", "Softmax", [("x", f32(2, 3, 4))], opset=11),
        Case("softmax_opset13", "Softmax", [("x", f32(2, 3, 4))], attrs={"axis": 1}, opset=13),
        Case("log_softmax_opset11", "LogSoftmax", [("x", f32(2, 3, 4))], attrs={"axis": 2}, opset=11),
        Case("log_softmax_opset13", "LogSoftmax", [("x", f32(2, 3, 4))], opset=13),
        mlp_case(),
    ]
    for op in ["Neg", "Abs", "Exp", "Floor", "Ceil", "Round", "Relu", "Sigmoid", "Tanh", "Erf", "Sign", "Softplus"]:
        cases.append(Case(op.lower(), op, [("x", f32(3, 4))]))
    for op in ["Log", "Sqrt", "Reciprocal"]:
        cases.append(Case(op.lower(), op, [("x", f32(3, 4, low=0.1, high=5.0))]))
    cases.append(Case("leaky_relu", "LeakyRelu", [("x", f32(3, 4))], attrs={"alpha": 0.2}))
    cases.append(Case("hard_sigmoid", "HardSigmoid", [("x", f32(3, 4))], attrs={"alpha": 0.3, "beta": 0.4}))
    cases.append(Case("neg_int", "Neg", [("x", i64(3, -4, 0))]))
    for op in ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceLogSumExp"]:
        name = op[len("Reduce"):].lower()
        cases.append(Case(f"reduce_{name}_attr", op, [("x", f32(2, 3, 4, low=0.5, high=1.5))],
                          attrs={"axes": [0, 2], "keepdims": 0}, opset=11))
        cases.append(Case(f"reduce_{name}_input", op, [("x", f32(2, 3, 4, low=0.5, high=1.5))],
                          inits=[("a", i64(-1))], opset=18))
        cases.append(Case(f"reduce_{name}_all", op, [("x", f32(2, 3, low=0.5, high=1.5))], opset=18))
    casts = [(np.float32, TensorProto.STRING, f32(2, 3)), (np.float64, TensorProto.STRING, f32(4).astype(np.float64)),
             (np.int64, TensorProto.STRING, i64(-5, 0, 42)), (np.float32, TensorProto.INT32, f32(2, 3, low=-50, high=50)),
             (np.float32, TensorProto.INT64, f32(5, low=-1e3, high=1e3)), (np.int64, TensorProto.DOUBLE, i64(1, -2, 3)),
             (np.bool_, TensorProto.FLOAT, np.array([True, False])), (np.float32, TensorProto.BOOL,
                                                                       np.array([0, 0.5, -1], np.float32)),
             (np.object_, TensorProto.FLOAT, np.array(["1.5", " -2", "1e3", "inf"], dtype=object)),
             (np.object_, TensorProto.INT64, np.array(["12", "-3", "7"], dtype=object)),
             (np.int32, TensorProto.INT64, np.array([1, -1], np.int32))]
    for i, (_, to, x) in enumerate(casts):
        cases.append(Case(f"cast_{i}_{TensorProto.DataType.Name(to).lower()}", "Cast", [("x", x)], attrs={"to": to},
                          out_types=[to]))
    return cases


CASES = build_cases()


@pytest.fixture(scope="module")
def dense_server(tmp_path_factory) -> Iterator[FerryServe]:
    repository: Path = tmp_path_factory.mktemp("dense_ops")
    for case in CASES:
        write_model(repository, case.name, 1, case.model)
    srv = FerryServe(repository).start()
    yield srv
    if srv.proc and srv.proc.poll() is None:
        srv.stop(signal.SIGTERM)
    print("--- stderr of ferry serve (last 50 lines) ---\n" + "".join(srv.stderr_lines[-50:]))


def ferry_infer(srv: FerryServe, case: Case) -> Dict[str, np.ndarray]:
    client = httpclient.InferenceServerClient(url=srv.host_port)
    inputs = []
    for name, value in case.inputs:
        datatype = V2_DATATYPES[value.dtype.type]
        t = httpclient.InferInput(name, list(value.shape), datatype)
        t.set_data_from_numpy(value, binary_data=True)
        inputs.append(t)
    result = client.infer(case.name, inputs)
    return {o["name"]: result.as_numpy(o["name"]) for o in result.get_response()["outputs"]}


def assert_same(name: str, got: np.ndarray, want: np.ndarray) -> None:
    assert got is not None, f"output {name} missing"
    assert list(got.shape) == list(want.shape), f"output {name}: shape {got.shape}, onnxruntime {want.shape}"
    if want.dtype == object or want.dtype.kind in "SU":
        decoded = [g.decode() if isinstance(g, bytes) else g for g in got.ravel()]
        assert decoded == [str(w) for w in want.ravel()], f"output {name}"
    elif want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"output {name}")
    else:
        np.testing.assert_array_equal(got, want, err_msg=f"output {name}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matches_onnxruntime(dense_server: FerryServe, case: Case):
    session = ort.InferenceSession(case.model, providers=["CPUExecutionProvider"])
    want = session.run(None, {n: v for n, v in case.inputs})
    got = ferry_infer(dense_server, case)
    names = [o.name for o in session.get_outputs()]
    assert sorted(got) == sorted(names)
    for name, w in zip(names, want):
        assert_same(name, got[name], np.asarray(w))


def test_every_case_is_served(dense_server: FerryServe):
    assert dense_server.model_count == len(CASES)


def test_request_that_does_not_broadcast_is_refused_naming_the_node(dense_server: FerryServe):
    # Both inputs are [N, ?]: shapes that agree on the batch but not on the rest pass the signature check
    # and must be refused by the kernel, with a 400 naming it, and the server stays up.
    client = httpclient.InferenceServerClient(url=dense_server.host_port)
    inputs = []
    for name, shape in [("a", [2, 3]), ("b", [2, 2])]:
        t = httpclient.InferInput(name, shape, "FP32")
        t.set_data_from_numpy(f32(*shape))
        inputs.append(t)
    with pytest.raises(InferenceServerException) as err:
        client.infer("add_dynamic", inputs)
    assert err.value.status() in ("400", 400)
    assert "add_dynamic_node" in err.value.message() and "[2,3]" in err.value.message()
    assert dense_server.get("/v2/health/live").status_code == 200
