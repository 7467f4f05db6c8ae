"""Waits for the demo's champion endpoint and sends it traffic through the gateway of `ferry server`.

    python serve_champion.py wait URL      # until InferenceService wine-classifier is Ready (or failed)
    python serve_champion.py traffic URL   # V2 requests with tritonclient, checked against the labels

`ferry deploy models:/wine-classifier@champion --name wine-classifier` made the endpoint: the server
converted the scikit-learn pipeline to ONNX-ML (or, if the conversion disagreed with the original on the
model's input example, kept it on the Python runtime) and started a `ferry serve` replica behind its
gateway. `traffic` sends every wine sample, one request each, with the stock tritonclient (binary
tensors), then one batch of all of them, and prints the accuracy and the request rate.
"""

import sys
import time

import numpy as np
import requests
from sklearn.datasets import load_wine

MODEL = "wine-classifier"
ISVC = f"/api/v1/namespaces/default/inferenceservices/{MODEL}"


def wait(url: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    status = {}
    while time.monotonic() < deadline:
        status = requests.get(url + ISVC, timeout=10).json().get("status", {})
        conditions = {c["type"]: c for c in status.get("conditions", [])}
        failure = status.get("modelStatus", {}).get("lastFailureInfo")
        if failure:
            raise SystemExit(f"{MODEL} failed: {failure.get('reason')}: {failure.get('message')}")
        if conditions.get("Ready", {}).get("status") == "True":
            traffic = status["components"]["predictor"]["traffic"]
            print(f"{MODEL} is Ready at {status.get('url')}: traffic {traffic}")
            return
        time.sleep(0.2)
    raise SystemExit(f"{MODEL} not Ready after {timeout_s:.0f}s; last status: {status}")


def traffic(url: str) -> None:
    import tritonclient.http as httpclient

    data = load_wine()
    x, y = data.data, data.target
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    meta = client.get_model_metadata(MODEL)
    inputs = meta["inputs"]
    print(f"model {meta['name']} platform {meta['platform']}: "
          f"inputs {[(i['name'], i['datatype'], i['shape']) for i in inputs][:3]}{' ...' if len(inputs) > 3 else ''}")
    dtypes = {"FP32": np.float32, "FP64": np.float64}
    output = "label" if any(o["name"] == "label" for o in meta["outputs"]) else meta["outputs"][0]["name"]

    def infer(rows):
        # One matrix input (ONNX-ML), or one [-1, 1] input per column (the Python runtime).
        if len(inputs) == 1:
            columns = [rows]
        else:
            columns = [rows[:, [k]] for k in range(rows.shape[1])]
        tensors = []
        for spec, column in zip(inputs, columns):
            column = column.astype(dtypes[spec["datatype"]])
            tensor = httpclient.InferInput(spec["name"], list(column.shape), spec["datatype"])
            tensor.set_data_from_numpy(column)
            tensors.append(tensor)
        result = client.infer(MODEL, tensors, outputs=[httpclient.InferRequestedOutput(output)])
        return result.as_numpy(output).reshape(-1)

    start = time.perf_counter()
    labels = np.concatenate([infer(x[i:i + 1]) for i in range(len(x))])
    elapsed = time.perf_counter() - start
    batch = infer(x)
    if not np.array_equal(labels, batch):
        raise SystemExit("one-row and batched answers differ")
    print(f"{len(x)} requests, one row each: accuracy {np.mean(labels == y):.3f}, "
          f"{len(x) / elapsed:.0f} requests/s from one Python client through the gateway")
    print(f"first rows: predicted {labels[:8].tolist()}, true {y[:8].tolist()}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("wait", "traffic"):
        raise SystemExit(__doc__)
    wait(sys.argv[2]) if sys.argv[1] == "wait" else traffic(sys.argv[2])
