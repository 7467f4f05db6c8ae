"""Triton's perf_analyzer (scripts/perf_analyzer, the binary tritonclient ships) runs unmodified against
`ferry serve` over HTTP: it reads the model's metadata, configuration and statistics, sends load at
concurrency 1 and 2, and reports a throughput. No timing is asserted, only that it completes and measures
something, with the server's own statistics agreeing that requests succeeded."""
from __future__ import annotations

import re
import subprocess

import pytest

from serving_testing import PERF_ANALYZER, FerryServe, add_one_repository, add_one_server, serve_factory

__all__ = ["add_one_repository", "add_one_server", "serve_factory"]  # fixtures used below

THROUGHPUT = re.compile(r"Concurrency: (\d+), throughput: ([0-9.]+) infer/sec")


@pytest.mark.parametrize("binary", [True, False])
def test_perf_analyzer_measures_throughput(add_one_server: FerryServe, binary: bool):
    srv = add_one_server
    args = [str(PERF_ANALYZER), "-m", "add_one", "-x", "1", "-u", srv.host_port, "-i", "http",
            "--concurrency-range", "1:2", "--measurement-interval", "1000", "-b", "1",
            # The test machine is shared; stability is not what this test is about.
            "--stability-percentage", "100", "--max-trials", "20"]
    if not binary:
        args += ["--input-tensor-format", "json", "--output-tensor-format", "json"]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rates = {int(c): float(t) for c, t in THROUGHPUT.findall(run.stdout)}
    assert set(rates) == {1, 2}, run.stdout[-3000:]
    assert all(rate > 0 for rate in rates.values())
    stats = srv.get("/v2/models/add_one/versions/1/stats").json()["model_stats"][0]
    assert stats["inference_stats"]["success"]["count"] > 0
    assert stats["inference_stats"]["fail"]["count"] == 0
