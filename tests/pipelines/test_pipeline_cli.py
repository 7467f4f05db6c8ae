"""The pipeline verbs of the `ferry` CLI against the real binary: `ferry run` (with -p, --experiment,
--watch), `ferry get pipelineruns`, `ferry get run ID` (the task table), `ferry logs` (one task, every
task, --follow), `ferry cancel`, `ferry retry`, and bad input. Pipelines are the kfp compiler's output:
the engine's shell-only fixtures in src/ferry/pipelines/testdata/engine/ (fast, no Python environment)
and one compiled here that prints over time, for --follow.
"""
# No `from __future__ import annotations`: kfp reads the component annotations as types.
import re
import subprocess
import time
from pathlib import Path
from typing import Iterator, List

import pytest
import requests
from kfp import compiler, dsl

from ferry_testing import ROOT, FerryServer, ferry_bin, hermetic_env

ENGINE = ROOT / "src" / "ferry" / "pipelines" / "testdata" / "engine"
TIMEOUT_S = 300
CREATED = re.compile(r"pipelinerun/([0-9a-f-]{36}) created")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerryServer]:
    srv = FerryServer(tmp_path_factory.mktemp("cli") / "data")
    srv.start()
    yield srv
    srv.stop()
    print("--- stderr of the server (last 100 lines) ---\n" + "".join(srv.stderr_lines[-100:]))


def ferry(server: FerryServer, *args: str, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run([ferry_bin(), "--server", server.url, *args], capture_output=True, text=True,
                          env=hermetic_env(), timeout=timeout)


def start(server: FerryServer, pipeline: Path, *args: str) -> str:
    """`ferry run` without --watch; returns the new run's id."""
    out = ferry(server, "run", str(pipeline), *args)
    assert out.returncode == 0, out.stdout + out.stderr
    match = CREATED.search(out.stdout)
    assert match, out.stdout
    return match.group(1)


def run_json(server: FerryServer, run_id: str) -> dict:
    response = server.get(f"/apis/v2beta1/runs/{run_id}")
    response.raise_for_status()
    return response.json()


def wait_for(server: FerryServer, run_id: str, predicate, what: str) -> dict:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        run = run_json(server, run_id)
        if predicate(run):
            return run
        assert time.monotonic() < deadline, f"run {run_id} never got {what}: {run['state']}"
        time.sleep(0.2)


def task(run: dict, name: str) -> dict:
    return next(t for t in run["run_details"]["task_details"] if t["task_id"].split("/")[-1] == name)


# ------------------------------------------------------------------------------------------- run

def test_run_with_params_and_watch_succeeds(server: FerryServer, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    out = ferry(server, "run", str(ENGINE / "sum_chain.yaml"), "-p", f"counter={counter}", "-p", "a=5",
                "-p", "b=7", "--experiment", "cli-exp", "--watch")
    assert out.returncode == 0, out.stdout + out.stderr
    run_id = CREATED.search(out.stdout).group(1)
    # State changes as they happened, then the run's end.
    assert re.search(r"add-step  SUCCEEDED", out.stdout), out.stdout
    assert f"pipelinerun/{run_id}  SUCCEEDED" in out.stdout
    run = run_json(server, run_id)
    # "5" and "7" were typed as strings; the server made them NUMBER_INTEGERs.
    assert run["runtime_config"]["parameters"]["a"] == 5
    assert task(run, "add-step-2")["output_parameters"]["out"] == 22
    assert counter.read_text().count("add") == 2

    # The experiment was created by name and the run is in it.
    listed = ferry(server, "get", "pipelineruns", "--experiment", "cli-exp")
    assert listed.returncode == 0, listed.stderr
    assert run_id in listed.stdout and "cli-exp" in listed.stdout and "SUCCEEDED" in listed.stdout
    assert listed.stdout.splitlines()[0].split()[:4] == ["RUN", "ID", "NAME", "EXPERIMENT"]
    # A second run reuses the experiment.
    again = start(server, ENGINE / "sum_chain.yaml", "-p", f"counter={counter}", "--experiment", "cli-exp")
    wait_for(server, again, lambda r: r["state"] == "SUCCEEDED", "SUCCEEDED")
    names = ferry(server, "get", "pr", "--experiment", "cli-exp", "-o", "name")
    assert sorted(names.stdout.split()) == sorted([f"pipelinerun/{run_id}", f"pipelinerun/{again}"])


def test_watch_of_a_failing_pipeline_exits_non_zero(server: FerryServer, tmp_path: Path) -> None:
    out = ferry(server, "run", str(ENGINE / "exit.yaml"), "-p", f"counter={tmp_path / 'c'}", "-p", "code=4",
                "--watch")
    assert out.returncode == 1, out.stdout + out.stderr
    assert re.search(r"fail-step  FAILED", out.stdout), out.stdout
    # The exit handler still ran.
    assert re.search(r"status-step  SUCCEEDED", out.stdout), out.stdout
    assert "FAILED" in out.stderr


def test_get_run_shows_the_task_table(server: FerryServer, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    first = start(server, ENGINE / "sum_chain.yaml", "-p", f"counter={counter}", "-p", "a=100")
    wait_for(server, first, lambda r: r["state"] == "SUCCEEDED", "SUCCEEDED")
    second = start(server, ENGINE / "sum_chain.yaml", "-p", f"counter={counter}", "-p", "a=100")
    wait_for(server, second, lambda r: r["state"] == "SUCCEEDED", "SUCCEEDED")

    shown = ferry(server, "get", "run", second)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert f"Run ID:      {second}" in text and "State:       SUCCEEDED" in text
    assert "a=100" in text
    header = next(line for line in text.splitlines() if line.strip().startswith("TASK"))
    assert header.split() == ["TASK", "KIND", "STATE", "DURATION", "CACHED", "ATTEMPT"]
    rows = {line.split()[0]: line.split() for line in text.splitlines()[text.splitlines().index(header) + 1:]}
    # The second run's steps are cache hits of the first's.
    assert rows["add-step"][1:4] == ["container", "SUCCEEDED", rows["add-step"][3]]
    assert "yes" in rows["add-step"] and "yes" in rows["add-step-2"]
    assert counter.read_text().count("add") == 2

    # The same through the kind's own names, and as JSON (the KFP run). The "(Ns ago)" ages may
    # differ by a second between the two calls.
    def without_ages(shown: str) -> str:
        return re.sub(r"\([^()]* ago\)", "(ago)", shown)

    assert without_ages(ferry(server, "get", "pipelinerun", second).stdout) == without_ages(text)
    as_json = ferry(server, "get", f"pr/{second}", "-o", "json")
    assert as_json.returncode == 0 and f'"run_id": "{second}"' in as_json.stdout


# ------------------------------------------------------------------------------------------ logs

def test_logs_of_one_task_and_of_every_task(server: FerryServer, tmp_path: Path) -> None:
    run_id = start(server, ENGINE / "exit.yaml", "-p", f"counter={tmp_path / 'c'}")
    wait_for(server, run_id, lambda r: r["state"] == "FAILED", "FAILED")

    one = ferry(server, "logs", f"run/{run_id}", "fail-step")
    assert one.returncode == 0, one.stderr
    assert "about to fail" in one.stdout and "==>" not in one.stdout

    every = ferry(server, "logs", run_id)
    assert every.returncode == 0, every.stderr
    headers = re.findall(r"^==> (\S+)", every.stdout, re.M)
    # Every started leaf task, in task order; the one that never ran has no log.
    assert headers == ["root/exit-handler-1/echo-step", "root/exit-handler-1/fail-step", "root/status-step"]
    assert not any(h.endswith("echo-step-2") for h in headers)
    assert "about to fail" in every.stdout

    # Bounded: only the last bytes.
    tail = ferry(server, "logs", run_id, "fail-step", "--limit-bytes", "5")
    assert tail.stdout == "fail\n"

    # A task that never started is 404 naming it; an unknown one too.
    never = ferry(server, "logs", run_id, "echo-step-2")
    assert never.returncode == 1 and "echo-step-2" in never.stderr
    unknown = ferry(server, "logs", run_id, "no-such-task")
    assert unknown.returncode == 1 and "no-such-task" in unknown.stderr


@dsl.container_component
def ticker(count: int, pause: float):
    return dsl.ContainerSpec(image="alpine:3.19", command=["sh", "-c"],
                             args=['i=1; while [ $i -le "$0" ]; do echo "tick $i"; i=$((i+1)); sleep "$1"; done',
                                   count, pause])


@dsl.pipeline(name="cli-ticker")
def ticker_pipeline(count: int = 5, pause: float = 0.5):
    ticker(count=count, pause=pause).set_caching_options(False)


def test_logs_follow_streams_a_running_task(server: FerryServer, tmp_path: Path) -> None:
    package = tmp_path / "ticker.yaml"
    compiler.Compiler().compile(ticker_pipeline, str(package))
    run_id = start(server, package, "-p", "count=6", "-p", "pause=1")
    wait_for(server, run_id, lambda r: task(r, "ticker")["state"] == "RUNNING" if len(
        r.get("run_details", {}).get("task_details", [])) > 1 else False, "a running ticker")

    proc = subprocess.Popen([ferry_bin(), "--server", server.url, "logs", run_id, "ticker", "--follow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=hermetic_env())
    seen: List[str] = []
    states_while_reading: List[str] = []
    for line in proc.stdout:
        seen.append(line.strip())
        states_while_reading.append(task(run_json(server, run_id), "ticker")["state"])
    assert proc.wait(timeout=TIMEOUT_S) == 0, proc.stderr.read()
    # Every line, in order, and the stream ended by itself once the task was done.
    assert seen == [f"tick {i}" for i in range(1, 7)], seen
    # Lines arrived while the task was still running (not all at the end).
    assert "RUNNING" in states_while_reading, states_while_reading
    assert task(run_json(server, run_id), "ticker")["state"] == "SUCCEEDED"

    # Following every task of a finished run prints what is there and ends.
    done = ferry(server, "logs", run_id, "--follow")
    assert done.returncode == 0 and "tick 6" in done.stdout and "==> root/ticker <==" in done.stdout


def test_log_route_bad_input(server: FerryServer) -> None:
    base = f"{server.url}/api/v1/namespaces/default/pipelineruns"
    missing = requests.get(f"{base}/00000000-0000-0000-0000-000000000000/log", timeout=30)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"
    bad = requests.get(f"{base}/00000000-0000-0000-0000-000000000000/log?limitBytes=-1", timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "limitBytes"
    unknown = requests.get(f"{base}/00000000-0000-0000-0000-000000000000/log?tail=3", timeout=30)
    assert unknown.status_code == 400 and "tail" in unknown.json()["error"]["message"]


# ------------------------------------------------------------------------------- cancel and retry

def test_cancel_a_sleeping_run(server: FerryServer, tmp_path: Path) -> None:
    run_id = start(server, ENGINE / "sleeper.yaml", "-p", f"log={tmp_path / 'log'}",
                   "-p", f"counter={tmp_path / 'c'}", "-p", "seconds=120")
    wait_for(server, run_id, lambda r: (tmp_path / "log").exists(), "its sleep started")
    out = ferry(server, "cancel", f"run/{run_id}")
    assert out.returncode == 0, out.stderr
    assert f"pipelinerun/{run_id} canceled" in out.stdout
    run = wait_for(server, run_id, lambda r: r["state"] == "CANCELED", "CANCELED")
    assert task(run, "sleep-step")["state"] == "CANCELED"
    assert not (tmp_path / "c").exists()  # the step after never ran
    # Canceling a finished run is refused with the server's reason.
    again = ferry(server, "cancel", run_id)
    assert again.returncode == 1 and again.stderr.strip()


def test_retry_a_failed_run(server: FerryServer, tmp_path: Path) -> None:
    counter, fail_counter = tmp_path / "c", tmp_path / "f"
    run_id = start(server, ENGINE / "retry_then_fail.yaml", "-p", f"counter={counter}",
                   "-p", f"fail_counter={fail_counter}")
    wait_for(server, run_id, lambda r: r["state"] == "FAILED", "FAILED")
    out = ferry(server, "retry", run_id)
    assert out.returncode == 0, out.stderr
    assert f"pipelinerun/{run_id} retried" in out.stdout
    run = wait_for(server, run_id, lambda r: r["state"] == "SUCCEEDED", "SUCCEEDED")
    assert task(run, "flaky-step")["state"] == "SUCCEEDED"
    assert fail_counter.read_text().count("flaky") == 2
    # The step that had succeeded kept its output and did not run again.
    assert counter.read_text().count("add") == 2


# ------------------------------------------------------------------------------------- bad input

def test_bad_input(server: FerryServer, tmp_path: Path) -> None:
    missing = ferry(server, "run", str(tmp_path / "nope.yaml"))
    assert missing.returncode != 0 and "nope.yaml" in missing.stderr

    malformed = tmp_path / "bad.yaml"
    malformed.write_text("pipelineInfo: [unclosed\n")
    bad = ferry(server, "run", str(malformed))
    assert bad.returncode != 0 and "bad.yaml" in bad.stderr

    unknown = ferry(server, "run", str(ENGINE / "sum_chain.yaml"), "-p", "counter=/tmp/x", "-p", "nosuch=1")
    assert unknown.returncode == 1 and "nosuch" in unknown.stderr, unknown.stderr

    wrong_type = ferry(server, "run", str(ENGINE / "sum_chain.yaml"), "-p", "counter=/tmp/x", "-p", "a=three")
    assert wrong_type.returncode == 1 and "three" in wrong_type.stderr, wrong_type.stderr

    no_equals = ferry(server, "run", str(ENGINE / "sum_chain.yaml"), "-p", "counter")
    assert no_equals.returncode == 2 and "name=value" in no_equals.stderr

    not_a_run = ferry(server, "logs", "run/42")
    assert not_a_run.returncode == 2 and "not a pipeline run id" in not_a_run.stderr
    gone = ferry(server, "get", "run", "00000000-0000-0000-0000-000000000000")
    assert gone.returncode == 1 and gone.stderr.strip()
