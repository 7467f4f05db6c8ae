"""Bad pipelines are refused at submit time with 400 and a message naming the problem, through
kfp.Client (upload_pipeline, create_run_from_pipeline_package) and raw POST /apis/v2beta1/runs.

Each bad spec is a small edit of a pipeline the kfp compiler wrote in this test (or, for the
unsupported feature, the compiler's own output of a feature Ferry does not run).
"""
import copy
import json
from pathlib import Path
from typing import Any, Callable, Dict, List

import kfp
import kfp_server_api
import pytest
import requests
import yaml
from kfp import dsl
from kfp.dsl import Dataset

from ferry_testing import FerryServer
from pipelines_testing import compile_pipeline, kfp_client, kfp_server

__all__ = ["kfp_client", "kfp_server"]  # fixtures, used by name

BASE = "python:3.11"


@dsl.component(base_image=BASE)
def echo(text: str) -> str:
    return text


@dsl.pipeline(name="two-steps")
def two_steps(text: str = "hi"):
    first = echo(text=text).set_display_name("first")
    echo(text=first.output).set_display_name("second")


@dsl.pipeline(name="workspace", pipeline_config=dsl.PipelineConfig(workspace=dsl.WorkspaceConfig(size="1Gi")))
def workspace_import():
    dsl.importer(artifact_uri="file:///tmp/ferry-bad-input/x", artifact_class=Dataset, download_to_workspace=True)


def compiled(func: Callable, tmp_path: Path) -> List[Dict[str, Any]]:
    """The compiler's YAML documents: the pipeline spec, then the platform spec if any."""
    path = compile_pipeline(func, tmp_path / f"{func.name}.yaml")
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def tasks_of(spec: Dict[str, Any]) -> Dict[str, Any]:
    return spec["root"]["dag"]["tasks"]


def bad_schema_version(spec):
    spec["schemaVersion"] = "9.9.9"


def missing_component(spec):
    tasks_of(spec)["echo"]["componentRef"]["name"] = "comp-missing"


def cyclic(spec):
    # second already depends on echo (the first) through its input; make echo depend on second.
    tasks_of(spec)["echo"]["dependentTasks"] = ["echo-2"]


def unknown_placeholder(spec):
    container = spec["deploymentSpec"]["executors"]["exec-echo"]["container"]
    container["args"] = ["{{$.inputs.parameters['nope']}}"] + container["args"]


# (name, how to break the compiled two-steps spec, words the 400 message must contain)
CASES = [
    ("schema_version", bad_schema_version, ["schemaVersion", "9.9.9"]),
    ("missing_component", missing_component, ["comp-missing", "component"]),
    ("cyclic", cyclic, ["cycle", "echo", "echo-2"]),
    ("unknown_placeholder", unknown_placeholder, ["nope", "input"]),
]


def broken_docs(tmp_path: Path, case: str) -> List[Dict[str, Any]]:
    if case == "unsupported_feature":
        return compiled(workspace_import, tmp_path)
    docs = compiled(two_steps, tmp_path)
    mutate = {name: fn for name, fn, _ in CASES}[case]
    spec = copy.deepcopy(docs[0])
    mutate(spec)
    return [spec] + docs[1:]


EXPECTED = {name: words for name, _, words in CASES}
EXPECTED["unsupported_feature"] = ["downloadToWorkspace", "not supported"]
ALL_CASES = sorted(EXPECTED)


def assert_names_problem(status: int, body: str, words: List[str]) -> None:
    assert status == 400, f"{status} {body}"
    parsed = json.loads(body)
    message = parsed.get("message") or parsed.get("error_message") or ""
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"


def write_yaml(tmp_path: Path, docs: List[Dict[str, Any]]) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=True))
    return path


@pytest.mark.parametrize("case", ALL_CASES)
def test_raw_create_run_refuses(kfp_server: FerryServer, tmp_path: Path, case: str) -> None:
    docs = broken_docs(tmp_path, case)
    body = {"display_name": f"bad-{case}", "pipeline_spec": docs[0]}
    resp = requests.post(kfp_server.url + "/apis/v2beta1/runs", json=body, timeout=30)
    assert_names_problem(resp.status_code, resp.text, EXPECTED[case])


@pytest.mark.parametrize("case", ALL_CASES)
def test_kfp_client_create_run_refuses(kfp_client: kfp.Client, tmp_path: Path, case: str) -> None:
    package = write_yaml(tmp_path, broken_docs(tmp_path, case))
    with pytest.raises(kfp_server_api.ApiException) as err:
        kfp_client.create_run_from_pipeline_package(str(package), run_name=f"bad-{case}")
    assert_names_problem(err.value.status, err.value.body, EXPECTED[case])


@pytest.mark.parametrize("case", ALL_CASES)
def test_kfp_client_upload_refuses(kfp_client: kfp.Client, tmp_path: Path, case: str) -> None:
    package = write_yaml(tmp_path, broken_docs(tmp_path, case))
    with pytest.raises(kfp_server_api.ApiException) as err:
        kfp_client.upload_pipeline(str(package), pipeline_name=f"bad-{case}")
    assert_names_problem(err.value.status, err.value.body, EXPECTED[case])
    names = [p.display_name for p in kfp_client.list_pipelines(page_size=200).pipelines or []]
    assert f"bad-{case}" not in names


MALFORMED = "pipelineInfo:\n  name: broken\nroot: {dag: [unclosed\nschemaVersion: 2.1.0\n"


def test_upload_malformed_yaml(kfp_client: kfp.Client, tmp_path: Path) -> None:
    package = tmp_path / "malformed.yaml"
    package.write_text(MALFORMED)
    with pytest.raises(kfp_server_api.ApiException) as err:
        kfp_client.upload_pipeline(str(package), pipeline_name="malformed")
    # The message says it is YAML that failed and where.
    assert_names_problem(err.value.status, err.value.body, ["yaml", "line"])


def test_raw_create_run_malformed_spec(kfp_server: FerryServer) -> None:
    # Not a JSON document at all.
    resp = requests.post(kfp_server.url + "/apis/v2beta1/runs", data=b'{"display_name": "x", "pipeline_spec": {',
                         headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 400, resp.text
    assert "json" in resp.json()["message"].lower()
    # pipeline_spec holding YAML text that does not parse.
    resp = requests.post(kfp_server.url + "/apis/v2beta1/runs",
                         json={"display_name": "x", "pipeline_spec": MALFORMED}, timeout=30)
    assert_names_problem(resp.status_code, resp.text, ["pipeline_spec"])
    # A spec that is not an object.
    resp = requests.post(kfp_server.url + "/apis/v2beta1/runs",
                         json={"display_name": "x", "pipeline_spec": [1, 2]}, timeout=30)
    assert_names_problem(resp.status_code, resp.text, ["pipeline_spec"])


def test_raw_create_run_unknown_field(kfp_server: FerryServer, tmp_path: Path) -> None:
    spec = compiled(two_steps, tmp_path)[0]
    tasks_of(spec)["echo"]["retryPolicyy"] = {"maxRetryCount": 1}
    resp = requests.post(kfp_server.url + "/apis/v2beta1/runs",
                         json={"display_name": "x", "pipeline_spec": spec}, timeout=30)
    assert_names_problem(resp.status_code, resp.text, ["retryPolicyy", "unknown field"])


def test_raw_create_run_bad_parameters(kfp_server: FerryServer, tmp_path: Path) -> None:
    spec = compiled(two_steps, tmp_path)[0]
    body = {"display_name": "x", "pipeline_spec": spec,
            "runtime_config": {"parameters": {"no_such_parameter": 1}}}
    resp = requests.post(kfp_server.url + "/apis/v2beta1/runs", json=body, timeout=30)
    assert_names_problem(resp.status_code, resp.text, ["no_such_parameter"])
    body["runtime_config"]["parameters"] = {"text": {"not": "a string"}}
    resp = requests.post(kfp_server.url + "/apis/v2beta1/runs", json=body, timeout=30)
    assert_names_problem(resp.status_code, resp.text, ["text"])


def test_server_still_serves_after_bad_input(kfp_client: kfp.Client) -> None:
    assert kfp_client.get_kfp_healthz().multi_user is False
