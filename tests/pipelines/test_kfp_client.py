"""The unmodified `kfp.Client` (kfp 2.16.1) against `ferry server`: experiments, pipeline uploads
and versions, runs from a package and from an uploaded version, waiting, listing with sort and
paging, terminate and delete. Pipelines are the real compiler's output in
src/ferry/pipelines/testdata/. Tasks run under --task-python (this Python, which imports kfp).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Iterator

import kfp
import kfp_server_api
import pytest

from ferry_testing import ROOT, FerryServer

TESTDATA = ROOT / "src" / "ferry" / "pipelines" / "testdata"
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerryServer]:
    data = tmp_path_factory.mktemp("kfp")
    srv = FerryServer(data / "data", ("--task-python", sys.executable))
    srv.start()
    yield srv
    srv.stop()
    print("--- stderr of the server (last 100 lines) ---\n" + "".join(srv.stderr_lines[-100:]))


@pytest.fixture(scope="module")
def client(server: FerryServer) -> kfp.Client:
    return kfp.Client(host=server.url)


def wait_final(client: kfp.Client, run_id: str, timeout: float = RUN_TIMEOUT_S) -> kfp_server_api.V2beta1Run:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_run(run_id)
        if run.state in ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run.state}"
        time.sleep(0.2)


def test_healthz(client: kfp.Client) -> None:
    health = client.get_kfp_healthz()
    assert health.multi_user is False


def test_experiments(client: kfp.Client) -> None:
    default = client.get_experiment(experiment_name="Default")
    assert default.display_name == "Default"
    exp = client.create_experiment("kfp-exp", description="made by kfp.Client")
    assert exp.display_name == "kfp-exp" and exp.description == "made by kfp.Client"
    # create_experiment with an existing name returns it.
    assert client.create_experiment("kfp-exp").experiment_id == exp.experiment_id
    assert client.get_experiment(experiment_id=exp.experiment_id).display_name == "kfp-exp"
    listed = client.list_experiments(page_size=100)
    names = [e.display_name for e in listed.experiments]
    assert "Default" in names and "kfp-exp" in names
    client.archive_experiment(exp.experiment_id)
    assert client.get_experiment(experiment_id=exp.experiment_id).storage_state == "ARCHIVED"
    client.unarchive_experiment(exp.experiment_id)
    assert client.get_experiment(experiment_id=exp.experiment_id).storage_state == "AVAILABLE"
    other = client.create_experiment("kfp-exp-deleted")
    client.delete_experiment(other.experiment_id)
    with pytest.raises(kfp_server_api.ApiException) as err:
        client.get_experiment(experiment_id=other.experiment_id)
    assert err.value.status == 404
    assert json.loads(err.value.body)["code"] == 5


def test_upload_pipeline_and_versions(client: kfp.Client) -> None:
    pipeline = client.upload_pipeline(str(TESTDATA / "hello_world.yaml"), pipeline_name="hello-upload",
                                      description="greets")
    assert pipeline.display_name == "hello-upload"
    assert client.get_pipeline_id("hello-upload") == pipeline.pipeline_id
    assert client.get_pipeline(pipeline.pipeline_id).description == "greets"
    version = client.upload_pipeline_version(str(TESTDATA / "hello_world.yaml"), pipeline_version_name="v2",
                                             pipeline_id=pipeline.pipeline_id)
    assert version.pipeline_id == pipeline.pipeline_id
    versions = client.list_pipeline_versions(pipeline.pipeline_id, sort_by="created_at desc")
    assert versions.total_size == 2
    got = client.get_pipeline_version(pipeline.pipeline_id, version.pipeline_version_id)
    assert got.pipeline_spec["pipelineInfo"]["name"] == "hello-world"
    with pytest.raises(kfp_server_api.ApiException) as err:
        client.upload_pipeline(str(TESTDATA / "hello_world.yaml"), pipeline_name="hello-upload")
    assert err.value.status == 409
    listed = client.list_pipelines(page_size=100)
    assert pipeline.pipeline_id in [p.pipeline_id for p in listed.pipelines]


def test_upload_refuses_a_broken_pipeline(client: kfp.Client, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text((TESTDATA / "hello_world.yaml").read_text().replace("schemaVersion: 2.1.0",
                                                                           "schemaVersion: 9.9.9"))
    with pytest.raises(kfp_server_api.ApiException) as err:
        client.upload_pipeline(str(broken), pipeline_name="broken")
    assert err.value.status == 400
    assert "schemaVersion" in json.loads(err.value.body)["message"]


def test_run_from_package_succeeds(client: kfp.Client) -> None:
    result = client.create_run_from_pipeline_package(str(TESTDATA / "hello_world.yaml"),
                                                     arguments={"recipient": "Ferry"}, run_name="hello-run",
                                                     experiment_name="kfp-runs")
    run = client.wait_for_run_completion(result.run_id, timeout=RUN_TIMEOUT_S, sleep_duration=1)
    assert run.state == "SUCCEEDED", run.error
    assert run.display_name == "hello-run"
    assert run.runtime_config.parameters["recipient"] == "Ferry"
    assert client.get_experiment(experiment_id=run.experiment_id).display_name == "kfp-runs"
    tasks = {t.display_name: t for t in run.run_details.task_details}
    assert tasks["say-hello"].state == "SUCCEEDED"
    assert run.finished_at >= run.created_at


def test_run_from_uploaded_version(client: kfp.Client) -> None:
    pipeline = client.upload_pipeline(str(TESTDATA / "hello_world.yaml"), pipeline_name="hello-for-runs")
    versions = client.list_pipeline_versions(pipeline.pipeline_id)
    version_id = versions.pipeline_versions[0].pipeline_version_id
    exp = client.create_experiment("kfp-from-version")
    run = client.run_pipeline(exp.experiment_id, "from-version", pipeline_id=pipeline.pipeline_id,
                              version_id=version_id, params={"recipient": "version"})
    assert run.pipeline_version_reference.pipeline_version_id == version_id
    final = wait_final(client, run.run_id)
    assert final.state == "SUCCEEDED", final.error


def test_list_runs_sort_and_paging(client: kfp.Client) -> None:
    exp = client.create_experiment("kfp-listing")
    ids = []
    for i in range(3):
        r = client.create_run_from_pipeline_package(str(TESTDATA / "hello_world.yaml"), run_name=f"list-{i}",
                                                    experiment_id=exp.experiment_id)
        ids.append(r.run_id)
    page = client.list_runs(experiment_id=exp.experiment_id, page_size=2, sort_by="display_name desc")
    assert page.total_size == 3
    assert [r.display_name for r in page.runs] == ["list-2", "list-1"]
    rest = client.list_runs(experiment_id=exp.experiment_id, page_size=2, page_token=page.next_page_token)
    assert [r.display_name for r in rest.runs] == ["list-0"]
    assert not rest.next_page_token
    filtered = client.list_runs(experiment_id=exp.experiment_id, filter=json.dumps(
        {"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": "list-1"}]}))
    assert [r.run_id for r in filtered.runs] == [ids[1]]
    for run_id in ids:
        wait_final(client, run_id)


def test_terminate_and_delete(client: kfp.Client, tmp_path: Path) -> None:
    # retry.yaml's task fails twice before it succeeds, so the run is usually still going when the
    # terminate arrives; if it won the race, KFP answers 400 (FAILED_PRECONDITION) for a finished run.
    result = client.create_run_from_pipeline_package(str(TESTDATA / "retry.yaml"), run_name="to-terminate",
                                                     arguments={"marker_dir": str(tmp_path / "markers")})
    try:
        client.terminate_run(result.run_id)
        terminated = True
    except kfp_server_api.ApiException as err:
        assert err.status == 400 and json.loads(err.body)["code"] == 9, err.body
        terminated = False
    run = wait_final(client, result.run_id)
    assert run.state == ("CANCELED" if terminated else "SUCCEEDED"), run
    client.archive_run(result.run_id)
    assert client.get_run(result.run_id).storage_state == "ARCHIVED"
    client.unarchive_run(result.run_id)
    client.delete_run(result.run_id)
    with pytest.raises(kfp_server_api.ApiException) as err:
        client.get_run(result.run_id)
    assert err.value.status == 404


def test_unknown_experiment_is_404(client: kfp.Client) -> None:
    with pytest.raises(kfp_server_api.ApiException) as err:
        client.run_pipeline("no-such-experiment", "x", pipeline_package_path=str(TESTDATA / "hello_world.yaml"))
    assert err.value.status == 404
