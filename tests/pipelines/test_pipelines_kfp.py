"""Issue 3's test matrix: pipelines compiled here with the real kfp compiler, run on `ferry server`
through the unmodified kfp.Client (create_run_from_pipeline_func / _package, wait_for_run_completion),
outputs asserted from get_run's task details and from files the components write into `out_dir`.

Components run as KFP runs them (kfp.dsl.executor_main) under --task-python, the repo's venv.
"""

import json
import subprocess
from pathlib import Path
from typing import Dict, List, NamedTuple

import kfp
import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Output, PipelineTaskFinalStatus

from ferry_testing import FerryServer, ferry_bin, hermetic_env
from pipelines_testing import (compile_pipeline, kfp_client, kfp_server, leaf_tasks, raw_run, raw_tasks,
                               read_json, read_lines, run_error, run_func, task_states, wait_run)

__all__ = ["kfp_client", "kfp_server"]  # fixtures, used by name

BASE = "python:3.11"


# ------------------------------------------------------------------------------------ components

@dsl.component(base_image=BASE)
def say_hello(name: str, out_dir: str) -> str:
    import os
    message = f"Hello, {name}!"
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "hello.txt"), "w") as f:
        f.write(message)
    return message


@dsl.pipeline(name="hello-world")
def hello_world(out_dir: str, recipient: str = "World") -> str:
    return say_hello(name=recipient, out_dir=out_dir).output


@dsl.component(base_image=BASE)
def produce(text: str, count: int, ratio: float, flag: bool, items: list, config: dict,
            dataset: Output[Dataset]) -> NamedTuple("Outputs", rows=int, label=str):
    from collections import namedtuple
    rows = [f"{text}-{i}" for i in range(count)]
    with open(dataset.path, "w") as f:
        f.write("\n".join(rows))
    dataset.metadata["rows"] = count
    dataset.metadata["ratio"] = ratio
    dataset.metadata["flag"] = flag
    dataset.metadata["items"] = items
    dataset.metadata["config"] = config
    return namedtuple("Outputs", ["rows", "label"])(count, text.upper())


@dsl.component(base_image=BASE)
def consume(dataset: Input[Dataset], rows: int, label: str, out_dir: str):
    import json
    import os
    with open(dataset.path) as f:
        content = f.read()
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "consumed.json"), "w") as f:
        json.dump({"content": content, "metadata": dict(dataset.metadata), "rows": rows, "label": label,
                   "uri": dataset.uri}, f)


@dsl.pipeline(name="params-and-artifacts")
def params_and_artifacts(out_dir: str, text: str = "row", count: int = 3, ratio: float = 0.25,
                         flag: bool = True, items: list = [1, 2, 3], config: dict = {"a": 1, "b": "two"}):
    p = produce(text=text, count=count, ratio=ratio, flag=flag, items=items, config=config)
    consume(dataset=p.outputs["dataset"], rows=p.outputs["rows"], label=p.outputs["label"], out_dir=out_dir)


@dsl.component(base_image=BASE)
def choose(choice: str) -> str:
    return choice


@dsl.component(base_image=BASE)
def mark(out_dir: str, name: str) -> str:
    import os
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name), "w") as f:
        f.write(name)
    return name


@dsl.pipeline(name="condition")
def condition(out_dir: str, choice: str):
    coin = choose(choice=choice)
    with dsl.If(coin.output == "heads"):
        mark(out_dir=out_dir, name="heads").set_display_name("on-heads")
    with dsl.Elif(coin.output == "tails"):
        mark(out_dir=out_dir, name="tails").set_display_name("on-tails")
    with dsl.Else():
        mark(out_dir=out_dir, name="edge").set_display_name("on-edge")


@dsl.component(base_image=BASE)
def timed(out_dir: str, outer: int, inner: int) -> int:
    import os
    import time
    os.makedirs(out_dir, exist_ok=True)
    log = os.path.join(out_dir, "events.log")

    def event(kind: str) -> None:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{kind} {outer} {inner}\n".encode())
        finally:
            os.close(fd)

    event("start")
    time.sleep(0.3)
    event("end")
    return outer * inner


@dsl.component(base_image=BASE)
def record_list(out_dir: str, name: str, values: List[int]):
    import json
    import os
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name), "w") as f:
        json.dump(values, f)


@dsl.component(base_image=BASE)
def write_number(x: int, out: Output[Dataset]):
    with open(out.path, "w") as f:
        f.write(str(x))
    out.metadata["x"] = x


@dsl.component(base_image=BASE)
def read_numbers(files: Input[List[Dataset]], out_dir: str):
    import json
    import os
    values = []
    for f in files:
        with open(f.path) as handle:
            values.append([int(handle.read()), f.metadata["x"]])
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "artifacts.json"), "w") as out:
        json.dump(values, out)


@dsl.pipeline(name="nested-loops")
def nested_loops(out_dir: str, flat_dir: str, numbers: List[int] = [5, 3, 8, 1, 9]):
    with dsl.ParallelFor(items=[1, 2, 3], parallelism=2) as outer:
        with dsl.ParallelFor(items=[10, 20]) as inner:
            product = timed(out_dir=out_dir, outer=outer, inner=inner)
    record_list(out_dir=out_dir, name="nested.json", values=dsl.Collected(product.output))
    with dsl.ParallelFor(items=numbers, parallelism=2) as n:
        flat = timed(out_dir=flat_dir, outer=n, inner=1)
        written = write_number(x=n)
    record_list(out_dir=out_dir, name="flat.json", values=dsl.Collected(flat.output))
    read_numbers(files=dsl.Collected(written.outputs["out"]), out_dir=out_dir)


@dsl.component(base_image=BASE)
def fail_task(message: str):
    import sys
    print(message)
    sys.exit(3)


@dsl.component(base_image=BASE)
def exit_op(out_dir: str, status: PipelineTaskFinalStatus):
    import json
    import os
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "status.json"), "w") as f:
        json.dump({"state": status.state, "job": status.pipeline_job_resource_name,
                   "task": status.pipeline_task_name, "error_code": status.error_code,
                   "error_message": status.error_message}, f)


@dsl.pipeline(name="exit-handler")
def exit_handler(out_dir: str):
    cleanup = exit_op(out_dir=out_dir)
    with dsl.ExitHandler(cleanup, name="guarded"):
        first = mark(out_dir=out_dir, name="before-failure")
        fail_task(message="going down").after(first)


@dsl.component(base_image=BASE)
def flaky(out_dir: str, failures: int) -> int:
    import os
    os.makedirs(out_dir, exist_ok=True)
    counter = os.path.join(out_dir, "attempts")
    attempts = int(open(counter).read()) if os.path.exists(counter) else 0
    attempts += 1
    with open(counter, "w") as f:
        f.write(str(attempts))
    if attempts <= failures:
        raise RuntimeError(f"flaky failure {attempts} of {failures}")
    return attempts


@dsl.pipeline(name="retry")
def retry(out_dir: str, failures: int = 2):
    flaky(out_dir=out_dir, failures=failures).set_retry(num_retries=3)


@dsl.component(base_image=BASE)
def count_executions(out_dir: str, x: int) -> int:
    import os
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "executions"), "a") as f:
        f.write("ran\n")
    return x * 2


@dsl.pipeline(name="caching")
def caching(out_dir: str, x: int = 21):
    count_executions(out_dir=out_dir, x=x)


@dsl.component(base_image=BASE, packages_to_install=["tomli==2.2.1"])
def parse_toml(text: str, out_dir: str) -> str:
    import json
    import os
    import tomli
    parsed = tomli.loads(text)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "parsed.json"), "w") as f:
        json.dump({"parsed": parsed, "module": tomli.__file__}, f)
    return json.dumps(parsed, sort_keys=True)


@dsl.pipeline(name="packages")
def packages(out_dir: str, text: str):
    parse_toml(text=text, out_dir=out_dir)


# ------------------------------------------------------------------------------------ assertions

def assert_succeeded(server: FerryServer, run) -> None:
    assert run.state == "SUCCEEDED", run_error(server, run)


def check_hello(out: Path, tasks: Dict[str, dict]) -> None:
    assert (out / "hello.txt").read_text() == "Hello, Ferry!"
    assert tasks["say-hello"]["state"] == "SUCCEEDED"
    assert tasks["say-hello"]["output_parameters"]["Output"] == "Hello, Ferry!"


def check_params_and_artifacts(out: Path, tasks: Dict[str, dict]) -> None:
    got = read_json(out / "consumed.json")
    assert got["content"] == "row-0\nrow-1\nrow-2"
    assert got["metadata"] == {"rows": 3, "ratio": 0.25, "flag": True, "items": [1, 2, 3],
                               "config": {"a": 1, "b": "two"}}
    assert got["rows"] == 3 and got["label"] == "ROW"
    produced = tasks["produce"]
    assert produced["output_parameters"] == {"rows": 3, "label": "ROW"}
    dataset = produced["outputs"]["dataset"]
    # The consumer read the very artifact the producer wrote.
    assert got["uri"] in json.dumps(dataset), dataset
    assert tasks["consume"]["input_parameters"]["rows"] == 3


# ------------------------------------------------------------------------------------ kfp.Client

def test_hello_world(kfp_client: kfp.Client, kfp_server: FerryServer, tmp_path: Path) -> None:
    run = run_func(kfp_client, hello_world, {"out_dir": str(tmp_path), "recipient": "Ferry"})
    assert_succeeded(kfp_server, run)
    assert task_states(run)["say-hello"] == ["SUCCEEDED"]
    check_hello(tmp_path, leaf_tasks(kfp_server, run.run_id))


def test_params_and_artifacts_from_package(kfp_client: kfp.Client, kfp_server: FerryServer,
                                           tmp_path: Path) -> None:
    package = compile_pipeline(params_and_artifacts, tmp_path / "pipeline.yaml")
    out = tmp_path / "out"
    result = kfp_client.create_run_from_pipeline_package(str(package), arguments={"out_dir": str(out)},
                                                         run_name="params-and-artifacts")
    run = wait_run(kfp_client, result.run_id)
    assert_succeeded(kfp_server, run)
    assert run.runtime_config.parameters["out_dir"] == str(out)
    check_params_and_artifacts(out, leaf_tasks(kfp_server, run.run_id))
    # kfp.Client's own model carries the artifact lists too.
    produce_detail = [t for t in run.run_details.task_details if t.display_name == "produce"][0]
    assert "dataset" in produce_detail.outputs


@pytest.mark.parametrize("choice,taken", [("heads", "on-heads"), ("tails", "on-tails"), ("coin", "on-edge")])
def test_condition(kfp_client: kfp.Client, kfp_server: FerryServer, tmp_path: Path, choice: str,
                   taken: str) -> None:
    run = run_func(kfp_client, condition, {"out_dir": str(tmp_path), "choice": choice})
    assert_succeeded(kfp_server, run)
    assert sorted(p.name for p in tmp_path.iterdir()) == [taken.removeprefix("on-")]
    tasks = raw_tasks(kfp_server, run.run_id)
    by_path = {t["task_id"]: t for t in tasks}
    leaves = {t["display_name"]: t for t in tasks if t.get("kind") == "container"}
    assert leaves[taken]["state"] == "SUCCEEDED"
    # Each branch is a condition DAG; the two not taken are SKIPPED (their tasks never run).
    branches = {}
    for t in tasks:
        name = t["task_id"].rsplit("/", 1)[-1]
        if t.get("kind") == "dag" and name.startswith("condition-") and "branches" not in name:
            branches[name] = t["state"]
    assert sorted(branches.values()) == ["SKIPPED", "SKIPPED", "SUCCEEDED"], branches
    # The taken branch's DAG is the one that succeeded; the others' tasks never ran.
    assert by_path[leaves[taken]["parent_task_id"]]["state"] == "SUCCEEDED"
    ran = {name for name, leaf in leaves.items() if leaf["state"] != "SKIPPED"}
    assert ran == {"choose", taken}, leaves


def max_concurrency(events: List[str], key) -> int:
    """The most groups (key of an event's fields) active at once, from start/end lines in write order."""
    first_start: Dict[object, int] = {}
    last_end: Dict[object, int] = {}
    for i, line in enumerate(events):
        kind, outer, inner = line.split()
        k = key(int(outer), int(inner))
        if kind == "start":
            first_start.setdefault(k, i)
        else:
            last_end[k] = i
    assert first_start.keys() == last_end.keys(), events
    best = 0
    for i in range(len(events)):
        best = max(best, sum(1 for k in first_start if first_start[k] <= i <= last_end[k]))
    return best


def test_nested_parallel_for_with_limit_and_collected(kfp_client: kfp.Client, kfp_server: FerryServer,
                                                      tmp_path: Path) -> None:
    run = run_func(kfp_client, nested_loops, {"out_dir": str(tmp_path), "flat_dir": str(tmp_path / "flat")})
    assert_succeeded(kfp_server, run)
    events = read_lines(tmp_path / "events.log")
    assert sorted(e for e in events if e.startswith("start")) == sorted(
        f"start {o} {i}" for o in (1, 2, 3) for i in (10, 20))
    assert len(events) == 12
    # parallelism=2 on the outer loop: never more than two outer iterations in flight.
    assert max_concurrency(events, lambda outer, inner: outer) <= 2, events
    flat_events = read_lines(tmp_path / "flat" / "events.log")
    assert len(flat_events) == 10
    assert max_concurrency(flat_events, lambda outer, inner: outer) <= 2, flat_events
    # Collected outputs arrive in iteration order, not completion order.
    assert read_json(tmp_path / "flat.json") == [5, 3, 8, 1, 9]
    assert read_json(tmp_path / "artifacts.json") == [[5, 5], [3, 3], [8, 8], [1, 1], [9, 9]]
    nested = read_json(tmp_path / "nested.json")
    flattened = [v for group in nested for v in (group if isinstance(group, list) else [group])]
    assert flattened == [10, 20, 20, 40, 30, 60], nested


def test_exit_handler_after_failure(kfp_client: kfp.Client, kfp_server: FerryServer, tmp_path: Path) -> None:
    run = run_func(kfp_client, exit_handler, {"out_dir": str(tmp_path)})
    assert run.state == "FAILED", run_error(kfp_server, run)
    tasks = leaf_tasks(kfp_server, run.run_id)
    assert tasks["fail-task"]["state"] == "FAILED"
    assert tasks["mark"]["state"] == "SUCCEEDED"
    assert (tmp_path / "before-failure").exists()
    assert tasks["exit-op"]["state"] == "SUCCEEDED"
    status = read_json(tmp_path / "status.json")
    assert status["state"] == "FAILED", status
    assert status["task"] == "guarded" or status["task"].startswith("exit-handler"), status
    assert run.run_id in status["job"], status
    assert status["error_message"], status


def test_retry_of_a_flaky_task(kfp_client: kfp.Client, kfp_server: FerryServer, tmp_path: Path) -> None:
    run = run_func(kfp_client, retry, {"out_dir": str(tmp_path), "failures": 2})
    assert_succeeded(kfp_server, run)
    assert (tmp_path / "attempts").read_text() == "3"
    task = leaf_tasks(kfp_server, run.run_id)["flaky"]
    assert task["state"] == "SUCCEEDED" and task["attempt"] == 3, task
    assert task["output_parameters"]["Output"] == 3


def test_retry_gives_up(kfp_client: kfp.Client, kfp_server: FerryServer, tmp_path: Path) -> None:
    run = run_func(kfp_client, retry, {"out_dir": str(tmp_path), "failures": 10})
    assert run.state == "FAILED", run_error(kfp_server, run)
    # num_retries=3: the first attempt and three retries.
    assert (tmp_path / "attempts").read_text() == "4"


def test_cache_hit_on_second_run(kfp_client: kfp.Client, kfp_server: FerryServer, tmp_path: Path) -> None:
    args = {"out_dir": str(tmp_path), "x": 21}
    first = run_func(kfp_client, caching, args)
    assert_succeeded(kfp_server, first)
    second = run_func(kfp_client, caching, args)
    assert_succeeded(kfp_server, second)
    assert read_lines(tmp_path / "executions") == ["ran"]
    t1 = leaf_tasks(kfp_server, first.run_id)["count-executions"]
    t2 = leaf_tasks(kfp_server, second.run_id)["count-executions"]
    assert t1["cached"] is False and t2["cached"] is True
    assert t2["state"] == "SUCCEEDED" and t2["output_parameters"]["Output"] == 42
    # Other inputs, other key.
    third = run_func(kfp_client, caching, {"out_dir": str(tmp_path), "x": 5})
    assert_succeeded(kfp_server, third)
    assert read_lines(tmp_path / "executions") == ["ran", "ran"]
    assert leaf_tasks(kfp_server, third.run_id)["count-executions"]["cached"] is False


def test_caching_disabled_per_run(kfp_client: kfp.Client, kfp_server: FerryServer, tmp_path: Path) -> None:
    args = {"out_dir": str(tmp_path), "x": 7}
    first = run_func(kfp_client, caching, args)
    assert_succeeded(kfp_server, first)
    second = run_func(kfp_client, caching, args, enable_caching=False)
    assert_succeeded(kfp_server, second)
    third = run_func(kfp_client, caching, args, enable_caching=False)
    assert_succeeded(kfp_server, third)
    assert read_lines(tmp_path / "executions") == ["ran", "ran", "ran"]
    for run in (second, third):
        task = leaf_tasks(kfp_server, run.run_id)["count-executions"]
        assert task["cached"] is False and task["output_parameters"]["Output"] == 14


def test_packages_to_install(kfp_client: kfp.Client, kfp_server: FerryServer, tmp_path: Path) -> None:
    # (The TOML is an argument: kfp writes a multi-line default into a header comment it cannot read back.)
    run = run_func(kfp_client, packages, {"out_dir": str(tmp_path),
                                          "text": 'title = "ferry"\n[owner]\nname = "kfp"\n'})
    assert_succeeded(kfp_server, run)
    got = read_json(tmp_path / "parsed.json")
    assert got["parsed"] == {"title": "ferry", "owner": {"name": "kfp"}}
    # Imported from the environment Ferry made for the package set, not from the base interpreter.
    assert str(kfp_server.data_dir) in got["module"], got
    task = leaf_tasks(kfp_server, run.run_id)["parse-toml"]
    assert json.loads(task["output_parameters"]["Output"]) == {"owner": {"name": "kfp"}, "title": "ferry"}


# ------------------------------------------------------------------------------------ ferry run

def ferry_run_supported() -> bool:
    out = subprocess.run([ferry_bin(), "run", "--help"], capture_output=True, text=True, env=hermetic_env())
    return out.returncode == 0 and "PIPELINE" in (out.stdout + out.stderr).upper()


def ferry_run(server: FerryServer, package: Path, params: Dict[str, str]) -> subprocess.CompletedProcess:
    args = [ferry_bin(), "run", str(package), "--watch", "--server", server.url]
    for k, v in params.items():
        args += ["-p", f"{k}={v}"]
    return subprocess.run(args, capture_output=True, text=True, env=hermetic_env(), timeout=600)


def latest_run_id(kfp_client: kfp.Client, name: str) -> str:
    runs = kfp_client.list_runs(sort_by="created_at desc", page_size=50).runs
    return [r for r in runs if r.display_name == name or name in r.display_name][0].run_id


def test_ferry_run_hello_world(kfp_client: kfp.Client, kfp_server: FerryServer, tmp_path: Path) -> None:
    assert ferry_run_supported(), "`ferry run` is not implemented yet"
    package = compile_pipeline(hello_world, tmp_path / "hello.yaml")
    out = tmp_path / "out"
    done = ferry_run(kfp_server, package, {"out_dir": str(out), "recipient": "Ferry"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCEEDED" in done.stdout + done.stderr
    run_id = latest_run_id(kfp_client, "hello-world")
    assert raw_run(kfp_server, run_id)["state"] == "SUCCEEDED"
    check_hello(out, leaf_tasks(kfp_server, run_id))


def test_ferry_run_params_and_artifacts(kfp_client: kfp.Client, kfp_server: FerryServer,
                                        tmp_path: Path) -> None:
    assert ferry_run_supported(), "`ferry run` is not implemented yet"
    package = compile_pipeline(params_and_artifacts, tmp_path / "pa.yaml")
    out = tmp_path / "out"
    done = ferry_run(kfp_server, package, {"out_dir": str(out)})
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = latest_run_id(kfp_client, "params-and-artifacts")
    assert raw_run(kfp_server, run_id)["state"] == "SUCCEEDED"
    check_params_and_artifacts(out, leaf_tasks(kfp_server, run_id))


def test_ferry_run_failure_exits_nonzero(kfp_server: FerryServer, tmp_path: Path) -> None:
    assert ferry_run_supported(), "`ferry run` is not implemented yet"
    package = compile_pipeline(exit_handler, tmp_path / "exit.yaml")
    done = ferry_run(kfp_server, package, {"out_dir": str(tmp_path / "out")})
    assert done.returncode != 0, done.stdout + done.stderr
    assert "FAILED" in done.stdout + done.stderr
