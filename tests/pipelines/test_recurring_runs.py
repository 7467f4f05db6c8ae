"""Recurring runs through the unmodified `kfp.Client` (kfp 2.16.1): create with an interval or a
cron expression, runs appear with the recurring_run_id, get/list, disable stops new runs, enable
resumes them, delete; bad schedules are 400 naming the problem; after a kill -9 and a restart the
schedule keeps firing from what the store says. The pipeline is the shell-only
src/ferry/pipelines/testdata/engine/sum_chain.yaml (two `sh` steps), so runs are quick.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, List

import kfp
import kfp_server_api
import pytest
import requests
import yaml

from ferry_testing import ROOT, FerryServer

PIPELINE = ROOT / "src" / "ferry" / "pipelines" / "testdata" / "engine" / "sum_chain.yaml"
WAIT_S = 120


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FerryServer]:
    srv = FerryServer(tmp_path / "data", ("--task-python", sys.executable))
    srv.start()
    yield srv
    srv.stop()
    print("--- stderr of the server (last 60 lines) ---\n" + "".join(srv.stderr_lines[-60:]))


def default_experiment(client: kfp.Client) -> str:
    return client.get_experiment(experiment_name="Default").experiment_id


def runs_of(client: kfp.Client, recurring_run_id: str) -> List[kfp_server_api.V2beta1Run]:
    flt = {"predicates": [{"key": "recurring_run_id", "operation": "EQUALS", "string_value": recurring_run_id}]}
    out: List[kfp_server_api.V2beta1Run] = []
    token = ""
    while True:
        page = client.list_runs(page_token=token, page_size=100, sort_by="created_at", filter=json.dumps(flt))
        out += page.runs or []
        token = page.next_page_token or ""
        if not token:
            return out


def wait_until(what: str, pred: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def wait_all_final(client: kfp.Client, recurring_run_id: str) -> List[kfp_server_api.V2beta1Run]:
    final = {"SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"}
    wait_until("the schedule's runs to finish",
               lambda: all(r.state in final for r in runs_of(client, recurring_run_id)))
    return runs_of(client, recurring_run_id)


def create_interval(client: kfp.Client, tmp_path: Path, name: str, **kw) -> kfp_server_api.V2beta1RecurringRun:
    return client.create_recurring_run(
        experiment_id=default_experiment(client), job_name=name, description="every second",
        interval_second=1, pipeline_package_path=str(PIPELINE),
        params={"counter": str(tmp_path / f"{name}.counter"), "a": 2, "b": 3}, **kw)


def test_interval_schedule_lifecycle(server: FerryServer, tmp_path: Path) -> None:
    client = kfp.Client(host=server.url)
    rr = create_interval(client, tmp_path, "every-second", max_concurrency=2)
    assert rr.recurring_run_id
    assert rr.display_name == "every-second" and rr.description == "every second"
    assert rr.mode == "ENABLE" and rr.status == "ENABLED"
    assert rr.trigger.periodic_schedule.interval_second == "1"
    assert rr.max_concurrency == "2"
    assert rr.runtime_config.parameters["a"] == 2
    assert rr.pipeline_spec["pipelineInfo"]["name"] == "engine-sum-chain"

    got = client.get_recurring_run(rr.recurring_run_id)
    assert got.display_name == "every-second" and got.experiment_id == default_experiment(client)
    listed = client.list_recurring_runs(page_size=10)
    assert [r.recurring_run_id for r in listed.recurring_runs] == [rr.recurring_run_id]
    assert listed.total_size == 1
    by_exp = client.list_recurring_runs(experiment_id=default_experiment(client))
    assert by_exp.total_size == 1

    # Runs appear, carry the recurring_run_id, and succeed.
    wait_until("two fired runs", lambda: len(runs_of(client, rr.recurring_run_id)) >= 2)
    client.disable_recurring_run(rr.recurring_run_id)
    assert client.get_recurring_run(rr.recurring_run_id).status == "DISABLED"
    runs = wait_all_final(client, rr.recurring_run_id)
    for run in runs:
        assert run.recurring_run_id == rr.recurring_run_id
        assert run.display_name.startswith("every-second-")
        assert run.state == "SUCCEEDED", run
    assert len({r.display_name for r in runs}) == len(runs)

    # Disabled: nothing more fires.
    before = len(runs)
    time.sleep(3)
    assert len(runs_of(client, rr.recurring_run_id)) == before

    # Enabled again: firing resumes.
    client.enable_recurring_run(rr.recurring_run_id)
    assert client.get_recurring_run(rr.recurring_run_id).mode == "ENABLE"
    wait_until("a run after enabling", lambda: len(runs_of(client, rr.recurring_run_id)) > before)

    # Deleted: gone, and its runs stay.
    client.delete_recurring_run(rr.recurring_run_id)
    with pytest.raises(kfp_server_api.ApiException) as err:
        client.get_recurring_run(rr.recurring_run_id)
    assert err.value.status == 404
    after_delete = len(wait_all_final(client, rr.recurring_run_id))
    time.sleep(2)
    assert len(runs_of(client, rr.recurring_run_id)) == after_delete
    assert client.list_recurring_runs().total_size == 0


def test_cron_schedule_fires(server: FerryServer, tmp_path: Path) -> None:
    client = kfp.Client(host=server.url)
    rr = client.create_recurring_run(
        experiment_id=default_experiment(client), job_name="cron-every-second",
        cron_expression="* * * * * *", no_catchup=True, pipeline_package_path=str(PIPELINE),
        params={"counter": str(tmp_path / "cron.counter")})
    assert rr.trigger.cron_schedule.cron == "* * * * * *"
    assert rr.no_catchup is True
    wait_until("a cron-fired run", lambda: len(runs_of(client, rr.recurring_run_id)) >= 1)
    client.delete_recurring_run(rr.recurring_run_id)
    assert all(r.state == "SUCCEEDED" for r in wait_all_final(client, rr.recurring_run_id))


def test_disabled_at_creation_and_uploaded_version(server: FerryServer, tmp_path: Path) -> None:
    client = kfp.Client(host=server.url)
    pipeline = client.upload_pipeline(str(PIPELINE), pipeline_name="sum-chain-scheduled")
    version = client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions[0]
    rr = client.create_recurring_run(
        experiment_id=default_experiment(client), job_name="from-version", interval_second=1,
        pipeline_id=pipeline.pipeline_id, version_id=version.pipeline_version_id, enabled=False,
        params={"counter": str(tmp_path / "v.counter")}, start_time="2020-01-01T00:00:00Z",
        end_time="2100-01-01T00:00:00Z")
    assert rr.mode == "DISABLE" and rr.status == "DISABLED"
    assert rr.pipeline_version_reference.pipeline_version_id == version.pipeline_version_id
    assert rr.trigger.periodic_schedule.start_time is not None
    time.sleep(2)
    assert runs_of(client, rr.recurring_run_id) == []
    client.enable_recurring_run(rr.recurring_run_id)
    wait_until("a run from the uploaded version", lambda: len(runs_of(client, rr.recurring_run_id)) >= 1)
    client.delete_recurring_run(rr.recurring_run_id)
    run = wait_all_final(client, rr.recurring_run_id)[0]
    assert run.pipeline_version_reference.pipeline_version_id == version.pipeline_version_id
    assert run.state == "SUCCEEDED"


def test_bad_schedules_are_400(server: FerryServer, tmp_path: Path) -> None:
    client = kfp.Client(host=server.url)
    exp = default_experiment(client)

    def create(**kw):
        with pytest.raises(kfp_server_api.ApiException) as err:
            client.create_recurring_run(experiment_id=exp, job_name="bad", pipeline_package_path=str(PIPELINE),
                                        params={"counter": str(tmp_path / "bad")}, **kw)
        assert err.value.status == 400, err.value.body
        return json.loads(err.value.body)

    body = create(cron_expression="0 0 25 * * *")
    assert "Schedule cron is not a supported format" in body["message"]
    assert "End of range (25) above maximum (23)" in body["message"]
    assert body["code"] == 3
    assert "Expected 5 to 6 fields, found 3" in create(cron_expression="* * *")["message"]
    assert "Too many slashes" in create(cron_expression="1/2/3 * * * * *")["message"]
    assert "Support 1-10. Received 11" in create(interval_second=5, max_concurrency=11)["message"]
    assert "RFC 3339" in create(interval_second=5, start_time="yesterday")["message"]
    assert client.list_recurring_runs().total_size == 0

    with pytest.raises(kfp_server_api.ApiException) as err:
        client.get_recurring_run("no-such-schedule")
    assert err.value.status == 404
    with pytest.raises(kfp_server_api.ApiException) as err:
        client.enable_recurring_run("no-such-schedule")
    assert err.value.status == 404
    with pytest.raises(kfp_server_api.ApiException) as err:
        client.delete_recurring_run("no-such-schedule")
    assert err.value.status == 404


def test_schedule_keeps_firing_after_kill_and_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = FerryServer(data, ("--task-python", sys.executable)).start()
    try:
        client = kfp.Client(host=srv.url)
        rr = create_interval(client, tmp_path, "survivor")
        wait_until("a first run", lambda: len(runs_of(client, rr.recurring_run_id)) >= 1)
    finally:
        srv.kill9()

    srv = FerryServer(data, ("--task-python", sys.executable)).start()
    try:
        client = kfp.Client(host=srv.url)
        assert client.get_recurring_run(rr.recurring_run_id).status == "ENABLED"
        fired_before = len(runs_of(client, rr.recurring_run_id))
        assert fired_before >= 1
        wait_until("runs fired after the restart",
                   lambda: len(runs_of(client, rr.recurring_run_id)) >= fired_before + 2)
        client.disable_recurring_run(rr.recurring_run_id)
        runs = wait_all_final(client, rr.recurring_run_id)
        # Every fire has its own run (no index fired twice) and all of them ran.
        assert len({r.display_name for r in runs}) == len(runs)
        assert all(r.state == "SUCCEEDED" for r in runs), [(r.display_name, r.state) for r in runs]
    finally:
        srv.stop()


def test_malformed_requests_are_4xx_naming_the_problem(server: FerryServer) -> None:
    url = server.url + "/apis/v2beta1/recurringruns"
    exp = default_experiment(kfp.Client(host=server.url))
    pipeline_spec = yaml.safe_load(PIPELINE.read_text())
    good = {"display_name": "raw", "experiment_id": exp, "mode": "ENABLE", "max_concurrency": "1",
            "pipeline_spec": pipeline_spec, "runtime_config": {"parameters": {"counter": "/dev/null"}},
            "trigger": {"periodic_schedule": {"interval_second": "3600"}}}

    def post(body, want: int = 400) -> str:
        r = requests.post(url, data=body if isinstance(body, str) else json.dumps(body),
                          headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == want, r.text
        return r.json()["message"]

    assert post("{not json")
    assert "unknown field" in post({**good, "colour": "blue"})
    assert "recurring_run.trigger must be an object" in post({**good, "trigger": "hourly"})
    assert "not both" in post({**good, "trigger": {"cron_schedule": {"cron": "* * * * * *"},
                                                    "periodic_schedule": {"interval_second": 1}}})
    assert "interval_second must be an integer" in post(
        {**good, "trigger": {"periodic_schedule": {"interval_second": "soon"}}})
    assert "least 1 second" in post({**good, "trigger": {"periodic_schedule": {"interval_second": 0}}})
    assert "unknown recurring run mode" in post({**good, "mode": "SOMETIMES"})
    assert "Received 0" in post({k: v for k, v in good.items() if k != "max_concurrency"})
    assert "pipeline_spec or pipeline_version_reference" in post(
        {k: v for k, v in good.items() if k != "pipeline_spec"})
    assert "name is empty" in post({**good, "display_name": " "})
    post({**good, "experiment_id": "no-such-experiment"}, want=404)

    # The good body works, in camelCase too; then unknown verbs are 404.
    created = requests.post(url, json=good, timeout=30)
    assert created.status_code == 200, created.text
    rid = created.json()["recurring_run_id"]
    camel = {"displayName": "raw-camel", "experimentId": exp, "mode": "DISABLE", "maxConcurrency": 2,
             "pipelineSpec": pipeline_spec, "noCatchup": True,
             "trigger": {"cronSchedule": {"cron": "@hourly", "startTime": "2030-01-01T00:00:00Z"}}}
    r = requests.post(url, json=camel, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["trigger"] == {"cron_schedule": {"cron": "@hourly", "start_time": "2030-01-01T00:00:00Z"}}
    assert r.json()["max_concurrency"] == "2" and r.json()["no_catchup"] is True
    assert requests.post(f"{url}/{rid}:frobnicate", timeout=30).status_code == 404
    listed = requests.get(url, params={"sort_by": "display_name desc"}, timeout=30).json()
    assert [x["display_name"] for x in listed["recurringRuns"]] == ["raw-camel", "raw"]
    assert requests.get(url, params={"sort_by": "colour"}, timeout=30).status_code == 400
