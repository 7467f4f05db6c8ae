"""Serves the demo's champion model with `ferry serve` and sends it traffic.

    python serve_champion.py export REPOSITORY   # models:/wine-classifier@champion -> REPOSITORY/wine-classifier/1/model.onnx
    python serve_champion.py traffic URL         # V2 requests with tritonclient, checked against the labels

`export` loads the registered champion from MLflow (MLFLOW_TRACKING_URI), converts the scikit-learn
pipeline (scaler + classifier) to ONNX-ML with skl2onnx, and refuses to write it unless the
converted model's probabilities agree with the original's on the whole wine data set.
`traffic` sends every wine sample, one request each, with the stock tritonclient (binary tensors),
then one batch of all of them, and prints the accuracy and the request rate.
"""

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine

MODEL = "wine-classifier"


def export(repository: Path) -> None:
    import mlflow.sklearn
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    model = mlflow.sklearn.load_model(f"models:/{MODEL}@champion")
    x = load_wine(as_frame=True).data
    # The pipeline was fitted on float64 columns; a double input keeps the
    # converted model's arithmetic the same as scikit-learn's.
    onx = convert_sklearn(model, initial_types=[("input", DoubleTensorType([None, x.shape[1]]))],
                          options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3})
    session = ort.InferenceSession(onx.SerializeToString())
    got = session.run(["probabilities"], {"input": x.to_numpy()})[0]
    want = model.predict_proba(x)
    if not np.allclose(got, want, atol=1e-6):
        raise SystemExit(f"the ONNX conversion disagrees with the model by up to {np.abs(got - want).max():.2g}")
    target = repository / MODEL / "1" / "model.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(onx.SerializeToString())
    print(f"exported models:/{MODEL}@champion to {target} "
          f"(ONNX-ML, checked against scikit-learn on {len(x)} rows)")


def traffic(url: str) -> None:
    import tritonclient.http as httpclient

    data = load_wine()
    x, y = data.data.astype(np.float64), data.target
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    meta = client.get_model_metadata(MODEL)
    print(f"model {meta['name']} versions {meta['versions']} platform {meta['platform']}: "
          f"inputs {[(i['name'], i['datatype'], i['shape']) for i in meta['inputs']]}")

    def infer(rows):
        tensor = httpclient.InferInput("input", list(rows.shape), "FP64")
        tensor.set_data_from_numpy(rows)
        result = client.infer(MODEL, [tensor], outputs=[httpclient.InferRequestedOutput("label")])
        return result.as_numpy("label")

    start = time.perf_counter()
    labels = np.concatenate([infer(x[i:i + 1]) for i in range(len(x))])
    elapsed = time.perf_counter() - start
    batch = infer(x)
    if not np.array_equal(labels, batch):
        raise SystemExit("one-row and batched answers differ")
    print(f"{len(x)} requests, one row each: accuracy {np.mean(labels == y):.3f}, "
          f"{len(x) / elapsed:.0f} requests/s from one Python client")
    print(f"first rows: predicted {labels[:8].tolist()}, true {y[:8].tolist()}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("export", "traffic"):
        raise SystemExit(__doc__)
    export(Path(sys.argv[2])) if sys.argv[1] == "export" else traffic(sys.argv[2])
