#!/usr/bin/env python3
"""Model serving: `ferry serve` side by side with MLServer and Triton (issue 5).

The same two models, trained here with fixed seeds on 20 float features:
  - lr:  a scikit-learn LogisticRegression (binary);
  - gbt: an XGBoost classifier with --trees trees of depth 6 (default 300).
Each server gets them in its own native form:
  - Ferry: ONNX-ML (skl2onnx / onnxmltools, probabilities as a tensor), run by
    the native C++ runtime;
  - MLServer 1.7.1 (mlserver-sklearn, mlserver-xgboost): the joblib file and
    the XGBoost JSON model, as MLServer's docs deploy them. Its default
    parallel inference pool (one worker process) crashes at start here
    ("RuntimeError: There is no current event loop in thread 'MainThread'" in
    the worker), so inference runs in its main process (parallel_workers: 0,
    --mlserver-workers);
  - Triton: PyPI has no Triton for this Python/glibc beside the one that
    nvidia-pytriton 0.7.0 bundles, which has only the Python backend. So
    Triton serves the same ONNX files through a Python-backend model that runs
    onnxruntime (config.pbtxt + model.py written here). Its HTTP/gRPC front
    ends, scheduler and statistics are Triton's own; the compute is
    onnxruntime's.
Each server answers the probabilities of the rows it is sent (FP32 [batch,20]
in, FP32 [batch,2] out); one response per server and model is compared with
the others before any timing.

Load: perf_analyzer cannot drive MLServer (it reads the Triton model
configuration, /v2/models/M/config, which MLServer does not serve), so the
side-by-side load comes from wrk (Debian), the same fixed V2 JSON request body
per server and batch, keep-alive connections, at concurrency 1, 8 and 64 and
batch 1 and 64: requests/s, rows/s, p50/p99 latency, non-2xx count, and the
server's RSS (process tree) after the load. perf_analyzer then measures Ferry
and Triton alone over HTTP (binary tensors, its default) for the same matrix.

Runtime alone: Ferry's native ONNX runtime (bench/serving/runtime_bench, C++,
in-process, built with -DFERRY_BUILD_BENCH=ON) against onnxruntime in-process (Python: the per-call overhead of
the Python binding is part of its batch-1 number; at batch 1,000 it is not),
per row.

    .venv/bin/python bench/serving.py                      # build/release/ferry, 5 s a point
    .venv/bin/python bench/serving.py --quick              # 2 s a point, fewer points
The peers' venvs (.venv/bench-mlserver, .venv/bench-pytriton) are made on
first use from bench/requirements-serving-*.txt.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
FEATURES = 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_venv(name, requirements):
    venv = ROOT / ".venv" / name
    stamp = venv / ".bench-stamp"
    want = (ROOT / "bench" / requirements).read_text()
    if not stamp.exists() or stamp.read_text() != want:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(ROOT / "bench" / requirements)], check=True)
        stamp.write_text(want)
    return venv


# ---------------------------------------------------------------- models

def make_models(workdir: Path, trees: int):
    import joblib
    import xgboost as xgb
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType as XFloat
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    X = rng.normal(size=(4000, FEATURES)).astype(np.float32)
    y = ((X[:, 0] + 0.5 * X[:, 1] * X[:, 2] - X[:, 3] + 0.3 * rng.normal(size=len(X))) > 0).astype(int)

    lr = LogisticRegression(max_iter=1000).fit(X, y)
    gbt = xgb.XGBClassifier(n_estimators=trees, max_depth=6, learning_rate=0.1, random_state=7,
                            n_jobs=1).fit(X, y)

    onnx = {
        "lr": convert_sklearn(lr, initial_types=[("input", FloatTensorType([None, FEATURES]))],
                              options={id(lr): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3}),
        "gbt": convert_xgboost(gbt, initial_types=[("input", XFloat([None, FEATURES]))], target_opset=15),
    }
    for name, model in onnx.items():
        for server in ("ferry", "triton"):
            d = workdir / server / name / "1"
            d.mkdir(parents=True)
            (d / "model.onnx").write_bytes(model.SerializeToString())

    ml = workdir / "mlserver"
    (ml / "lr").mkdir(parents=True)
    joblib.dump(lr, ml / "lr" / "model.joblib")
    (ml / "lr" / "model-settings.json").write_text(json.dumps(
        {"name": "lr", "implementation": "mlserver_sklearn.SKLearnModel", "parameters": {"uri": "./model.joblib"}}))
    (ml / "gbt").mkdir(parents=True)
    gbt.save_model(ml / "gbt" / "model.json")
    (ml / "gbt" / "model-settings.json").write_text(json.dumps(
        {"name": "gbt", "implementation": "mlserver_xgboost.XGBoostModel", "parameters": {"uri": "./model.json"}}))

    for name, model in onnx.items():
        outputs = [o.name for o in model.graph.output]
        prob = next(o for o in outputs if "prob" in o)
        (workdir / "triton" / name / "config.pbtxt").write_text(TRITON_CONFIG.format(name=name, prob=prob))
        (workdir / "triton" / name / "1" / "model.py").write_text(TRITON_MODEL.format(prob=prob))
    return {name: next(o.name for o in m.graph.output if "prob" in o.name) for name, m in onnx.items()}


TRITON_CONFIG = """name: "{name}"
backend: "python"
max_batch_size: 1024
input [ {{ name: "input" data_type: TYPE_FP32 dims: [ 20 ] }} ]
output [ {{ name: "{prob}" data_type: TYPE_FP32 dims: [ 2 ] }} ]
instance_group [ {{ kind: KIND_CPU count: 1 }} ]
"""

TRITON_MODEL = """import os
import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        here = os.path.dirname(__file__)
        self.session = ort.InferenceSession(os.path.join(here, "model.onnx"), so)

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "input").as_numpy()
            prob = self.session.run(["{prob}"], {{"input": x}})[0].astype(np.float32)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("{prob}", prob)]))
        return responses
"""


# ---------------------------------------------------------------- servers

class Server:
    def __init__(self, name, cmd, port, env=None, cwd=None):
        self.name, self.port = name, port
        self.log = open(Path(tempfile.gettempdir()) / f"bench-serving-{name}-{port}.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                     start_new_session=True)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode}; see {self.log.name}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not become ready; see {self.log.name}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self):
        p = psutil.Process(self.proc.pid)
        return sum(q.memory_info().rss for q in [p] + p.children(recursive=True)) / 2**20

    def stop(self):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def start_ferry(binary, workdir):
    port = free_port()
    return Server("ferry", [binary, "serve", "--model-repository", str(workdir / "ferry"),
                            "--listen", f"127.0.0.1:{port}"], port)


def start_mlserver(workdir, workers):
    venv = ensure_venv("bench-mlserver", "requirements-serving-mlserver.txt")
    http, grpc, metrics = free_port(), free_port(), free_port()
    (workdir / "mlserver" / "settings.json").write_text(json.dumps(
        {"http_port": http, "grpc_port": grpc, "metrics_port": metrics, "parallel_workers": workers,
         "host": "127.0.0.1"}))
    return Server("mlserver", [str(venv / "bin" / "mlserver"), "start", "."], http, cwd=workdir / "mlserver")


def start_triton(workdir):
    venv = ensure_venv("bench-pytriton", "requirements-serving-pytriton.txt")
    base = next((venv / "lib").glob("python3*/site-packages/pytriton/tritonserver"))
    stub = next(base.glob("python_backend_stubs/3.11/triton_python_backend_stub"))
    backend = workdir / "triton-backends" / "python"
    backend.mkdir(parents=True)
    for f in (base / "backends" / "python").iterdir():
        if f.is_file():
            shutil.copy(f, backend)
    shutil.copy(stub, backend)
    http, grpc = free_port(), free_port()
    env = dict(os.environ)
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    # The backend stub, copied out of the wheel, finds the wheel's bundled
    # libraries (libcudart among them) only on the library path.
    libs = [base / "external_libs", base / "lib", base.parent.parent / "nvidia_pytriton.libs"]
    env["LD_LIBRARY_PATH"] = ":".join(str(p) for p in libs if p.exists())
    return Server("triton", [str(base / "bin" / "tritonserver"), "--model-repository", str(workdir / "triton"),
                             "--backend-directory", str(workdir / "triton-backends"),
                             "--http-port", str(http), "--grpc-port", str(grpc), "--allow-metrics", "false",
                             "--http-address", "127.0.0.1", "--log-info", "false"], http, env=env)


# ---------------------------------------------------------------- load

WRK_LUA = """wrk.method = "POST"
local f = io.open(os.getenv("BENCH_BODY"), "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %.1f %.1f %d\\n", summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99), summary.duration))
end
"""


def request_body(server, output, batch):
    x = np.random.default_rng(batch).normal(size=(batch, FEATURES)).astype(np.float32)
    body = {"inputs": [{"name": "input", "shape": [batch, FEATURES], "datatype": "FP32",
                        "data": [float(v) for v in x.ravel()]}],
            "outputs": [{"name": "predict_proba" if server == "mlserver" else output}]}
    return json.dumps(body)


def probabilities(answer):
    out = answer["outputs"][0]
    return np.asarray(out["data"], dtype=np.float64).reshape(-1, 2)


def wrk(url, body_file, concurrency, seconds, lua):
    env = dict(os.environ, BENCH_BODY=str(body_file))
    threads = 1 if concurrency == 1 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(lua),
                          url], env=env, capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)", out)
    n, status_err, sock_err, p50, p99, dur_us = m.groups()
    return {"requests": int(n), "non2xx": int(status_err), "socket_errors": int(sock_err),
            "rps": int(n) / (int(dur_us) / 1e6), "p50_ms": float(p50) / 1000, "p99_ms": float(p99) / 1000}


def perf_analyzer(model, port, concurrency, batch, seconds):
    with tempfile.NamedTemporaryFile(suffix=".csv") as csv:
        proc = subprocess.run([str(ROOT / "scripts" / "perf_analyzer"), "-m", model, "-u", f"127.0.0.1:{port}",
                               "-i", "http", "-b", str(batch), "--concurrency-range", str(concurrency),
                               "--measurement-interval", str(seconds * 1000), "--stability-percentage", "50",
                               "--max-trials", "3", "-f", csv.name], capture_output=True, text=True)
        if proc.returncode != 0:
            return {"error": (proc.stdout + proc.stderr).strip().splitlines()[-1:]}
        header, row = Path(csv.name).read_text().strip().splitlines()[:2]
        rec = dict(zip(header.split(","), row.split(",")))
        return {"infer_per_s": float(rec["Inferences/Second"]), "p50_ms": float(rec["p50 latency"]) / 1000,
                "p99_ms": float(rec["p99 latency"]) / 1000}


# ---------------------------------------------------------------- runtime alone

def runtime_alone(bench, workdir, rows_list, repeat):
    import onnxruntime as ort
    results = {}
    for name in ("lr", "gbt"):
        path = workdir / "ferry" / name / "1" / "model.onnx"
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(str(path), so)
        for rows in rows_list:
            x = np.random.default_rng(rows).normal(size=(rows, FEATURES)).astype(np.float32)
            calls = max(1, repeat // rows)
            sess.run(None, {"input": x})
            t0 = time.perf_counter_ns()
            for _ in range(calls):
                sess.run(None, {"input": x})
            ort_ns = (time.perf_counter_ns() - t0) / calls / rows
            out = subprocess.run([str(bench), str(path), str(rows), str(calls)], capture_output=True, text=True,
                                 check=True).stdout
            ferry_ns = json.loads(out)["ns_per_row"]
            results[f"{name}/rows={rows}"] = {"onnxruntime_ns_per_row": ort_ns, "ferry_ns_per_row": ferry_ns,
                                              "speedup": ort_ns / ferry_ns}
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ferry", default=str(ROOT / "build" / "release" / "ferry"))
    ap.add_argument("--driver", default=str(ROOT / "build" / "release" / "bench" / "serving" / "runtime_bench"),
                    help="the runtime driver, built with -DFERRY_BUILD_BENCH=ON")
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2 s a point")
    ap.add_argument("--peers", default="mlserver,triton")
    ap.add_argument("--mlserver-workers", type=int, default=0)
    ap.add_argument("--no-perf-analyzer", action="store_true")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    seconds = 2 if args.quick else args.seconds
    if not Path(args.driver).exists():
        ap.error(f"{args.driver} not found: configure with -DFERRY_BUILD_BENCH=ON and build runtime_bench")
    concurrencies, batches = (1, 8, 64), (1, 64)

    results = {"settings": vars(args), "cpu_count": os.cpu_count(), "wrk": {}, "perf_analyzer": {}, "rss_mb": {}}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        workdir = Path(tmp)
        outputs = make_models(workdir, args.trees)
        lua = workdir / "post.lua"
        lua.write_text(WRK_LUA)
        results["runtime_alone"] = runtime_alone(Path(args.driver), workdir, (1, 64, 1000), 20000)
        print(json.dumps(results["runtime_alone"], indent=1), flush=True)

        servers = ["ferry"] + [p for p in args.peers.split(",") if p]
        reference = {}
        for server_name in servers:
            server = {"ferry": lambda: start_ferry(args.ferry, workdir),
                      "mlserver": lambda: start_mlserver(workdir, args.mlserver_workers),
                      "triton": lambda: start_triton(workdir)}[server_name]()
            try:
                results["rss_mb"][f"{server_name}/idle"] = server.rss_mb()
                for model in ("lr", "gbt"):
                    for batch in batches:
                        body = workdir / f"{server_name}-{model}-{batch}.json"
                        body.write_text(request_body(server_name, outputs[model], batch))
                        url = f"{server.url}/v2/models/{model}/infer"
                        answer = requests.post(url, data=body.read_bytes(),
                                               headers={"Content-Type": "application/json"}, timeout=30)
                        answer.raise_for_status()
                        got = probabilities(answer.json())
                        key = (model, batch)
                        if key in reference and not np.allclose(got, reference[key], atol=1e-4):
                            raise SystemExit(f"{server_name} {model} batch {batch}: answers differ from ferry's")
                        reference.setdefault(key, got)
                        for c in concurrencies:
                            r = wrk(url, body, c, seconds, lua)
                            r["rows_per_s"] = r["rps"] * batch
                            results["wrk"][f"{server_name}/{model}/b{batch}/c{c}"] = r
                            print(server_name, model, f"b{batch}", f"c{c}", json.dumps(r), flush=True)
                results["rss_mb"][f"{server_name}/after-load"] = server.rss_mb()
                if server_name != "mlserver" and not args.no_perf_analyzer:
                    for model in ("lr", "gbt"):
                        for batch in batches:
                            for c in concurrencies:
                                r = perf_analyzer(model, server.port, c, batch, seconds)
                                results["perf_analyzer"][f"{server_name}/{model}/b{batch}/c{c}"] = r
                                print("perf_analyzer", server_name, model, f"b{batch}", f"c{c}", json.dumps(r),
                                      flush=True)
            finally:
                server.stop()

    print("\nratios (ferry / peer), wrk requests/s:")
    for key, r in results["wrk"].items():
        server, rest = key.split("/", 1)
        if server == "ferry":
            continue
        mine = results["wrk"].get(f"ferry/{rest}")
        if mine:
            print(f"  vs {server:8s} {rest:14s} {mine['rps'] / r['rps']:7.1f}x   "
                  f"p99 ferry {mine['p99_ms']:.3f} ms, {server} {r['p99_ms']:.3f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
