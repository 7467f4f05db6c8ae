"""Convert an MLflow scikit-learn, XGBoost or LightGBM model to ONNX-ML and check it.

    python convert.py --model-dir DIR --flavor sklearn|xgboost|lightgbm \
        --output model.onnx --verdict verdict.json

Loads the model with its MLflow flavor, converts it (skl2onnx for
scikit-learn, onnxmltools for XGBoost and LightGBM, opsets ai.onnx 15 and
ai.onnx.ml 3), runs the converted model with onnxruntime and the original on
the model's input example (or, lacking one, on 20 rows synthesised from its
signature) and compares every output to 1e-5 (relative and absolute).

The verdict file is one JSON object:
    {"runtime": "onnx", "reason": "", "rows": 20, "max_abs_diff": 3e-8}
    {"runtime": "python", "reason": "why the converted model cannot be served"}
"onnx" means model.onnx was written and agrees with the original. The exit
status is 0 whenever a verdict was written; anything else (mlflow missing, an
unreadable model folder) exits 1 with the reason on stderr.

The Ferry server embeds this file and runs it with its --task-python; it
imports nothing from the ferry package.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Any, Dict, List, Optional, Tuple

TARGET_OPSET = {"": 15, "ai.onnx.ml": 3}
# onnxmltools takes the main opset only and picks the matching ai.onnx.ml one.
MLTOOLS_OPSET = 15
TOLERANCE = 1e-5
SYNTHETIC_ROWS = 20
INPUT_NAME = "input"


class Refusal(Exception):
    """The model cannot be served natively; the message says why."""


def write_verdict(path: str, verdict: Dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(verdict, f)
    os.replace(tmp, path)


def load_native(model_dir: str, flavor: str) -> Any:
    if flavor == "sklearn":
        import mlflow.sklearn
        return mlflow.sklearn.load_model(model_dir)
    if flavor == "xgboost":
        import mlflow.xgboost
        return mlflow.xgboost.load_model(model_dir)
    if flavor == "lightgbm":
        import mlflow.lightgbm
        return mlflow.lightgbm.load_model(model_dir)
    raise Refusal(f"flavor {flavor!r} has no ONNX converter")


def example_rows(model_dir: str) -> Tuple[Any, str]:
    """The input example as a 2-D float32 array, and where it came from."""
    import numpy as np
    from mlflow.models import Model

    meta = Model.load(os.path.join(model_dir, "MLmodel"))
    example = None
    try:
        example = meta.load_input_example(model_dir)
    except Exception as e:  # a corrupt example is as good as none
        print(f"convert.py: cannot read the input example: {e}", file=sys.stderr)
    if example is not None:
        if isinstance(example, dict):
            if len(example) != 1:
                raise Refusal("the input example has several named inputs; the native runtime takes one tensor")
            example = next(iter(example.values()))
        if hasattr(example, "dtypes"):  # pandas DataFrame
            for column, dtype in example.dtypes.items():
                if dtype.kind not in "biuf":
                    raise Refusal(f"input column {str(column)!r} is {dtype}, not numeric; "
                                  "the native runtime takes one float tensor")
        try:
            rows = np.asarray(example, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise Refusal(f"the input example is not numeric: {e}")
        if rows.ndim == 1:
            rows = rows.reshape(1, -1)
        if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] == 0:
            raise Refusal(f"the input example has shape {rows.shape}; the native runtime takes rows of features")
        return rows, "input example"

    signature = meta.signature
    if signature is None or signature.inputs is None:
        raise Refusal("the model has neither an input example nor a signature to check the conversion on")
    inputs = signature.inputs
    if inputs.is_tensor_spec():
        specs = inputs.inputs
        if len(specs) != 1:
            raise Refusal("the signature has several tensor inputs; the native runtime takes one tensor")
        shape = list(specs[0].shape)
        if len(shape) != 2 or shape[1] is None or shape[1] < 1:
            raise Refusal(f"the signature's tensor shape {shape} is not (rows, features)")
        width = int(shape[1])
    else:
        for col in inputs.inputs:
            kind = getattr(col.type, "name", str(col.type))
            if kind not in ("double", "float", "long", "integer", "boolean"):
                raise Refusal(f"input column {col.name!r} is {kind}, not numeric; "
                              "the native runtime takes one float tensor")
        width = len(inputs.inputs)
    rng = np.random.default_rng(0)
    return rng.normal(size=(SYNTHETIC_ROWS, width)).astype(np.float32), "20 rows synthesised from the signature"


def is_classifier(model: Any) -> bool:
    return hasattr(model, "predict_proba") and hasattr(model, "classes_")


def convert(model: Any, flavor: str, width: int) -> bytes:
    if flavor == "sklearn":
        from skl2onnx import convert_sklearn  # type: ignore[import-untyped]
        from skl2onnx.common.data_types import FloatTensorType  # type: ignore[import-untyped]
        options = None
        final = model.steps[-1][1] if hasattr(model, "steps") else model
        if is_classifier(final):
            # Plain tensors, not ZipMap's sequence of maps: what V2 clients read.
            options = {id(final): {"zipmap": False}}
        onx = convert_sklearn(model, initial_types=[(INPUT_NAME, FloatTensorType([None, width]))],
                              target_opset=TARGET_OPSET, options=options)
        return bytes(onx.SerializeToString())
    import onnxmltools  # type: ignore[import-untyped]
    from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat  # type: ignore[import-untyped]
    types = [(INPUT_NAME, MlFloat([None, width]))]
    if flavor == "xgboost":
        onx = onnxmltools.convert_xgboost(model, initial_types=types, target_opset=MLTOOLS_OPSET)
        return bytes(onx.SerializeToString())
    if flavor == "lightgbm":
        return bytes(onnxmltools.convert_lightgbm(model, initial_types=types, target_opset=MLTOOLS_OPSET,
                                                  zipmap=False).SerializeToString())
    raise Refusal(f"flavor {flavor!r} has no ONNX converter")


def original_outputs(model: Any, flavor: str, rows: Any) -> List[Tuple[str, Any]]:
    """What the original answers, as (role, array): role "label", "proba" or "value"."""
    import numpy as np
    if flavor == "xgboost" and not hasattr(model, "predict_proba") and not hasattr(model, "get_params"):
        import xgboost
        return [("value", np.asarray(model.predict(xgboost.DMatrix(rows))))]
    if flavor == "lightgbm" and not hasattr(model, "get_params"):  # a Booster
        return [("value", np.asarray(model.predict(rows)))]
    if is_classifier(model) or (hasattr(model, "steps") and is_classifier(model.steps[-1][1])):
        return [("label", np.asarray(model.predict(rows))), ("proba", np.asarray(model.predict_proba(rows)))]
    return [("value", np.asarray(model.predict(rows)))]


def close(got: Any, want: Any) -> Tuple[bool, float]:
    import numpy as np
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        if got.size == want.size:
            got = got.reshape(want.shape)
        else:
            return False, float("inf")
    diff = float(np.max(np.abs(got - want))) if want.size else 0.0
    return bool(np.allclose(got, want, rtol=TOLERANCE, atol=TOLERANCE)), diff


def compare(model_bytes: bytes, model: Any, flavor: str, rows: Any) -> float:
    """Max absolute difference; raises Refusal when an output disagrees."""
    import numpy as np
    import onnxruntime as ort  # type: ignore[import-untyped]
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: rows})
    names = [o.name for o in session.get_outputs()]
    numeric = [(n, g) for n, g in zip(names, got) if isinstance(g, np.ndarray)]
    if len(numeric) != len(got):
        raise Refusal("the converted model returns non-tensor outputs (a sequence of maps)")
    worst = 0.0
    for role, want in original_outputs(model, flavor, rows):
        if role == "label":
            label = numeric[0][1].reshape(-1)
            if label.shape != want.reshape(-1).shape or not all(
                    str(a) == str(b) or (_is_number(a) and _is_number(b) and float(a) == float(b))
                    for a, b in zip(label, want.reshape(-1))):
                raise Refusal("the converted model's labels differ from the original's on the "
                              f"{len(rows)} checked rows")
            continue
        # A probability or value: the last output for classifiers, the only one otherwise.
        candidate = numeric[-1][1] if role == "proba" or len(numeric) > 1 else numeric[0][1]
        if role == "value" and len(numeric) > 1:
            # A Booster classifier: the original gives P(class 1) (binary) or every class.
            candidate = numeric[-1][1]
            if want.ndim == 1 and candidate.ndim == 2 and candidate.shape[1] == 2:
                candidate = candidate[:, 1]
        ok, diff = close(candidate, want)
        worst = max(worst, diff)
        if not ok:
            raise Refusal(f"the converted model differs from the original by up to {diff:.3g} "
                          f"(tolerance {TOLERANCE:g}, relative and absolute) on output "
                          f"{numeric[-1][0] if len(numeric) > 1 else numeric[0][0]!r}")
    return worst


def _is_number(x: Any) -> bool:
    try:
        float(x)
        return True
    except (TypeError, ValueError):
        return False


def run(model_dir: str, flavor: str, output: str) -> Dict[str, Any]:
    model = load_native(model_dir, flavor)
    rows, source = example_rows(model_dir)
    try:
        model_bytes = convert(model, flavor, rows.shape[1])
    except Refusal:
        raise
    except Exception as e:
        raise Refusal(f"conversion to ONNX failed: {type(e).__name__}: {e}")
    worst = compare(model_bytes, model, flavor, rows)
    tmp = output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model_bytes)
    os.replace(tmp, output)
    return {"runtime": "onnx", "reason": "", "rows": int(rows.shape[0]), "checked_on": source,
            "max_abs_diff": worst}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", required=True, help="the MLflow model folder (holds MLmodel)")
    parser.add_argument("--flavor", required=True, choices=["sklearn", "xgboost", "lightgbm"])
    parser.add_argument("--output", required=True, help="where to write model.onnx")
    parser.add_argument("--verdict", required=True, help="where to write the JSON verdict")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.model_dir, "MLmodel")):
        print(f"convert.py: {args.model_dir} is not an MLflow model folder (no MLmodel file)", file=sys.stderr)
        return 1
    try:
        verdict = run(args.model_dir, args.flavor, args.output)
    except Refusal as e:
        verdict = {"runtime": "python", "reason": str(e)}
    except ImportError as e:
        print(f"convert.py: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        # Loading or predicting failed: the pyfunc runtime may still manage; say why.
        traceback.print_exc(file=sys.stderr)
        verdict = {"runtime": "python", "reason": f"conversion check failed: {type(e).__name__}: {e}"}
    write_verdict(args.verdict, verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
