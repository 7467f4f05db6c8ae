#!/usr/bin/env python3
"""KFP pipelines on `ferry server` side by side with `kfp.local.SubprocessRunner`, and Ferry's engine
overhead per task as the DAG grows.

Part 1: the same kfp-compiled pipelines, built from the same Python functions as Ferry's test
fixtures (src/ferry/pipelines/testdata/gen_pipelines.py):
  (a) hello world: one lightweight component;
  (b) a 10-step chain of lightweight components (x + 1);
  (c) a 200-way dsl.ParallelFor of the same trivial step;
  (d) the demo: load the wine data set -> preprocess -> train a random forest -> evaluate.
Ferry runs the compiled YAML through the unmodified kfp.Client (create_run_from_pipeline_package,
caching off) and the wall time is from that call until the run is seen final (GET of the run
every 5 ms). kfp.local runs the pipeline function in this process (kfp.local.init with
SubprocessRunner(use_venv=False): a venv per task would pip-install pip, setuptools and kfp from
the network for every step). kfp.local's time includes compiling the pipeline in memory (a few
ms); Ferry's does not (compiled beforehand, as a user uploads a YAML file).

What each one runs per step (documented, not hidden): the compiler emits for every lightweight
component `sh -c "pip install kfp==2.16.1 ... && python3 -m kfp.dsl.executor_main ..."`.
kfp.local runs that command as written, so every step pays a `pip install` that finds kfp already
installed. Ferry recognises the shape and runs `python -m kfp.dsl.executor_main` in a cached
environment per packages_to_install set (the same executor_main, the same user code). As the
fairest floor, kfp.local also runs the same functions compiled with install_kfp_package=False
("kfp.local no-pip": no pip line at all, which a user can choose at compile time).

Part 2: overhead per task. A container step `sh -c 'date +%s%N >> "$0"' FILE` (no Python), in
  - a chain of N steps (each .after() the previous): the gap between consecutive timestamps is one
    step's process plus the engine's work between a step's end and the next one's start; the same
    command run N times back to back by one sh gives the gap without the engine; the difference
    (p50 and p90) is Ferry's overhead per task;
  - a ParallelFor of N steps: wall time per task, against the same N commands run directly by a
    pool of as many threads as Ferry runs tasks at once (cpu count / 0.1 cpu per task, capped).
for N = 10, 100, 1,000 (--quick: 10, 100).

    .venv/bin/python bench/pipelines.py                  # build/release/ferry
    .venv/bin/python bench/pipelines.py --ferry build/w4rel/ferry --quick
"""


import argparse
import contextlib
import importlib.util
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import ROOT, free_port, machine, stop, wait_ready  # noqa: E402

warnings.filterwarnings("ignore")
import kfp  # noqa: E402
from kfp import compiler, dsl, local  # noqa: E402

TESTDATA = ROOT / "src" / "ferry" / "pipelines" / "testdata"
FINAL = {"SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"}
GOAL_SPEEDUP = 10.0
GOAL_OVERHEAD_MS = 5.0


def load_fixtures():
    """The test fixtures' module: the same components and pipelines the engine's tests run."""
    spec = importlib.util.spec_from_file_location("gen_pipelines", TESTDATA / "gen_pipelines.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------- part 1: pipelines


@dataclass
class Workload:
    key: str
    title: str
    build: Callable[[Callable], Callable]  # component factory -> pipeline
    arguments: Dict[str, object] = field(default_factory=dict)
    tasks: int = 1


def workloads(fx, fanout: int) -> List[Workload]:
    """Pipelines built from the fixtures' Python functions by a component factory `c`
    (c(fn) makes the component), so every runner runs the same user code."""

    def hello(c):
        say = c(fx.say_hello.python_func)

        @dsl.pipeline(name="hello-world")
        def p(recipient: str = "World") -> str:
            return say(name=recipient).output
        return p

    def chain(c):
        inc = c(fx.increment.python_func)

        @dsl.pipeline(name="chain10")
        def p(start: int = 0) -> int:
            value, task = start, None
            for _ in range(10):
                task = inc(x=value)
                value = task.output
            return task.output
        return p

    def fan(c):
        inc = c(fx.increment.python_func)

        @dsl.pipeline(name=f"fanout{fanout}")
        def p():
            with dsl.ParallelFor(items=list(range(fanout))) as i:
                inc(x=i)
        return p

    def demo(c):
        load, prep = c(fx.load_wine.python_func), c(fx.preprocess.python_func)
        train, ev = c(fx.train_model.python_func), c(fx.evaluate.python_func)

        @dsl.pipeline(name="wine-demo")
        def p(test_size: float = 0.25, seed: int = 42, n_estimators: int = 50) -> float:
            data = load()
            split = prep(data=data.outputs["data"], test_size=test_size, seed=seed)
            model = train(train=split.outputs["train"], n_estimators=n_estimators, seed=seed)
            return ev(test=split.outputs["test"], model=model.outputs["model"]).outputs["Output"]
        return p

    return [
        Workload("a", "(a) hello world", hello, {"recipient": "bench"}, 1),
        Workload("b", "(b) 10-step chain", chain, {"start": 0}, 10),
        Workload("c", f"(c) {fanout}-way ParallelFor", fan, {}, fanout),
        Workload("d", "(d) demo (wine: load, preprocess, train, evaluate)", demo, {}, 4),
    ]


def component_factory(install_kfp: bool) -> Callable:
    return lambda fn: dsl.component(fn, base_image="python:3.11", install_kfp_package=install_kfp)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: List[str]


def start_ferry(binary: str, directory: Path, extra: List[str]) -> Server:
    """`ferry server` on a fresh data dir and a free port; tasks run with this Python (it imports kfp)."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    cmd = [binary, "server", "--listen", f"127.0.0.1:{port}", "--data-dir", str(directory / "data"),
           "--task-python", sys.executable, "--pipeline-cache", "off"] + extra
    log: List[str] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, cwd=directory)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)

    threading.Thread(target=read, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url + "/readyz", time.perf_counter(), log)
    except Exception:
        stop(proc)
        raise
    return Server(url, proc, log)


def ferry_run(client: kfp.Client, session: requests.Session, url: str, package: Path,
              arguments: Dict[str, object]) -> float:
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # kfp.Client prints links to its UI
        result = client.create_run_from_pipeline_package(str(package), arguments=arguments,
                                                         enable_caching=False)
    run_id = result.run_id
    # Poll the newest run of the list, which carries no task details: a GET of the run itself returns
    # every task, and at 1,000 tasks answering it every 5 ms would load the server being measured.
    while True:
        r = session.get(f"{url}/apis/v2beta1/runs", params={"page_size": 1, "sort_by": "created_at desc"},
                        timeout=60)
        r.raise_for_status()
        runs = r.json().get("runs") or [{}]
        if runs[0].get("run_id") != run_id:
            raise RuntimeError(f"the newest run is not {run_id}: {r.text[:500]}")
        state = runs[0].get("state")
        if state in FINAL:
            elapsed = time.perf_counter() - t0
            if state != "SUCCEEDED":
                detail = session.get(f"{url}/apis/v2beta1/runs/{run_id}", timeout=60).text
                raise RuntimeError(f"ferry run {run_id} of {package.name} ended {state}: {detail[:2000]}")
            return elapsed
        time.sleep(0.005)


@contextlib.contextmanager
def quiet():
    """kfp.local prints every step's output and logs each task; keep the table readable."""
    sink = io.StringIO()
    level = logging.root.level
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield sink
    finally:
        logging.disable(logging.NOTSET)
        logging.root.setLevel(level)


def kfp_local_run(pipeline: Callable, arguments: Dict[str, object], root: Path) -> float:
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    t0 = time.perf_counter()
    with quiet() as out:
        try:
            pipeline(**arguments)
        except Exception as e:  # noqa: BLE001 - reported with kfp.local's output
            raise RuntimeError(f"kfp.local failed: {e}\n{out.getvalue()[-3000:]}") from e
    return time.perf_counter() - t0


# ------------------------------------------------------------ part 2: overhead


@dsl.container_component
def stamp(path: str):
    return dsl.ContainerSpec(image="busybox", command=["sh", "-c", 'date +%s%N >> "$0"', path])


def stamp_chain(n: int, path: str):
    @dsl.pipeline(name=f"stamp-chain-{n}")
    def p():
        prev = None
        for _ in range(n):
            t = stamp(path=path)
            t.set_caching_options(False)
            if prev is not None:
                t.after(prev)
            prev = t
    return p


def stamp_fanout(n: int, path: str):
    @dsl.pipeline(name=f"stamp-fanout-{n}")
    def p():
        with dsl.ParallelFor(items=list(range(n))):
            stamp(path=path).set_caching_options(False)
    return p


def read_stamps(path: Path) -> List[int]:
    return sorted(int(line) for line in path.read_text().split())


def gaps_ms(stamps: List[int]) -> List[float]:
    return [(b - a) / 1e6 for a, b in zip(stamps, stamps[1:])]


def direct_chain(n: int, path: Path) -> float:
    """The same command N times back to back from one sh: the gaps without an engine."""
    script = f'i=0; while [ $i -lt {n} ]; do sh -c \'date +%s%N >> "$0"\' {path}; i=$((i+1)); done'
    t0 = time.perf_counter()
    subprocess.run(["sh", "-c", script], check=True)
    return time.perf_counter() - t0


def direct_fanout(n: int, path: Path, workers: int) -> float:
    cmd = ["sh", "-c", 'date +%s%N >> "$0"', str(path)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda _: subprocess.run(cmd, check=True), range(n)))
    return time.perf_counter() - t0


def pct(xs: List[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


def measure_overhead(client: kfp.Client, session: requests.Session, url: str, tmp: Path, n: int) -> Dict[str, float]:
    row: Dict[str, float] = {"n": n}
    chain_file, direct_file = tmp / f"chain{n}.txt", tmp / f"direct{n}.txt"
    pkg = tmp / f"stamp-chain-{n}.yaml"
    compiler.Compiler().compile(stamp_chain(n, str(chain_file)), str(pkg))
    row["chain_wall_s"] = ferry_run(client, session, url, pkg, {})
    row["direct_chain_s"] = direct_chain(n, direct_file)
    engine, direct = gaps_ms(read_stamps(chain_file)), gaps_ms(read_stamps(direct_file))
    row["gap_p50_ms"], row["gap_p90_ms"] = pct(engine, 0.5), pct(engine, 0.9)
    row["direct_p50_ms"], row["direct_p90_ms"] = pct(direct, 0.5), pct(direct, 0.9)
    row["overhead_p50_ms"] = row["gap_p50_ms"] - row["direct_p50_ms"]
    row["overhead_p90_ms"] = row["gap_p90_ms"] - row["direct_p90_ms"]
    fan_file, fan_direct = tmp / f"fan{n}.txt", tmp / f"fandirect{n}.txt"
    pkg = tmp / f"stamp-fanout-{n}.yaml"
    compiler.Compiler().compile(stamp_fanout(n, str(fan_file)), str(pkg))
    row["fan_wall_s"] = ferry_run(client, session, url, pkg, {})
    # As many at once as Ferry runs by default: the cpu count over the 0.1 cpu a task without a request counts.
    row["fan_direct_s"] = direct_fanout(n, fan_direct, min(64, int(round((os.cpu_count() or 1) / 0.1))))
    if len(read_stamps(fan_file)) != n or len(read_stamps(chain_file)) != n:
        raise RuntimeError(f"expected {n} stamps from each overhead pipeline")
    return row


# ----------------------------------------------------------------------- main


def fmt_s(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.2f}"


def render(rows: List[List[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ferry", default=os.environ.get("FERRY_BIN") or str(ROOT / "build/release/ferry"),
                        help="the ferry binary (default $FERRY_BIN or build/release/ferry)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke version: 20-way fan-out, overhead sizes 10 and 100, one repeat")
    parser.add_argument("--repeats", type=int, default=3, help="Ferry runs per pipeline; median (default 3)")
    parser.add_argument("--peer-repeats", type=int, default=1,
                        help="kfp.local runs per pipeline; median (default 1: its 200-way fan-out takes minutes)")
    parser.add_argument("--no-peer", action="store_true", help="Ferry only (part 1 without kfp.local)")
    parser.add_argument("--peer-only", action="store_true", help="kfp.local only (no Ferry, no part 2)")
    parser.add_argument("--only", default="abcd", help="which of the pipelines a-d to run (default abcd)")
    parser.add_argument("--sizes", default="", help="overhead sizes, comma-separated (default 10,100,1000)")
    parser.add_argument("--server-arg", action="append", default=[], help="extra `ferry server` argument")
    parser.add_argument("--json", type=Path, help="also write the raw numbers to this JSON file")
    args = parser.parse_args()
    args.ferry = os.path.abspath(args.ferry)
    if not args.peer_only and not os.access(args.ferry, os.X_OK):
        parser.error(f"no ferry binary at {args.ferry}; build it with scripts/build")
    fanout = 20 if args.quick else 200
    repeats = 1 if args.quick else max(1, args.repeats)
    peer_repeats = max(1, args.peer_repeats)
    sizes = [int(s) for s in args.sizes.split(",") if s] or ([10, 100] if args.quick else [10, 100, 1000])

    print(f"machine: {machine()}")
    print(f"ferry: {args.ferry}; kfp {kfp.__version__}; Python {sys.version.split()[0]}\n")
    fx = load_fixtures()
    wl = [w for w in workloads(fx, fanout) if w.key in args.only]
    raw: Dict[str, Dict[str, List[float]]] = {}

    with tempfile.TemporaryDirectory(prefix="ferry-bench-pipelines-") as tmp_name:
        tmp = Path(tmp_name)
        packages: Dict[str, Path] = {}
        for w in wl:
            packages[w.key] = tmp / f"{w.key}.yaml"
            compiler.Compiler().compile(w.build(component_factory(True)), str(packages[w.key]))

        # Ferry, then part 2 on the same server.
        overhead: List[Dict[str, float]] = []
        if not args.peer_only:
            server = start_ferry(args.ferry, tmp / "ferry", args.server_arg)
            try:
                client = kfp.Client(host=server.url)
                session = requests.Session()
                ferry_run(client, session, server.url, packages[wl[0].key], wl[0].arguments)  # warm-up
                for w in wl:
                    raw.setdefault(w.key, {})["ferry"] = [
                        ferry_run(client, session, server.url, packages[w.key], w.arguments)
                        for _ in range(repeats)]
                    print(f"ferry {w.title}: {['%.2f' % x for x in raw[w.key]['ferry']]} s", flush=True)
                for n in sizes:
                    overhead.append(measure_overhead(client, session, server.url, tmp, n))
                    print(f"overhead N={n}: {json.dumps({k: round(v, 3) for k, v in overhead[-1].items()})}",
                          flush=True)
            finally:
                stop(server.proc)

        # kfp.local: as compiled, then without the pip line.
        if not args.no_peer:
            for name, install in (("kfp.local", True), ("kfp.local no-pip", False)):
                factory = component_factory(install)
                kfp_local_run(wl[0].build(factory), wl[0].arguments, tmp / "warm")  # warm-up
                for w in wl:
                    times = [kfp_local_run(w.build(factory), w.arguments, tmp / f"{name}-{w.key}-{i}")
                             for i in range(peer_repeats)]
                    raw.setdefault(w.key, {})[name] = times
                    print(f"{name} {w.title}: {['%.2f' % x for x in times]} s", flush=True)

    # Tables.
    runners = ([] if args.peer_only else ["ferry"]) + ([] if args.no_peer else ["kfp.local", "kfp.local no-pip"])
    header = ["pipeline", "tasks"] + [f"{r} (s)" for r in runners]
    if "ferry" in runners:
        header += [f"{r}/ferry" for r in runners[1:]]
    rows = [header]
    for w in wl:
        med = [statistics.median(raw[w.key][r]) for r in runners]
        cells = [w.title, str(w.tasks)] + [fmt_s(m) for m in med]
        if "ferry" in runners:
            cells += [f"{m / med[0]:.1f}x" for m in med[1:]]
        rows.append(cells)
    print(f"\nPart 1: wall time per run (median of {repeats} Ferry run(s), {peer_repeats} kfp.local run(s))\n")
    print(render(rows))

    if overhead:
        rows = [["N", "chain wall (s)", "step gap p50 (ms)", "direct gap p50 (ms)", "overhead p50 (ms)",
                 "overhead p90 (ms)", "fan-out wall (s)", "fan-out per task (ms)", "direct fan-out (s)",
                 "fan-out overhead per task (ms)"]]
        for r in overhead:
            n = int(r["n"])
            rows.append([str(n), f"{r['chain_wall_s']:.2f}", f"{r['gap_p50_ms']:.1f}", f"{r['direct_p50_ms']:.1f}",
                         f"{r['overhead_p50_ms']:.1f}", f"{r['overhead_p90_ms']:.1f}", f"{r['fan_wall_s']:.2f}",
                         f"{r['fan_wall_s'] / n * 1000:.1f}", f"{r['fan_direct_s']:.2f}",
                         f"{(r['fan_wall_s'] - r['fan_direct_s']) / n * 1000:.1f}"])
        print("\nPart 2: Ferry's overhead per task (container step `sh -c 'date +%s%N >> FILE'`)\n")
        print(render(rows))

    print()
    if "ferry" in runners and "kfp.local" in runners:
        for key in ("b", "c"):
            if key in raw:
                ratio = statistics.median(raw[key]["kfp.local"]) / statistics.median(raw[key]["ferry"])
                verdict = "met" if ratio >= GOAL_SPEEDUP else "NOT met"
                print(f"goal >= {GOAL_SPEEDUP:.0f}x faster than kfp.local on ({key}): {ratio:.1f}x, {verdict}")
    if overhead:
        worst = max(r["overhead_p50_ms"] for r in overhead)
        print(f"goal overhead per task < {GOAL_OVERHEAD_MS:.0f} ms at p50: worst p50 over N={sizes} is "
              f"{worst:.1f} ms, {'met' if worst < GOAL_OVERHEAD_MS else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps({"pipelines": raw, "overhead": overhead}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
