"""KServe InferenceService YAML through a real `ferry server`: accepted as written, refused naming the field.

`ferry apply -f` of KServe's own canary example (its gs:// storageUri swapped for a registry URI, the only
change Ferry needs) is stored and read back by `ferry get isvc`; specs Ferry cannot serve are refused with
400 and the field; `ferry deploy` creates the object and rolls it forward with a merge patch. Whether the
endpoint then serves is the controller's business (tests/serving/test_deployments*.py).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
import requests
import yaml

from ferry_testing import FerryServer, ferry_bin, hermetic_env

ISVC = "/api/v1/namespaces/{ns}/inferenceservices"

# From kserve.github.io, "Canary Rollout Example" (v0.16), unchanged but for storageUri (gs:// is refused).
KSERVE_CANARY_EXAMPLE = """\
apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "sklearn-iris"
  namespace: kserve-test
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: "models:/iris@champion"
      resources:
        requests:
          cpu: 100m
          memory: 256Mi
        limits:
          cpu: 100m
          memory: 256Mi
    canaryTrafficPercent: 10
"""

Obj = Dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    srv = FerryServer(tmp_path_factory.mktemp("isvc") / "data").start()
    yield srv
    srv.stop()
    print("--- stderr of the server (last 50 lines) ---\n" + "".join(srv.stderr_lines[-50:]))


def ferry(server: FerryServer, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([ferry_bin(), "--server", server.url, *args], input=stdin, capture_output=True, text=True,
                          env=hermetic_env(), timeout=60)


def get_isvc(server: FerryServer, ns: str, name: str) -> Obj:
    out = ferry(server, "-n", ns, "get", "isvc", name, "-o", "json")
    assert out.returncode == 0, out
    return json.loads(out.stdout)


def base(name: str) -> Obj:
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                             "storageUri": "models:/iris@champion"}}}}


def test_kserve_example_is_accepted_and_read_back(server: FerryServer, tmp_path: Path) -> None:
    path = tmp_path / "isvc.yaml"
    path.write_text(KSERVE_CANARY_EXAMPLE)
    applied = ferry(server, "apply", "-f", str(path))
    assert applied.returncode == 0, applied
    assert "sklearn-iris created" in applied.stdout, applied.stdout
    shown = get_isvc(server, "kserve-test", "sklearn-iris")
    assert shown["kind"] == "InferenceService" and shown["apiVersion"] == "serving.kserve.io/v1beta1"
    assert shown["spec"] == yaml.safe_load(KSERVE_CANARY_EXAMPLE)["spec"], shown["spec"]
    listed = ferry(server, "-n", "kserve-test", "get", "inferenceservices")
    assert listed.returncode == 0 and "sklearn-iris" in listed.stdout, listed
    again = ferry(server, "apply", "-f", str(path))
    assert again.returncode == 0 and "unchanged" in again.stdout, again


def _set(path: List[str], value: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        node = obj
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if value is None:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return mutate


P = ["spec", "predictor"]
REFUSED: Dict[str, tuple] = {
    "transformer": (_set(["spec", "transformer"], {"containers": [{"name": "t", "image": "x"}]}), "spec.transformer"),
    "explainer": (_set(["spec", "explainer"], {"art": {"type": "SquareAttack"}}), "spec.explainer"),
    "scale-metric-cpu": (_set(P + ["scaleMetric"], "cpu"), "spec.predictor.scaleMetric"),
    "canary-150": (_set(P + ["canaryTrafficPercent"], 150), "spec.predictor.canaryTrafficPercent"),
    "max-below-min": (lambda o: o["spec"]["predictor"].update(minReplicas=3, maxReplicas=2),
                      "spec.predictor.maxReplicas"),
    "missing-storage-uri": (_set(P + ["model", "storageUri"], None), "spec.predictor.model.storageUri"),
    "gs-storage-uri": (_set(P + ["model", "storageUri"], "gs://kfserving-examples/models/sklearn/1.0/model"),
                       "spec.predictor.model.storageUri"),
    "custom-container": (_set(P + ["containers"], [{"name": "kserve-container", "image": "x"}]),
                         "spec.predictor.containers"),
    "logger-url": (_set(P + ["logger"], {"mode": "all", "url": "http://message-dumper"}),
                   "spec.predictor.logger.url"),
    "runtime": (_set(P + ["model", "runtime"], "kserve-mlserver"), "spec.predictor.model.runtime"),
    "tensorflow": (lambda o: o["spec"].update(predictor={"tensorflow": {"storageUri": "file:///m"}}),
                   "spec.predictor.tensorflow"),
    "format": (_set(P + ["model", "modelFormat"], {"name": "pytorch"}), "spec.predictor.model.modelFormat.name"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unsupported_specs_are_refused_naming_the_field(server: FerryServer, case: str) -> None:
    mutate, field = REFUSED[case]
    obj = base(f"bad-{case}")
    mutate(obj)
    resp = requests.post(server.url + ISVC.format(ns="default"), json=obj, timeout=30)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "InvalidArgument" and error["field"] == field, error
    assert field in error["message"], error
    assert requests.get(server.url + ISVC.format(ns="default") + f"/bad-{case}", timeout=30).status_code == 404


def test_cli_apply_of_a_refused_spec_names_the_field(server: FerryServer, tmp_path: Path) -> None:
    obj = base("bad-cli")
    obj["spec"]["predictor"]["scaleMetric"] = "cpu"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(obj))
    out = ferry(server, "apply", "-f", str(path))
    assert out.returncode == 1, out
    assert "spec.predictor.scaleMetric" in out.stderr, out


def test_an_update_is_validated_too(server: FerryServer) -> None:
    url = server.url + ISVC.format(ns="default")
    assert requests.post(url, json=base("patched"), timeout=30).status_code == 201
    resp = requests.patch(url + "/patched", json={"spec": {"predictor": {"canaryTrafficPercent": 101}}}, timeout=30)
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "spec.predictor.canaryTrafficPercent", resp.text


def test_ferry_deploy_creates_then_rolls_forward(server: FerryServer) -> None:
    out = ferry(server, "deploy", "models:/iris@champion", "--name", "iris-ep", "--min-replicas", "0",
                "--max-replicas", "2")
    assert out.returncode == 0, out
    assert out.stdout.strip() == "inferenceservice/iris-ep deployed (models:/iris@champion)", out.stdout
    shown = get_isvc(server, "default", "iris-ep")
    predictor = shown["spec"]["predictor"]
    assert predictor["model"] == {"modelFormat": {"name": "mlflow"}, "storageUri": "models:/iris@champion"}
    assert predictor["minReplicas"] == 0 and predictor["maxReplicas"] == 2
    assert "canaryTrafficPercent" not in predictor

    out = ferry(server, "deploy", "models:/iris/2", "--name", "iris-ep", "--canary-percent", "20")
    assert out.returncode == 0, out
    predictor = get_isvc(server, "default", "iris-ep")["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == "models:/iris/2" and predictor["canaryTrafficPercent"] == 20
    assert predictor["minReplicas"] == 0, "replicas not given are kept"

    out = ferry(server, "deploy", "models:/iris/2", "--name", "iris-ep")  # promote: the canary share goes
    assert out.returncode == 0, out
    assert "canaryTrafficPercent" not in get_isvc(server, "default", "iris-ep")["spec"]["predictor"]

    # An endpoint applied from KServe's old per-framework schema is moved to predictor.model.
    old = base("old-style")
    old["spec"]["predictor"] = {"sklearn": {"storageUri": "models:/iris/1"}}
    assert requests.post(server.url + ISVC.format(ns="default"), json=old, timeout=30).status_code == 201
    out = ferry(server, "deploy", "models:/iris/2", "--name", "old-style", "--format", "sklearn")
    assert out.returncode == 0, out
    predictor = get_isvc(server, "default", "old-style")["spec"]["predictor"]
    assert "sklearn" not in predictor and predictor["model"]["modelFormat"] == {"name": "sklearn"}, predictor


def test_ferry_deploy_bad_input(server: FerryServer) -> None:
    out = ferry(server, "deploy", "models:/iris/1", "--name", "Bad_Name")
    assert out.returncode == 2 and "--name" in out.stderr, out
    out = ferry(server, "deploy", "models:/iris/1", "--name", "ep", "--canary-percent", "150")
    assert out.returncode == 2, out
    out = ferry(server, "deploy", "gs://bucket/model", "--name", "gs-ep")
    assert out.returncode == 1 and "spec.predictor.model.storageUri" in out.stderr, out
    assert requests.get(server.url + ISVC.format(ns="default") + "/gs-ep", timeout=30).status_code == 404
