#!/usr/bin/env python3
"""Start-up time and memory of `ferry server`, side by side with `mlflow server`.

For each run the server starts on a fresh data dir and a free port, and we measure
  - spawn -> its "listening" line (Ferry: `ferry server listening on ...`;
    MLflow: gunicorn's "Listening at" / uvicorn's "Uvicorn running on"),
  - spawn -> the first 200 from its readiness endpoint (Ferry /readyz,
    MLflow /health), polled every 2 ms,
  - memory right after ready and after a fixed workload of requests (create
    then read, alternating, on one keep-alive connection: ConfigMaps for
    Ferry, experiments for MLflow): VmRSS from /proc/PID/status and PSS from
    /proc/PID/smaps_rollup, each summed over the process tree, since MLflow
    runs worker processes (summed RSS counts shared pages once per process,
    PSS shares them out).
It prints median and p90 of each, the MLflow/Ferry ratios, and checks Ferry's
targets (< 1 s to ready, < 50 MB idle RSS). The MLflow comparison runs only
if the `mlflow` package is importable by this Python, twice: `mlflow server`
as it comes (4 uvicorn workers and the job runner), and a lean configuration
(`--workers 1`, MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false) as the fairest floor.

    .venv/bin/python bench/startup.py --runs 10
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120.0
TARGET_READY_S = 1.0
TARGET_IDLE_RSS_MB = 50.0


@dataclass
class Peer:
    name: str
    command: Callable[[Path, int], List[str]]
    ready_path: str
    listening: re.Pattern
    workload: Callable[[requests.Session, str, int], None]
    env: Dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    listening_s: float
    ready_s: float
    processes: int
    idle_rss_mb: float
    idle_pss_mb: float
    loaded_rss_mb: float
    loaded_pss_mb: float
    requests_per_s: float


@dataclass
class Memory:
    processes: int
    rss_mb: float
    pss_mb: float


@dataclass
class Results:
    peer: str
    runs: List[Run] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_field_mb(path: str, key: str) -> float:
    """A "Key: N kB" field of a /proc file in MB (1e6 bytes); 0 if the process has gone."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def tree_memory(pid: int) -> Memory:
    """VmRSS (from /proc/PID/status) and PSS (from smaps_rollup) summed over a process and its descendants.

    Summed RSS counts pages shared between forked workers once per worker;
    PSS divides them among the sharers, so it is the fair total for a tree.
    """
    try:
        pids = [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return Memory(0, 0.0, 0.0)
    return Memory(len(pids),
                  sum(proc_field_mb(f"/proc/{p}/status", "VmRSS") for p in pids),
                  sum(proc_field_mb(f"/proc/{p}/smaps_rollup", "Pss") for p in pids))


def ferry_workload(session: requests.Session, url: str, n: int) -> None:
    base = f"{url}/api/v1/namespaces/default/configmaps"
    for i in range(n // 2):
        name = f"bench-{i}"
        r = session.post(base, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                                     "data": {"i": str(i)}}, timeout=30)
        r.raise_for_status()
        session.get(f"{base}/{name}", timeout=30).raise_for_status()


def mlflow_workload(session: requests.Session, url: str, n: int) -> None:
    for i in range(n // 2):
        r = session.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": f"bench-{i}"}, timeout=30)
        r.raise_for_status()
        session.get(f"{url}/api/2.0/mlflow/experiments/get",
                    params={"experiment_id": r.json()["experiment_id"]}, timeout=30).raise_for_status()


def ferry_peer(binary: str) -> Peer:
    return Peer(
        name="ferry",
        command=lambda d, port: [binary, "server", "--listen", f"127.0.0.1:{port}", "--data-dir", str(d)],
        ready_path="/readyz",
        listening=re.compile(r"ferry server listening on"),
        workload=ferry_workload,
    )


def mlflow_peer(lean: bool) -> Peer:
    """`mlflow server` as installed (uvicorn, 4 workers, job runner), or lean: 1 worker, no job runner."""
    return Peer(
        name="mlflow-lean" if lean else "mlflow",
        command=lambda d, port: [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
                                 str(port), "--backend-store-uri", f"sqlite:///{d}/mlflow.db",
                                 "--default-artifact-root", str(d / "artifacts"),
                                 *(["--workers", "1"] if lean else [])],
        ready_path="/health",
        listening=re.compile(r"Listening at|Uvicorn running on"),
        workload=mlflow_workload,
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"} if lean else {},
    )


def measure(peer: Peer, requests_count: int) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"bench-{peer.name}-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        listening_at: List[float] = []
        log: List[str] = []

        t0 = time.perf_counter()
        proc = subprocess.Popen(peer.command(data_dir, port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True, cwd=tmp, env=dict(os.environ, **peer.env))

        def read_output() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.append(line)
                if not listening_at and peer.listening.search(line):
                    listening_at.append(time.perf_counter() - t0)

        reader = threading.Thread(target=read_output, daemon=True)
        reader.start()
        try:
            ready_s = wait_ready(proc, url + peer.ready_path, t0, log)
            idle = tree_memory(proc.pid)
            with requests.Session() as session:
                w0 = time.perf_counter()
                peer.workload(session, url, requests_count)
                rate = requests_count / (time.perf_counter() - w0)
            loaded = tree_memory(proc.pid)
        finally:
            stop(proc)
            reader.join(timeout=10)
        if not listening_at:
            raise RuntimeError(f"{peer.name} never printed its listening line:\n{''.join(log[-30:])}")
        return Run(listening_at[0], ready_s, idle.processes, idle.rss_mb, idle.pss_mb, loaded.rss_mb,
                   loaded.pss_mb, rate)


def wait_ready(proc: subprocess.Popen, url: str, t0: float, log: List[str]) -> float:
    with requests.Session() as session:
        while time.perf_counter() - t0 < START_TIMEOUT:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{''.join(log[-30:])}")
            try:
                if session.get(url, timeout=5).status_code == 200:
                    return time.perf_counter() - t0
            except requests.ConnectionError:
                pass
            time.sleep(0.002)
    raise RuntimeError(f"not ready within {START_TIMEOUT} s:\n{''.join(log[-30:])}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group (it and its workers), SIGKILL if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


def median(xs: List[float]) -> float:
    return statistics.median(xs)


def p90(xs: List[float]) -> float:
    ordered = sorted(xs)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


METRICS = [
    ("spawn -> listening line (ms)", lambda r: r.listening_s * 1000),
    ("spawn -> ready 200 (ms)", lambda r: r.ready_s * 1000),
    ("processes", lambda r: r.processes),
    ("RSS idle after ready (MB)", lambda r: r.idle_rss_mb),
    ("PSS idle after ready (MB)", lambda r: r.idle_pss_mb),
    ("RSS after workload (MB)", lambda r: r.loaded_rss_mb),
    ("PSS after workload (MB)", lambda r: r.loaded_pss_mb),
    ("workload requests/s", lambda r: r.requests_per_s),
]


def table(results: List[Results]) -> str:
    """Median and p90 per server, and each other server's median over the first's (Ferry's)."""
    base = results[0].peer
    header = ["metric"] + [f"{r.peer} {s}" for r in results for s in ("median", "p90")]
    header += [f"{r.peer}/{base}" for r in results[1:]]
    rows = [header]
    for label, get in METRICS:
        row = [label]
        medians = []
        for res in results:
            values = [get(run) for run in res.runs]
            medians.append(median(values))
            row += [f"{median(values):.1f}", f"{p90(values):.1f}"]
        row += [f"{m / medians[0]:.3g}x" if medians[0] else "-" for m in medians[1:]]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_gb = psutil.virtual_memory().total / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({model}), {mem_gb:.0f} GiB RAM, Linux {platform.release()}, "
            f"load average {load} at start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="starts per server (default 10)")
    parser.add_argument("--requests", type=int, default=1000, help="requests in the workload (default 1000)")
    parser.add_argument("--ferry", default=os.environ.get("FERRY_BIN") or str(ROOT / "build/release/ferry"),
                        help="the ferry binary (default $FERRY_BIN or build/release/ferry)")
    parser.add_argument("--json", type=Path, help="also write the raw runs to this JSON file")
    args = parser.parse_args()
    args.ferry = os.path.abspath(args.ferry)  # servers start in temp dirs
    if args.runs < 1 or args.requests < 2:
        parser.error("--runs must be >= 1 and --requests >= 2")
    if not os.access(args.ferry, os.X_OK):
        parser.error(f"no ferry binary at {args.ferry}; build it with scripts/build")

    peers = [ferry_peer(args.ferry)]
    if importlib.util.find_spec("mlflow") is not None:
        peers += [mlflow_peer(lean=False), mlflow_peer(lean=True)]
    else:
        print("mlflow is not installed in this Python: the MLflow comparison was not run.\n")

    print(f"machine: {machine()}")
    print(f"runs: {args.runs} per server, workload: {args.requests} requests\n")
    results = []
    for peer in peers:
        res = Results(peer.name)
        for i in range(args.runs):
            run = measure(peer, args.requests)
            res.runs.append(run)
            print(f"  {peer.name} run {i + 1}: ready {run.ready_s * 1000:.0f} ms, idle RSS {run.idle_rss_mb:.1f} MB, "
                  f"after workload {run.loaded_rss_mb:.1f} MB", file=sys.stderr)
        results.append(res)
    print(table(results))

    ferry_runs = results[0].runs
    ready = median([r.ready_s for r in ferry_runs])
    idle = median([r.idle_rss_mb for r in ferry_runs])
    print(f"\nferry targets: ready < {TARGET_READY_S:.0f} s: {'met' if ready < TARGET_READY_S else 'MISSED'} "
          f"({ready * 1000:.0f} ms); idle RSS < {TARGET_IDLE_RSS_MB:.0f} MB: "
          f"{'met' if idle < TARGET_IDLE_RSS_MB else 'MISSED'} ({idle:.1f} MB)")
    if args.json:
        args.json.write_text(json.dumps({r.peer: [run.__dict__ for run in r.runs] for r in results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
