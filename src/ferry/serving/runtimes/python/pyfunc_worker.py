"""One worker process of Ferry's Python runtime for MLflow pyfunc models.

`ferry serve` starts N of these as `python -u pyfunc_worker.py MODEL_DIR` and
talks to each over its stdin/stdout (one Unix socket) in frames:

    u32 header length (little-endian) | u64 body length | header (JSON) | body

The server sends a "config" frame first (how V2 tensors map to the model's
inputs and outputs, decided by the C++ side from the MLmodel signature), then
"infer" frames; the worker answers "ready" (or "error") once the model is
loaded, then one "result" or "error" frame per request. A tensor's bytes in a
body are the binary tensor extension's layout: row-major little-endian, BOOL
one byte, BYTES each element a u32 length and its bytes.

The model's own prints go to stderr (fd 1 is moved there), which the server
logs; stdout is the protocol's only. The worker exits at end of input.
"""

import json
import os
import struct
import sys
import traceback

_NUMPY_TYPES = {
    "BOOL": "bool",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


class BadInput(Exception):
    """The request cannot be fed to the model (answered InvalidArgument)."""


def read_exact(fd, n):
    chunks = []
    while n > 0:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd):
    prefix = read_exact(fd, 12)
    if prefix is None:
        return None, None
    header_len, body_len = struct.unpack("<IQ", prefix)
    header = read_exact(fd, header_len)
    body = read_exact(fd, body_len)
    if header is None or body is None:
        return None, None
    return json.loads(header.decode("utf-8")), body


def write_frame(out, header, body=b""):
    data = json.dumps(header).encode("utf-8")
    out.write(struct.pack("<IQ", len(data), len(body)))
    out.write(data)
    out.write(body)
    out.flush()


def split_bytes(buf, count, name):
    items = []
    pos = 0
    for _ in range(count):
        if pos + 4 > len(buf):
            raise BadInput(f"input '{name}': BYTES data ends inside an element length")
        (n,) = struct.unpack_from("<I", buf, pos)
        pos += 4
        if pos + n > len(buf):
            raise BadInput(f"input '{name}': BYTES element runs past the end of the data")
        items.append(bytes(buf[pos:pos + n]))
        pos += n
    if pos != len(buf):
        raise BadInput(f"input '{name}': {len(buf) - pos} bytes after the last BYTES element")
    return items


def decode_input(np, spec, meta, data):
    name = spec["name"]
    shape = meta["shape"]
    count = 1
    for d in shape:
        count *= d
    if meta["datatype"] == "BYTES":
        items = split_bytes(data, count, name)
        kind = spec.get("kind", "binary")
        if kind in ("string", "datetime"):
            try:
                items = [b.decode("utf-8") for b in items]
            except UnicodeDecodeError:
                raise BadInput(f"input '{name}': a string element is not valid UTF-8")
        array = np.empty(count, dtype=object)
        array[:] = items
        return array.reshape(shape)
    dtype = np.dtype(_NUMPY_TYPES[meta["datatype"]])
    if len(data) != count * dtype.itemsize:
        raise BadInput(f"input '{name}': {meta['datatype']} {shape} needs {count * dtype.itemsize} bytes, "
                       f"got {len(data)}")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def model_input(np, config, header, body):
    specs = {s["name"]: s for s in config["inputs"]}
    arrays = {}
    pos = 0
    for meta in header["inputs"]:
        size = meta["size"]
        spec = specs.get(meta["name"])
        if spec is None:
            raise BadInput(f"unknown input '{meta['name']}'")
        arrays[meta["name"]] = decode_input(np, spec, meta, body[pos:pos + size])
        pos += size
    for spec in config["inputs"]:
        if spec["name"] not in arrays:
            raise BadInput(f"missing input '{spec['name']}'")
    form = config["input_format"]
    if form == "dataframe":
        import pandas as pd

        columns = {}
        rows = None
        for spec in config["inputs"]:
            column = arrays[spec["name"]].reshape(-1)
            if rows is not None and len(column) != rows:
                raise BadInput(
                    f"input '{spec['name']}' has {len(column)} rows, the inputs before it {rows}")
            rows = len(column)
            if spec.get("kind") == "datetime":
                try:
                    column = pd.to_datetime(column)
                except (ValueError, TypeError) as e:
                    raise BadInput(f"input '{spec['name']}': not a datetime: {e}")
            columns[spec["column"]] = column
        return pd.DataFrame(columns)
    if form == "dict":
        return {spec["column"]: arrays[spec["name"]] for spec in config["inputs"]}
    return arrays[config["inputs"][0]["name"]]


def to_array(np, value):
    try:
        import pandas as pd

        if isinstance(value, (pd.DataFrame, pd.Series)):
            return value.to_numpy()
    except ImportError:
        pass
    return np.asarray(value)


def split_prediction(np, config, prediction):
    """The prediction as {output name: ndarray}, following the signature."""
    outputs = config["outputs"]
    if isinstance(prediction, dict):
        result = {}
        for spec in outputs:
            key = spec["column"]
            if key not in prediction:
                raise RuntimeError(f"the model's result has no '{key}' (keys: {sorted(map(str, prediction))})")
            result[spec["name"]] = to_array(np, prediction[key])
        return result
    try:
        import pandas as pd

        if isinstance(prediction, pd.DataFrame) and len(outputs) > 1:
            missing = [s["column"] for s in outputs if s["column"] not in prediction.columns]
            if missing:
                raise RuntimeError(f"the model's result has no column(s) {missing}")
            return {s["name"]: prediction[s["column"]].to_numpy() for s in outputs}
    except ImportError:
        pass
    if len(outputs) != 1:
        raise RuntimeError(
            f"the model returned one {type(prediction).__name__}, its signature declares {len(outputs)} outputs")
    array = to_array(np, prediction)
    if array.ndim == 0:
        array = array.reshape(1)
    return {outputs[0]["name"]: array}


def encode_output(np, spec, array):
    datatype = spec["datatype"]
    name = spec["name"]
    if datatype == "BYTES":
        parts = []
        for item in array.reshape(-1).tolist():
            if isinstance(item, bytes):
                raw = item
            elif isinstance(item, str):
                raw = item.encode("utf-8")
            else:
                raw = str(item).encode("utf-8")
            parts.append(struct.pack("<I", len(raw)))
            parts.append(raw)
        return b"".join(parts)
    target = np.dtype(_NUMPY_TYPES[datatype])
    if array.dtype == object or array.dtype.kind in "USV":
        try:
            converted = array.astype(target)
        except (ValueError, TypeError):
            raise RuntimeError(f"output '{name}': the model returned values that are not {datatype}")
    else:
        converted = array.astype(target)
        # A narrowing kind change (float to int, say) must not change a value.
        if array.dtype.kind != target.kind and not np.can_cast(array.dtype, target, "same_kind"):
            same = converted.astype(array.dtype) == array
            if not bool(np.all(same | (array != array))):
                raise RuntimeError(
                    f"output '{name}': the model returned {array.dtype} values that {datatype} cannot hold")
    if datatype == "BOOL":
        converted = converted.astype("u1")
    return np.ascontiguousarray(converted).tobytes()


def serve(model_dir, proto_in, proto_out):
    try:
        import numpy as np
        import mlflow.pyfunc
        from mlflow.exceptions import MlflowException
    except Exception as e:  # noqa: BLE001 - reported to the server, which refuses the model
        write_frame(proto_out, {"type": "error", "code": "FailedPrecondition",
                                "message": f"cannot import mlflow in the worker's python: {e}"})
        return
    config, _ = read_frame(proto_in)
    if config is None:
        return
    try:
        model = mlflow.pyfunc.load_model(model_dir)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        write_frame(proto_out, {"type": "error", "code": "FailedPrecondition",
                                "message": f"mlflow.pyfunc.load_model failed: {type(e).__name__}: {e}"})
        return
    write_frame(proto_out, {"type": "ready", "pid": os.getpid()})
    while True:
        header, body = read_frame(proto_in)
        if header is None:
            return
        try:
            data = model_input(np, config, header, body)
            try:
                prediction = model.predict(data)
            except MlflowException as e:
                raise BadInput(e.message)
            arrays = split_prediction(np, config, prediction)
            metas = []
            chunks = []
            for spec in config["outputs"]:
                raw = encode_output(np, spec, arrays[spec["name"]])
                metas.append({"name": spec["name"], "datatype": spec["datatype"],
                              "shape": list(arrays[spec["name"]].shape), "size": len(raw)})
                chunks.append(raw)
            write_frame(proto_out, {"type": "result", "outputs": metas}, b"".join(chunks))
        except BadInput as e:
            write_frame(proto_out, {"type": "error", "code": "InvalidArgument", "message": str(e)})
        except Exception as e:  # noqa: BLE001 - a model fault answers this request only
            traceback.print_exc()
            write_frame(proto_out, {"type": "error", "code": "Internal",
                                    "message": f"the model raised {type(e).__name__}: {e}"})


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: pyfunc_worker.py MODEL_DIR\n")
        sys.exit(2)
    # Keep the protocol's descriptors private and point fd 0/1 elsewhere, so
    # that nothing the model prints can corrupt a frame.
    proto_in = os.dup(0)
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.argv[1], proto_in, proto_out)


if __name__ == "__main__":
    main()
