"""InferenceServices through a real `ferry server`, its DeploymentController and its gateway.

`ferry apply -f` a KServe InferenceService whose storageUri is a file://
ONNX model, then infer with the unmodified tritonclient (and plain V2 JSON)
at the server's own address, /v2/models/EP/...: readiness, the canary split
over 10,000 requests, promotion, a rollout under concurrent load with no
failed request, scale to zero and back, a model that does not load, and a
`kill -9` of the server after which the running replica is re-attached.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient

from ferry_testing import FerryServer, ferry_bin, hermetic_env
from serving_testing import add_model

ISVCS = "/api/v1/namespaces/default/inferenceservices"
COLUMNS = 4


def isvc_yaml(name: str, uri: str, predictor: str = "", annotations: Optional[Dict[str, str]] = None) -> str:
    meta = ""
    if annotations:
        meta = "  annotations:\n" + "".join(f'    {k}: "{v}"\n' for k, v in annotations.items())
    return (f"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: {name}\n{meta}"
            f"spec:\n  predictor:\n{predictor}    model:\n      modelFormat:\n        name: onnx\n"
            f"      storageUri: {uri}\n")


def replica_pids(root: Path) -> List[int]:
    """The `ferry serve` processes whose files are under `root` (the test's data dirs)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and any(str(root).encode() in a for a in argv):
            pids.append(int(entry))
    return sorted(pids)


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Deployments:
    """One test's servers on one data dir; at the end, the servers and then their replicas are killed."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "data"
        self.servers: List[FerryServer] = []
        self.server: Optional[FerryServer] = None

    def start(self) -> FerryServer:
        self.server = FerryServer(self.data_dir).start()
        self.servers.append(self.server)
        return self.server

    def close(self) -> None:
        for srv in self.servers:
            if srv.proc and srv.proc.poll() is None:
                srv.stop(signal.SIGKILL)
        for pid in replica_pids(self.tmp_path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def model(self, name: str, addend: float) -> str:
        path = self.tmp_path / f"{name}.onnx"
        path.write_bytes(add_model(addend, COLUMNS))
        return f"file://{path}"

    def apply(self, text: str) -> None:
        manifest = self.tmp_path / "isvc.yaml"
        manifest.write_text(text)
        done = subprocess.run([ferry_bin(), "--server", self.server.url, "apply", "-f", str(manifest)],
                              capture_output=True, text=True, timeout=60, env=hermetic_env())
        assert done.returncode == 0, done.stderr

    def status(self, name: str) -> dict:
        r = requests.get(f"{self.server.url}{ISVCS}/{name}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json().get("status", {})

    def condition(self, name: str, kind: str) -> str:
        for c in self.status(name).get("conditions", []):
            if c.get("type") == kind:
                return c.get("status", "")
        return ""

    def wait_ready(self, name: str, timeout: float = 30) -> dict:
        wait_for(lambda: self.condition(name, "Ready") == "True", timeout, f"{name} Ready")
        return self.status(name)

    def traffic(self, name: str) -> Dict[str, int]:
        predictor = self.status(name).get("components", {}).get("predictor", {})
        return {t["revisionName"]: t["percent"] for t in predictor.get("traffic", [])}

    def client(self) -> httpclient.InferenceServerClient:
        return httpclient.InferenceServerClient(url=self.server.url.removeprefix("http://"))


def infer_addend(session: requests.Session, url: str, name: str) -> float:
    """The addend of the model that answered a V2 JSON request (y - x)."""
    body = {"inputs": [{"name": "x", "shape": [1, COLUMNS], "datatype": "FP32", "data": [0.0] * COLUMNS}]}
    r = session.post(f"{url}/v2/models/{name}/infer", json=body, timeout=30)
    r.raise_for_status()
    return float(r.json()["outputs"][0]["data"][0])


def triton_addend(client: httpclient.InferenceServerClient, name: str) -> float:
    x = np.arange(COLUMNS, dtype=np.float32).reshape(1, COLUMNS)
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    y = client.infer(name, [inp]).as_numpy("y")
    return float((y - x)[0, 0])


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Deployments]:
    d = Deployments(tmp_path)
    try:
        yield d
    finally:
        d.close()
        for i, srv in enumerate(d.servers):
            print(f"--- stderr of server {i} (last 100 lines) ---\n" + "".join(srv.stderr_lines[-100:]))


def test_deploy_canary_promote(deployments: Deployments):
    d = deployments
    d.start()
    plus1, plus2 = d.model("plus1", 1), d.model("plus2", 2)
    d.apply(isvc_yaml("ep", plus1))
    status = d.wait_ready("ep")
    assert status["url"] == f"{d.server.url}/v2/models/ep"
    assert status["components"]["predictor"]["latestReadyRevision"] == "ep-predictor-00001"

    client = d.client()
    assert client.is_server_live()
    assert client.is_model_ready("ep")
    assert client.get_model_metadata("ep")["name"] == "ep"
    assert triton_addend(client, "ep") == 1.0

    d.apply(isvc_yaml("ep", plus2, "    canaryTrafficPercent: 20\n"))
    wait_for(lambda: d.traffic("ep") == {"ep-predictor-00001": 80, "ep-predictor-00002": 20}, 30, "canary traffic")

    answers: Dict[float, int] = {}
    lock = threading.Lock()

    def send(n: int) -> None:
        local: Dict[float, int] = {}
        with requests.Session() as s:
            for _ in range(n):
                a = infer_addend(s, d.server.url, "ep")
                local[a] = local.get(a, 0) + 1
        with lock:
            for k, v in local.items():
                answers[k] = answers.get(k, 0) + v

    threads = [threading.Thread(target=send, args=(2500,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(answers.values()) == 10_000
    assert set(answers) == {1.0, 2.0}
    share = answers[2.0] / 10_000
    assert 0.17 <= share <= 0.23, answers

    # Promote: the field removed, all traffic to the new model.
    d.apply(isvc_yaml("ep", plus2))
    wait_for(lambda: d.traffic("ep") == {"ep-predictor-00002": 100}, 30, "promotion")
    with requests.Session() as s:
        assert {infer_addend(s, d.server.url, "ep") for _ in range(200)} == {2.0}
    # The old revision's replica is drained and stopped.
    wait_for(lambda: len(replica_pids(d.tmp_path)) == 1, 30, "the old replica to stop")


def test_rollout_under_load_loses_no_request(deployments: Deployments):
    d = deployments
    d.start()
    uris = [d.model("plus1", 1), d.model("plus2", 2), d.model("plus3", 3)]
    d.apply(isvc_yaml("ep", uris[0]))
    d.wait_ready("ep")

    stop = threading.Event()
    failures: List[str] = []
    counts = [0] * 8

    def load(i: int) -> None:
        with requests.Session() as s:
            while not stop.is_set():
                try:
                    infer_addend(s, d.server.url, "ep")
                    counts[i] += 1
                except Exception as e:  # noqa: BLE001 - every failure counts
                    failures.append(repr(e))

    threads = [threading.Thread(target=load, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    try:
        for n, uri in enumerate(uris[1:], start=2):
            d.apply(isvc_yaml("ep", uri))
            wait_for(lambda: d.traffic("ep") == {f"ep-predictor-0000{n}": 100}, 30, f"revision {n} rolled out")
            wait_for(lambda: len(replica_pids(d.tmp_path)) == 1, 30, "the old replica to stop")
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert all(c > 0 for c in counts)
    with requests.Session() as s:
        assert infer_addend(s, d.server.url, "ep") == 3.0


def test_scale_to_zero_and_back(deployments: Deployments):
    d = deployments
    d.start()
    annotations = {"autoscaling.knative.dev/scale-down-delay": "1s",
                   "autoscaling.knative.dev/scale-to-zero-pod-retention-period": "1s"}
    d.apply(isvc_yaml("ep", d.model("plus1", 1), "    minReplicas: 0\n", annotations))
    d.wait_ready("ep")
    with requests.Session() as s:
        assert infer_addend(s, d.server.url, "ep") == 1.0

    def scaled_to_zero() -> bool:
        revisions = d.status("ep").get("ferry", {}).get("revisions", [])
        return bool(revisions) and all(r["replicas"] == [] for r in revisions) and not replica_pids(d.tmp_path)

    wait_for(scaled_to_zero, 30, "scale to zero")
    assert d.condition("ep", "Ready") == "True"
    # The next request waits for a replica to start, and succeeds.
    assert triton_addend(d.client(), "ep") == 1.0
    assert len(replica_pids(d.tmp_path)) == 1


def test_a_model_that_does_not_load_keeps_the_previous_revision(deployments: Deployments):
    d = deployments
    d.start()
    d.apply(isvc_yaml("ep", d.model("plus1", 1)))
    d.wait_ready("ep")
    broken = d.tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07 this is not an onnx model")
    d.apply(isvc_yaml("ep", f"file://{broken}"))

    def failed() -> dict:
        model_status = d.status("ep").get("modelStatus", {})
        return model_status if model_status.get("states", {}).get("targetModelState") == "FailedToLoad" else {}

    model_status = wait_for(failed, 30, "FailedToLoad")
    assert model_status["transitionStatus"] == "BlockedByFailedLoad"
    assert model_status["states"]["activeModelState"] == "Loaded"
    info = model_status["lastFailureInfo"]
    assert info["modelRevisionName"] == "ep-predictor-00002"
    assert info["reason"] in ("ModelLoadFailed", "NoSupportingRuntime", "InvalidPredictorSpec")
    assert info["message"], info
    assert d.condition("ep", "Ready") == "True"
    assert d.traffic("ep") == {"ep-predictor-00001": 100}
    with requests.Session() as s:
        assert {infer_addend(s, d.server.url, "ep") for _ in range(20)} == {1.0}

    # Bad input: an endpoint that does not exist, an annotation that is no duration.
    r = requests.get(f"{d.server.url}/v2/models/nope/ready", timeout=10)
    assert r.status_code == 404
    d.apply(isvc_yaml("other", d.model("plus2", 2), annotations={"autoscaling.knative.dev/scale-down-delay": "soon"}))
    invalid = wait_for(lambda: d.status("other").get("modelStatus", {}).get("lastFailureInfo"), 10, "InvalidSpec")
    assert "autoscaling.knative.dev/scale-down-delay" in invalid["message"]
    assert d.condition("other", "Ready") == "False"


def test_kill9_of_the_server_reattaches_the_running_replica(deployments: Deployments):
    d = deployments
    d.start()
    d.apply(isvc_yaml("ep", d.model("plus1", 1)))
    status = d.wait_ready("ep")
    before = replica_pids(d.tmp_path)
    assert len(before) == 1
    replicas = status["ferry"]["revisions"][0]["replicas"]
    ready_file = d.data_dir / "serving"
    ready_files = sorted(ready_file.rglob("replica-*.ready"))
    assert len(ready_files) == 1
    address = ready_files[0].read_text()
    mtime = ready_files[0].stat().st_mtime_ns

    d.server.kill9()
    assert replica_pids(d.tmp_path) == before  # the replica outlives the server
    d.start()
    d.wait_ready("ep")
    with requests.Session() as s:
        assert infer_addend(s, d.server.url, "ep") == 1.0
    assert triton_addend(d.client(), "ep") == 1.0
    # The same process, not a new start: same pid, same ready file, same task.
    assert replica_pids(d.tmp_path) == before
    assert ready_files[0].read_text() == address
    assert ready_files[0].stat().st_mtime_ns == mtime
    after = d.status("ep")["ferry"]["revisions"][0]["replicas"]
    assert [r["task"] for r in after] == [r["task"] for r in replicas]


def test_serve_ready_file(tmp_path: Path):
    """`ferry serve --ready-file` names the bound address once the model is loaded; a path it cannot write stops it."""
    model = tmp_path / "m.onnx"
    model.write_bytes(add_model(1.0, COLUMNS))
    ready = tmp_path / "replica.ready"
    proc = subprocess.Popen([ferry_bin(), "serve", "--model", f"m={model}", "--listen", "127.0.0.1:0",
                             "--ready-file", str(ready), "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=hermetic_env())
    try:
        wait_for(ready.exists, 30, "the ready file")
        address = ready.read_text()
        assert address.endswith("\n") and address.startswith("127.0.0.1:")
        assert not Path(str(ready) + ".tmp").exists()
        r = requests.get(f"http://{address.strip()}/v2/models/m/ready", timeout=10)
        assert r.status_code == 200
    finally:
        proc.kill()
        proc.wait()

    bad = subprocess.run([ferry_bin(), "serve", "--model", f"m={model}", "--listen", "127.0.0.1:0",
                          "--ready-file", str(tmp_path / "no" / "such" / "dir" / "f")],
                         capture_output=True, text=True, timeout=30, env=hermetic_env())
    assert bad.returncode == 1
    assert "--ready-file" in bad.stderr
