"""The server gives back the heap a large request used (common/memory.h).

A 100,000-point metric history is tens of MB of JSON nodes and body strings
while it is answered; glibc keeps such freed memory in its arenas unless it is
trimmed, so without the trim the RSS stays at its high-water mark. With it,
what stays is live: mostly SQLite's page caches (up to 2 MB per pooled
connection), so the growth after the load must be well under the peak's.
"""
from __future__ import annotations

import json
import time

import requests

from ferry_testing import FerryServer


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def test_rss_falls_back_after_large_requests(ferry_server: FerryServer) -> None:
    url = ferry_server.url + "/api/2.0/mlflow"
    s = requests.Session()
    idle = status_kib(ferry_server.pid, "VmRSS")
    exp = s.post(url + "/experiments/create", json={"name": "memory"}).json()["experiment_id"]
    run_id = s.post(url + "/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
    for b in range(100):
        metrics = [{"key": "loss", "value": 1.0 / (1 + b * 1000 + j), "timestamp": 1_700_000_000_000 + b * 1000 + j,
                    "step": b * 1000 + j} for j in range(1000)]
        r = s.post(url + "/runs/log-batch", data=json.dumps({"run_id": run_id, "metrics": metrics}),
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
    for _ in range(2):
        points, token = 0, None
        while True:  # pages of 25,000, MLflow's largest
            params = {"run_id": run_id, "metric_key": "loss", "max_results": 25_000}
            if token:
                params["page_token"] = token
            r = s.get(url + "/metrics/get-history", params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            points += len(body["metrics"])
            token = body.get("next_page_token")
            if not token:
                break
        assert points == 100_000
    peak = status_kib(ferry_server.pid, "VmHWM")
    assert peak - idle > 20_000, f"the load should have grown the heap: idle {idle} KiB, peak {peak} KiB"
    # The trim runs on the handler pool after the last response was written.
    deadline = time.monotonic() + 10
    while True:
        rss = status_kib(ferry_server.pid, "VmRSS")
        if rss - idle < 0.75 * (peak - idle) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rss - idle < 0.75 * (peak - idle), f"idle {idle} KiB, peak {peak} KiB, after the load {rss} KiB"
