"""Crash recovery: `kill -9` of `ferry server` during and after a kfp-compiled pipeline run, then a
restart on the same data dir. The run continues from the store: succeeded tasks are not re-run,
the running task is re-attached (it ran once), and finished runs keep their outputs.
"""
import signal
import time
from pathlib import Path

import kfp
import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from pipelines_testing import (compile_pipeline, leaf_tasks, pipeline_server, raw_run, read_lines,
                               run_error, wait_for, wait_run)

BASE = "python:3.11"


@dsl.component(base_image=BASE)
def step(out_dir: str, name: str, seconds: float, data: Output[Dataset]) -> str:
    import os
    import time
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name + ".started"), "a") as f:
        f.write("started\n")
    time.sleep(seconds)
    with open(data.path, "w") as f:
        f.write(name)
    data.metadata["step"] = name
    with open(os.path.join(out_dir, name + ".finished"), "a") as f:
        f.write("finished\n")
    return name


@dsl.component(base_image=BASE)
def last(out_dir: str, data: Input[Dataset], previous: str) -> str:
    import os
    with open(data.path) as f:
        content = f.read()
    with open(os.path.join(out_dir, "last"), "a") as f:
        f.write(f"{content} {previous} {data.metadata['step']}\n")
    return content + "-done"


@dsl.pipeline(name="recovery")
def recovery(out_dir: str, seconds: float = 3.0):
    zero = step(out_dir=out_dir, name="zero", seconds=0.0).set_display_name("zero")
    first = step(out_dir=out_dir, name="first", seconds=seconds).set_display_name("first")
    first.after(zero)
    last(out_dir=out_dir, data=first.outputs["data"], previous=first.outputs["Output"])


def submit(server, tmp_path: Path, out: Path, seconds: float) -> str:
    package = compile_pipeline(recovery, tmp_path / "recovery.yaml")
    client = kfp.Client(host=server.url)
    return client.create_run_from_pipeline_package(str(package), arguments={"out_dir": str(out),
                                                                            "seconds": seconds}).run_id


@pytest.mark.parametrize("finish_while_down", [False, True], ids=["reattach-running", "finished-while-down"])
def test_kill9_mid_run_then_restart_completes(tmp_path: Path, finish_while_down: bool) -> None:
    data = tmp_path / "data"
    out = tmp_path / "out"
    srv = pipeline_server(data)
    try:
        run_id = submit(srv, tmp_path, out, 3.0)
        wait_for(lambda: (out / "first.started").exists(), "the first task to start")
        assert not (out / "first.finished").exists(), "the first task finished before the kill; raise seconds"
        srv.kill9()
        if finish_while_down:
            # The task outlives the server (its own process group) and exits before the restart.
            wait_for(lambda: (out / "first.finished").exists(), "the first task to finish")
        srv = pipeline_server(data)
        client = kfp.Client(host=srv.url)
        run = wait_run(client, run_id)
        assert run.state == "SUCCEEDED", run_error(srv, run)
        # Succeeded tasks were not re-run; the task running at the kill ran exactly once.
        assert read_lines(out / "zero.started") == ["started"]
        assert read_lines(out / "first.started") == ["started"]
        assert read_lines(out / "first.finished") == ["finished"]
        assert read_lines(out / "last") == ["first first first"]
        tasks = leaf_tasks(srv, run_id)
        assert {name: t["state"] for name, t in tasks.items()} == {"zero": "SUCCEEDED", "first": "SUCCEEDED",
                                                                   "last": "SUCCEEDED"}
        assert tasks["first"]["attempt"] == 1, tasks["first"]
        assert tasks["last"]["output_parameters"]["Output"] == "first-done"
    finally:
        srv.stop(signal.SIGKILL)
        print("--- stderr of the last server ---\n" + "".join(srv.stderr_lines[-100:]))


@dsl.container_component
def marked(out_dir: str, seconds: float):
    return dsl.ContainerSpec(image="alpine:3.19", command=["sh", "-c"],
                             args=['echo started >> "$0/shell.started"; sleep "$1"; '
                                   'echo finished >> "$0/shell.finished"', out_dir, seconds])


@dsl.pipeline(name="recovery-shell")
def shell_recovery(out_dir: str, seconds: float = 2.0):
    marked(out_dir=out_dir, seconds=seconds).set_caching_options(False)


def test_kill9_the_moment_a_task_starts_does_not_run_it_twice(tmp_path: Path) -> None:
    """The kill lands within milliseconds of the task's start, before the server has stored anything
    about its process (the attach token is committed up to 200 ms later, the submit precedes its
    commit). The restarted server adopts the process by its execution id."""
    data = tmp_path / "data"
    out = tmp_path / "out"
    out.mkdir()
    srv = pipeline_server(data)
    try:
        package = compile_pipeline(shell_recovery, tmp_path / "recovery-shell.yaml")
        run_id = kfp.Client(host=srv.url).create_run_from_pipeline_package(
            str(package), arguments={"out_dir": str(out), "seconds": 2.0}).run_id
        deadline = time.monotonic() + 60
        while not (out / "shell.started").exists():
            assert time.monotonic() < deadline, "the task did not start"
            time.sleep(0.002)
        srv.kill9()
        srv = pipeline_server(data)
        run = wait_run(kfp.Client(host=srv.url), run_id)
        assert run.state == "SUCCEEDED", run_error(srv, run)
        assert read_lines(out / "shell.started") == ["started"]
        assert read_lines(out / "shell.finished") == ["finished"]
        assert leaf_tasks(srv, run_id)["marked"]["attempt"] == 1
    finally:
        srv.stop(signal.SIGKILL)
        print("--- stderr of the last server ---\n" + "".join(srv.stderr_lines[-100:]))


def test_kill9_after_a_finished_run_keeps_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = tmp_path / "out"
    srv = pipeline_server(data)
    try:
        run_id = submit(srv, tmp_path, out, 0.0)
        run = wait_run(kfp.Client(host=srv.url), run_id)
        assert run.state == "SUCCEEDED", run_error(srv, run)
        before = raw_run(srv, run_id)
        srv.kill9()
        srv = pipeline_server(data)
        client = kfp.Client(host=srv.url)
        again = client.get_run(run_id)
        assert again.state == "SUCCEEDED"
        after = raw_run(srv, run_id)
        assert after["state"] == "SUCCEEDED" and after["finished_at"] == before["finished_at"]
        tasks = leaf_tasks(srv, run_id)
        assert tasks["last"]["output_parameters"]["Output"] == "first-done"
        assert tasks["first"]["output_parameters"]["Output"] == "first"
        assert "data" in tasks["first"]["outputs"]
        assert [t["task_id"] for t in after["run_details"]["task_details"]] == [
            t["task_id"] for t in before["run_details"]["task_details"]]
        assert run_id in [r.run_id for r in client.list_runs(page_size=100).runs]
        # Nothing ran again after the restart.
        assert read_lines(out / "zero.started") == ["started"]
        assert read_lines(out / "last") == ["first first first"]
    finally:
        srv.stop(signal.SIGKILL)
        print("--- stderr of the last server ---\n" + "".join(srv.stderr_lines[-100:]))
