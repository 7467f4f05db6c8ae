#!/usr/bin/env python3
"""MLflow tracking workloads, `ferry server` side by side with `mlflow server` (SQLite backend).

Both servers are started by this script on fresh data dirs and free ports, one after the other
(never at the same time, so they do not compete for the CPUs), and driven by the same client
code: the stock `mlflow` client (MlflowClient), plus raw HTTP requests for the server-side time.

  (a) ingest: MlflowClient.log_batch with batches of 1,000 metrics (50 keys x 20 steps) into one
      run, from one client thread; metrics/s. Also as raw HTTP requests with the bodies
      serialised beforehand (the server's share; the client's proto serialisation is not free).
  (b) search: MlflowClient.search_runs with a metric and a param filter, ordered by another
      metric, first page of 100 (what the MLflow UI asks for), over 1k, 10k and 100k runs in one
      experiment (grown in place: 1k runs, measure, grow to 10k, measure, ...). Each run has two
      metrics, two params and a tag. Ferry gets them through its REST API (create_run +
      log_batch from --threads client threads). `mlflow server` answers only a few dozen runs/s
      that way on a small machine (100k runs would take hours), so by default its runs are
      written straight into its SQLite store through MLflow's own SQLAlchemy models, the same
      rows its create_run + log_batch write (--mlflow-populate rest does it through REST
      instead). Population is not timed as part of (b). Median of --repeats searches; the script
      checks that both servers return the same runs in the same order. A call that takes longer
      than 15 s is timed once rather than --repeats times (MLflow at 100k runs).
  (c) metric history: MlflowClient.get_metric_history of one metric with 1k, 10k and 100k points
      (logged with log_batch, 1,000 per call); median of --repeats reads.
  (d) memory: VmRSS and PSS of the server's process tree after all of the above.

For (b) and (c) the table shows the time through MlflowClient (what a user waits for, including
the client's own parsing) and through a raw HTTP request (request sent until the whole body is
read: the server's share).

--max-runs / --max-points cap the largest sizes (populating Ferry with 100k runs through REST
takes minutes), and --quick runs a small smoke version (sizes 100 and 1,000, fewer repeats).

    .venv/bin/python bench/mlflow_tracking.py
    .venv/bin/python bench/mlflow_tracking.py --quick
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import ROOT, free_port, machine, stop, tree_memory, wait_ready  # noqa: E402

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "600")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

NOW = 1_700_000_000_000
SEARCH_FILTER = "metrics.accuracy > 0.5 and params.optimizer = 'adam'"
SEARCH_ORDER = ["metrics.loss ASC"]
SEARCH_PAGE = 100
GOAL_SPEEDUP = 20.0
GOAL_RSS_FRACTION = 0.2


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen
    log: List[str]
    db_uri: str = ""  # mlflow's backend store


@dataclass
class Results:
    name: str
    ingest_metrics_per_s: float = 0.0
    ingest_seconds: float = 0.0
    populate_runs_per_s: float = 0.0
    populate_how: str = "REST"
    ingest_http_metrics_per_s: float = 0.0
    search_client_ms: Dict[int, float] = field(default_factory=dict)
    search_http_ms: Dict[int, float] = field(default_factory=dict)
    search_top: Dict[int, List[str]] = field(default_factory=dict)
    history_client_ms: Dict[int, float] = field(default_factory=dict)
    history_http_ms: Dict[int, float] = field(default_factory=dict)
    rss_mb: float = 0.0
    pss_mb: float = 0.0
    processes: int = 0


def start(name: str, command: List[str], cwd: Path, ready_path: str, env: Optional[Dict[str, str]] = None,
          port: int = 0) -> Server:
    log: List[str] = []
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, cwd=cwd, env=dict(os.environ, **(env or {})))

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)

    threading.Thread(target=read, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url + ready_path, time.perf_counter(), log)
    except Exception:
        stop(proc)
        raise
    return Server(name, url, proc, log)


def start_ferry(binary: str, directory: Path) -> Server:
    port = free_port()
    return start("ferry", [binary, "server", "--listen", f"127.0.0.1:{port}", "--data-dir", str(directory / "data")],
                 directory, "/readyz", port=port)


def start_mlflow(directory: Path, workers: int) -> Server:
    port = free_port()
    db_uri = f"sqlite:///{directory}/mlflow.db"
    server = start("mlflow", [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                              "--backend-store-uri", db_uri, "--artifacts-destination", str(directory / "artifacts"),
                              "--workers", str(workers)],
                   directory, "/health", env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, port=port)
    server.db_uri = db_uri
    return server


SLOW_CALL_S = 15.0


def median_ms(fn: Callable[[], object], repeats: int) -> Tuple[float, object]:
    """Median wall time of `repeats` calls in ms (after one warm-up call), and the last result.

    A call slower than SLOW_CALL_S is measured once (its first call is the sample): MLflow's
    search over 100k runs takes minutes per call, and repeating it would not change the picture.
    """
    t0 = time.perf_counter()
    result = fn()
    first_ms = (time.perf_counter() - t0) * 1000
    if first_ms > SLOW_CALL_S * 1000:
        return first_ms, result
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


# --- (a) ingest -------------------------------------------------------------------------------------------

def ingest(client: MlflowClient, experiment_id: str, batches: int) -> Tuple[float, float]:
    run_id = client.create_run(experiment_id, run_name="ingest").info.run_id
    payloads = [[Metric(f"m{k}", random.random(), NOW + b * 20 + s, b * 20 + s) for k in range(50) for s in range(20)]
                for b in range(batches)]
    t0 = time.perf_counter()
    for metrics in payloads:
        client.log_batch(run_id, metrics=metrics)
    elapsed = time.perf_counter() - t0
    return batches * 1000 / elapsed, elapsed


def ingest_http(client: MlflowClient, session: requests.Session, url: str, experiment_id: str,
                batches: int) -> float:
    """The same ingest as raw HTTP requests with bodies serialised beforehand: the server's share."""
    run_id = client.create_run(experiment_id, run_name="ingest-http").info.run_id
    bodies = [json.dumps({"run_id": run_id, "metrics": [
        {"key": f"m{k}", "value": random.random(), "timestamp": NOW + b * 20 + s, "step": b * 20 + s}
        for k in range(50) for s in range(20)]}) for b in range(batches)]
    t0 = time.perf_counter()
    for body in bodies:
        session.post(f"{url}/api/2.0/mlflow/runs/log-batch", data=body, timeout=600,
                     headers={"Content-Type": "application/json"}).raise_for_status()
    return batches * 1000 / (time.perf_counter() - t0)


# --- (b) search -------------------------------------------------------------------------------------------

def run_values(i: int) -> Dict[str, object]:
    """Run i's name, start time, tag, metrics and params; the same on both servers."""
    rng = random.Random(i)
    return {"name": f"run-{i:06d}", "start": NOW + i, "team": rng.choice(["vision", "nlp", "tabular"]),
            "accuracy": rng.random(), "loss": rng.random(), "optimizer": rng.choice(["adam", "sgd", "rmsprop"]),
            "lr": str(rng.choice([0.1, 0.01, 0.001]))}


def make_run(client: MlflowClient, experiment_id: str, i: int) -> None:
    v = run_values(i)
    run = client.create_run(experiment_id, start_time=v["start"], run_name=v["name"], tags={"team": v["team"]})
    client.log_batch(run.info.run_id,
                     metrics=[Metric("accuracy", v["accuracy"], v["start"], 0), Metric("loss", v["loss"], v["start"], 0)],
                     params=[Param("optimizer", v["optimizer"]), Param("lr", v["lr"])])


def populate_mlflow_db(db_uri: str, experiment_id: str, start_i: int, end_i: int) -> float:
    """Writes runs i in [start_i, end_i) straight into `mlflow server`'s SQLite store, through
    MLflow's own SQLAlchemy models: the rows its create_run + log_batch write for make_run's calls
    (the run, its mlflow.runName and team tags, two params, two metrics and their latest values)."""
    import uuid

    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(db_uri, "mlflow-artifacts:/")
    t0 = time.perf_counter()
    for chunk in range(start_i, end_i, 5000):
        rows: List[object] = []
        for i in range(chunk, min(end_i, chunk + 5000)):
            v = run_values(i)
            run_id = uuid.uuid4().hex
            rows.append(SqlRun(run_uuid=run_id, name=v["name"], source_type="UNKNOWN", source_name="",
                               entry_point_name="", user_id="", status="RUNNING", start_time=v["start"],
                               end_time=None, source_version="", lifecycle_stage="active",
                               artifact_uri=f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
                               experiment_id=int(experiment_id)))
            rows += [SqlTag(key="mlflow.runName", value=v["name"], run_uuid=run_id),
                     SqlTag(key="team", value=v["team"], run_uuid=run_id),
                     SqlParam(key="optimizer", value=v["optimizer"], run_uuid=run_id),
                     SqlParam(key="lr", value=v["lr"], run_uuid=run_id)]
            for key in ("accuracy", "loss"):
                for model in (SqlMetric, SqlLatestMetric):
                    rows.append(model(key=key, value=v[key], timestamp=v["start"], step=0, is_nan=False,
                                      run_uuid=run_id))
        with store.ManagedSessionMaker() as session:
            session.add_all(rows)
    store.engine.dispose()
    return (end_i - start_i) / (time.perf_counter() - t0)


def populate(client: MlflowClient, experiment_id: str, start_i: int, end_i: int, threads: int, label: str) -> float:
    t0 = time.perf_counter()
    done = [0]
    lock = threading.Lock()

    def one(i: int) -> None:
        make_run(client, experiment_id, i)
        with lock:
            done[0] += 1
            if done[0] % 5000 == 0:
                rate = done[0] / (time.perf_counter() - t0)
                print(f"    {label}: {done[0]}/{end_i - start_i} runs ({rate:.0f} runs/s)", file=sys.stderr)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(start_i, end_i)))
    return (end_i - start_i) / (time.perf_counter() - t0)


def search(client: MlflowClient, session: requests.Session, url: str, experiment_id: str,
           repeats: int) -> Tuple[float, float, List[str]]:
    def via_client() -> List[str]:
        runs = client.search_runs([experiment_id], filter_string=SEARCH_FILTER, order_by=SEARCH_ORDER,
                                  max_results=SEARCH_PAGE)
        return [r.info.run_name for r in runs]

    def via_http() -> bytes:
        r = session.post(f"{url}/api/2.0/mlflow/runs/search", timeout=600, json={
            "experiment_ids": [experiment_id], "filter": SEARCH_FILTER, "order_by": SEARCH_ORDER,
            "max_results": SEARCH_PAGE})
        r.raise_for_status()
        return r.content

    client_ms, top = median_ms(via_client, repeats)
    http_ms, _ = median_ms(via_http, repeats)
    return client_ms, http_ms, top  # type: ignore[return-value]


# --- (c) metric history -----------------------------------------------------------------------------------

def history(client: MlflowClient, session: requests.Session, url: str, experiment_id: str, points: int,
            repeats: int) -> Tuple[float, float]:
    run_id = client.create_run(experiment_id, run_name=f"history-{points}").info.run_id
    key = "curve"
    for start_step in range(0, points, 1000):
        client.log_batch(run_id, metrics=[Metric(key, (s % 997) / 997, NOW + s, s)
                                          for s in range(start_step, min(points, start_step + 1000))])

    def via_client() -> int:
        return len(client.get_metric_history(run_id, key))

    def via_http() -> bytes:
        r = session.get(f"{url}/api/2.0/mlflow/metrics/get-history", params={"run_id": run_id, "metric_key": key},
                        timeout=600)
        r.raise_for_status()
        return r.content

    client_ms, n = median_ms(via_client, repeats)
    if n != points:
        raise RuntimeError(f"get_metric_history returned {n} points, expected {points}")
    http_ms, _ = median_ms(via_http, repeats)
    return client_ms, http_ms


def run_workload(server: Server, sizes: List[int], history_sizes: List[int], args: argparse.Namespace) -> Results:
    res = Results(server.name)
    client = MlflowClient(server.url)
    session = requests.Session()

    print(f"  {server.name}: (a) ingest, {args.batches} batches of 1000 metrics", file=sys.stderr)
    ingest_experiment = client.create_experiment("ingest")
    res.ingest_metrics_per_s, res.ingest_seconds = ingest(client, ingest_experiment, args.batches)
    res.ingest_http_metrics_per_s = ingest_http(client, session, server.url, ingest_experiment, args.batches)
    print(f"    {res.ingest_metrics_per_s:,.0f} metrics/s (HTTP {res.ingest_http_metrics_per_s:,.0f})", file=sys.stderr)

    history_experiment = client.create_experiment("history")
    for points in history_sizes:
        print(f"  {server.name}: (c) history of {points} points", file=sys.stderr)
        res.history_client_ms[points], res.history_http_ms[points] = history(
            client, session, server.url, history_experiment, points, args.repeats)
        print(f"    {res.history_client_ms[points]:.1f} ms (HTTP {res.history_http_ms[points]:.1f} ms)", file=sys.stderr)

    experiment_id = client.create_experiment("search")
    have = 0
    rates = []
    for size in sizes:
        print(f"  {server.name}: (b) populate to {size} runs", file=sys.stderr)
        if server.db_uri and args.mlflow_populate == "db":
            res.populate_how = "into its SQLite store"
            rates.append(populate_mlflow_db(server.db_uri, experiment_id, have, size))
        else:
            rates.append(populate(client, experiment_id, have, size, args.threads, server.name))
        have = size
        print(f"    {time.strftime('%H:%M:%S')} populated; searching", file=sys.stderr)
        res.search_client_ms[size], res.search_http_ms[size], res.search_top[size] = search(
            client, session, server.url, experiment_id, args.repeats)
        print(f"    search: {res.search_client_ms[size]:.1f} ms (HTTP {res.search_http_ms[size]:.1f} ms)", file=sys.stderr)
    res.populate_runs_per_s = statistics.median(rates)

    mem = tree_memory(server.proc.pid)
    res.rss_mb, res.pss_mb, res.processes = mem.rss_mb, mem.pss_mb, mem.processes
    return res


def table(rows: List[Tuple[str, str, str, str]]) -> str:
    header = ("measure", "ferry", "mlflow", "ratio")
    rows = [header] + rows
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(ferry: Results, mlflow: Results, sizes: List[int], history_sizes: List[int]) -> str:
    def ratio(theirs: float, ours: float) -> str:
        return f"{theirs / ours:.1f}x" if ours else "-"

    rows = [("(a) log_batch ingest (metrics/s, higher is better)", f"{ferry.ingest_metrics_per_s:,.0f}",
             f"{mlflow.ingest_metrics_per_s:,.0f}", ratio(ferry.ingest_metrics_per_s, mlflow.ingest_metrics_per_s)),
            ("(a) log-batch ingest, HTTP (metrics/s)", f"{ferry.ingest_http_metrics_per_s:,.0f}",
             f"{mlflow.ingest_http_metrics_per_s:,.0f}",
             ratio(ferry.ingest_http_metrics_per_s, mlflow.ingest_http_metrics_per_s))]
    for n in sizes:
        rows.append((f"(b) search_runs, {n:,} runs, MlflowClient (ms)", f"{ferry.search_client_ms[n]:.1f}",
                     f"{mlflow.search_client_ms[n]:.1f}", ratio(mlflow.search_client_ms[n], ferry.search_client_ms[n])))
        rows.append((f"(b) search_runs, {n:,} runs, HTTP (ms)", f"{ferry.search_http_ms[n]:.1f}",
                     f"{mlflow.search_http_ms[n]:.1f}", ratio(mlflow.search_http_ms[n], ferry.search_http_ms[n])))
    for n in history_sizes:
        rows.append((f"(c) get_metric_history, {n:,} points, MlflowClient (ms)", f"{ferry.history_client_ms[n]:.1f}",
                     f"{mlflow.history_client_ms[n]:.1f}",
                     ratio(mlflow.history_client_ms[n], ferry.history_client_ms[n])))
        rows.append((f"(c) get_metric_history, {n:,} points, HTTP (ms)", f"{ferry.history_http_ms[n]:.1f}",
                     f"{mlflow.history_http_ms[n]:.1f}", ratio(mlflow.history_http_ms[n], ferry.history_http_ms[n])))
    rows.append(("(d) server RSS after the load (MB)", f"{ferry.rss_mb:.1f}", f"{mlflow.rss_mb:.1f}",
                 f"{ferry.rss_mb / mlflow.rss_mb:.3f} of mlflow" if mlflow.rss_mb else "-"))
    rows.append(("(d) server PSS after the load (MB)", f"{ferry.pss_mb:.1f}", f"{mlflow.pss_mb:.1f}",
                 f"{ferry.pss_mb / mlflow.pss_mb:.3f} of mlflow" if mlflow.pss_mb else "-"))
    rows.append(("    processes", str(ferry.processes), str(mlflow.processes), ""))
    same_way = ferry.populate_how == mlflow.populate_how
    rows.append((f"    (b) populate, runs/s (ferry: {ferry.populate_how}; mlflow: {mlflow.populate_how})",
                 f"{ferry.populate_runs_per_s:,.0f}", f"{mlflow.populate_runs_per_s:,.0f}",
                 ratio(ferry.populate_runs_per_s, mlflow.populate_runs_per_s) if same_way else "not comparable"))
    out = [table(rows), ""]

    largest_s, largest_h = sizes[-1], history_sizes[-1]
    goals = [
        ("(a) ingest >= 20x", ferry.ingest_metrics_per_s / mlflow.ingest_metrics_per_s),
        (f"(b) search over {largest_s:,} runs >= 20x lower latency (MlflowClient)",
         mlflow.search_client_ms[largest_s] / ferry.search_client_ms[largest_s]),
        (f"(c) history of {largest_h:,} points >= 20x lower latency (MlflowClient)",
         mlflow.history_client_ms[largest_h] / ferry.history_client_ms[largest_h]),
    ]
    for label, value in goals:
        out.append(f"goal {label}: {'met' if value >= GOAL_SPEEDUP else 'MISSED'} ({value:.1f}x)")
    fraction = ferry.rss_mb / mlflow.rss_mb
    out.append(f"goal (d) RSS <= 1/5 of mlflow's: {'met' if fraction <= GOAL_RSS_FRACTION else 'MISSED'} "
               f"({fraction:.3f})")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: sizes 100 and 1,000, 3 repeats")
    parser.add_argument("--max-runs", type=int, default=100_000, help="largest search size (default 100000)")
    parser.add_argument("--max-points", type=int, default=100_000, help="largest history (default 100000)")
    parser.add_argument("--batches", type=int, default=100, help="ingest batches of 1,000 metrics (default 100)")
    parser.add_argument("--repeats", type=int, default=10, help="timed repeats per measurement (default 10)")
    parser.add_argument("--threads", type=int, default=8, help="client threads that populate runs (default 8)")
    parser.add_argument("--mlflow-workers", type=int, default=1, help="`mlflow server --workers` (default 1)")
    parser.add_argument("--mlflow-populate", choices=("db", "rest"), default="db",
                        help="how (b)'s runs get into mlflow: straight into its SQLite store through its own "
                             "SQLAlchemy models (default; it takes hours through REST at 100k runs), or through "
                             "its REST API like Ferry's")
    parser.add_argument("--ferry", default=os.environ.get("FERRY_BIN") or str(ROOT / "build/release/ferry"),
                        help="the ferry binary (default $FERRY_BIN or build/release/ferry)")
    parser.add_argument("--json", type=Path, help="also write the raw results to this JSON file")
    args = parser.parse_args()
    args.ferry = os.path.abspath(args.ferry)
    if not os.access(args.ferry, os.X_OK):
        parser.error(f"no ferry binary at {args.ferry}; build it with scripts/build")
    if args.quick:
        args.max_runs, args.max_points, args.batches, args.repeats = 1000, 10_000, 10, 3
    sizes = [n for n in (100, 1_000, 10_000, 100_000) if n <= args.max_runs and (n >= 1000 or args.quick)]
    history_sizes = [n for n in (1_000, 10_000, 100_000) if n <= args.max_points]
    if not sizes or not history_sizes:
        parser.error("--max-runs and --max-points must be at least 1000")

    print(f"machine: {machine()}")
    print(f"runs: {', '.join(f'{n:,}' for n in sizes)}; history points: {', '.join(f'{n:,}' for n in history_sizes)}; "
          f"ingest: {args.batches} x 1000 metrics; repeats: {args.repeats}; populate threads: {args.threads}; "
          f"mlflow server --workers {args.mlflow_workers}, SQLite backend, job runner off")
    print(f"search: filter {SEARCH_FILTER!r}, order_by {SEARCH_ORDER}, max_results {SEARCH_PAGE}\n")
    results: List[Results] = []
    for name in ("ferry", "mlflow"):
        with tempfile.TemporaryDirectory(prefix=f"bench-tracking-{name}-") as tmp:
            directory = Path(tmp)
            print(f"starting {name}", file=sys.stderr)
            server = start_ferry(args.ferry, directory) if name == "ferry" else start_mlflow(directory,
                                                                                            args.mlflow_workers)
            try:
                results.append(run_workload(server, sizes, history_sizes, args))
            except Exception:
                print("".join(server.log[-40:]), file=sys.stderr)
                raise
            finally:
                stop(server.proc)
    ferry, mlflow = results
    for n in sizes:
        if ferry.search_top[n] != mlflow.search_top[n]:
            print(f"WARNING: the servers disagree on the search over {n} runs:\n"
                  f"  ferry  {ferry.search_top[n][:10]}\n  mlflow {mlflow.search_top[n][:10]}")
    print(report(ferry, mlflow, sizes, history_sizes))
    if args.json:
        args.json.write_text(json.dumps({r.name: r.__dict__ for r in results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
