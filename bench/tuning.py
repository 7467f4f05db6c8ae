#!/usr/bin/env python3
"""Ferry's tuning engine side by side with Optuna (issue 6), in one run on one machine.

(1) Sample efficiency on analytic problems: Branin (2-D), Hartmann6, Rosenbrock-10D, Ackley-5D,
    Levy-5D, each a box of continuous parameters. Ferry's samplers run in-process in the C++ driver
    bench/tuning/tuning_bench (fed as StudyService feeds them: one long-lived sampler, trials asked
    one at a time, each told before the next); Optuna's run in-process here with the same space,
    seeds and number of trials. The best value after the last trial is compared per problem and
    sampler pair: medians over the seeds and a Wilcoxon signed-rank test paired by seed.
(2) The same on a real model-tuning task: an RBF support-vector regressor on scikit-learn's bundled
    diabetes data set (C, gamma, epsilon, all log-scaled), mean 5-fold cross-validated MSE, with
    Ferry driven through its ask/tell REST API (`ferry server` on a temporary data dir, in /dev/shm
    when there is one) and Optuna in-process.
(3) Suggestion latency with 100, 1,000 and 10,000 complete trials in the history (uniformly random
    points of Hartmann6's space with their values): Ferry in-process (the driver), Ferry over REST
    (the round trip of an ask), Optuna in-process (study.ask with the distributions; history added
    with add_trials). The first ask after the history is filled is reported apart ("cold"); the
    median and p90 are over the asks after it, each told before the next.

Sampler pairs (Ferry's Katib name <-> Optuna 5.0):
    tpe                  <-> TPESampler(multivariate=False)   independent TPE
    multivariate-tpe     <-> TPESampler()                     Optuna 5's default: multivariate for a
                                                              single objective (multivariate=None)
    cmaes                <-> CmaEsSampler()
    bayesianoptimization <-> GPSampler()                      needs torch (bench/requirements-gp.txt,
                                                              installed on demand into .venv/bench-gp)
All other settings are both libraries' defaults. Every process runs its numeric libraries on one
thread (OMP/BLAS/torch), as Ferry's samplers run on one.

Goals (issue 6): no worse than Optuna on any problem and better on at least half (p < 0.05);
suggestions >= 100x faster at 1,000 trials.

    .venv/bin/python bench/tuning.py --quick                      # smoke run, a few minutes
    .venv/bin/python bench/tuning.py                              # 20 seeds x 200 trials (long)
    .venv/bin/python bench/tuning.py --parts latency --ferry build/release/ferry

The driver is built with -DFERRY_BUILD_BENCH=ON (bench/tuning/README.md).
"""

from __future__ import annotations

import os

# One thread per process for numpy/scipy/scikit-learn/torch, set before they are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple  # noqa: E402

import numpy as np  # noqa: E402
import requests  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GP_REQUIREMENTS = ROOT / "bench" / "requirements-gp.txt"
GP_DEPS_DIR = ROOT / ".venv" / "bench-gp"

SAMPLERS = ["tpe", "multivariate-tpe", "cmaes", "bayesianoptimization"]
OPTUNA_NAMES = {
    "tpe": "TPESampler(multivariate=False)",
    "multivariate-tpe": "TPESampler() [Optuna 5 default: multivariate]",
    "cmaes": "CmaEsSampler()",
    "bayesianoptimization": "GPSampler()",
}
PROBLEMS = ["branin", "hartmann6", "rosenbrock10", "ackley5", "levy5"]
REAL_TASK = "svr-diabetes"
LATENCY_PROBLEM = "hartmann6"
ALPHA = 0.05
GOAL_LATENCY_RATIO = 100.0
START_TIMEOUT = 60.0


# ---------------------------------------------------------------- objectives (same as the driver's)

def branin(x: Sequence[float]) -> float:
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    u = x[1] - b * x[0] ** 2 + c * x[0] - 6
    return u * u + 10 * (1 - t) * math.cos(x[0]) + 10


_H6_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
         [17, 8, 0.05, 10, 0.1, 14]]
_H6_P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
         [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]
_H6_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(x: Sequence[float]) -> float:
    total = 0.0
    for i in range(4):
        e = 0.0
        for j in range(6):
            e += _H6_A[i][j] * (x[j] - _H6_P[i][j]) ** 2
        total += _H6_ALPHA[i] * math.exp(-e)
    return -total


def rosenbrock(x: Sequence[float]) -> float:
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def ackley(x: Sequence[float]) -> float:
    d = len(x)
    squares = sum(v * v for v in x)
    cosines = sum(math.cos(2 * math.pi * v) for v in x)
    return -20 * math.exp(-0.2 * math.sqrt(squares / d)) - math.exp(cosines / d) + 20 + math.e


def levy(x: Sequence[float]) -> float:
    w = [1 + (v - 1) / 4 for v in x]
    total = math.sin(math.pi * w[0]) ** 2
    for wi in w[:-1]:
        total += (wi - 1) ** 2 * (1 + 10 * math.sin(math.pi * wi + 1) ** 2)
    return total + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)


FUNCTIONS: Dict[str, Callable[[Sequence[float]], float]] = {
    "branin": branin, "hartmann6": hartmann6, "rosenbrock10": rosenbrock, "ackley5": ackley, "levy5": levy,
}


@dataclass
class Param:
    name: str
    low: float
    high: float
    log: bool = False


def box(bounds: Sequence[Sequence[float]]) -> List[Param]:
    return [Param(f"x{i}", float(lo), float(hi)) for i, (lo, hi) in enumerate(bounds)]


class SvrTask:
    """An RBF SVR on the diabetes data set (442 x 10, bundled with scikit-learn): mean 5-fold CV MSE
    of the standardised target, the features standardised inside each fold. Deterministic."""

    space = [Param("C", 1e-2, 1e2, True), Param("gamma", 1e-4, 1.0, True), Param("epsilon", 1e-2, 1.0, True)]

    def __init__(self) -> None:
        from sklearn.datasets import load_diabetes
        from sklearn.model_selection import KFold

        x, y = load_diabetes(return_X_y=True)
        self.x, self.y = x, (y - y.mean()) / y.std()
        self.cv = KFold(5, shuffle=True, random_state=0)

    def __call__(self, values: Sequence[float]) -> float:
        from sklearn.model_selection import cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVR

        c, gamma, epsilon = values
        model = make_pipeline(StandardScaler(), SVR(C=c, gamma=gamma, epsilon=epsilon))
        return float(-cross_val_score(model, self.x, self.y, cv=self.cv, scoring="neg_mean_squared_error").mean())


# ---------------------------------------------------------------- environment

def install_gp_deps(target: Path = GP_DEPS_DIR) -> None:
    """Installs bench/requirements-gp.txt (torch) into its own directory with pip --target, so torch's
    pins never change the shared .venv; the processes that run GPSampler append it to sys.path."""
    stamp = target / ".requirements"
    want = GP_REQUIREMENTS.read_text()
    if stamp.exists() and stamp.read_text() == want:
        return
    print(f"installing {GP_REQUIREMENTS.relative_to(ROOT)} into {target} (torch with its CUDA libraries: "
          "several GB, once)", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--upgrade",
                    "--target", str(target), "-r", str(GP_REQUIREMENTS)], check=True)
    stamp.write_text(want)


def init_process(gp: bool) -> None:
    """Per worker process: quiet Optuna, torch on one thread when the GP comparison runs."""
    warnings.filterwarnings("ignore")
    if gp and str(GP_DEPS_DIR) not in sys.path:
        sys.path.append(str(GP_DEPS_DIR))  # after site-packages: .venv's own packages win
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if gp:
        import torch

        torch.set_num_threads(1)


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{os.cpu_count()} cores ({model}), {mem_gb:.0f} GiB RAM, Linux {platform.release()}"


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def versions() -> Dict[str, str]:
    import optuna
    import scipy
    import sklearn

    out = {"python": platform.python_version(), "optuna": optuna.__version__, "scipy": scipy.__version__,
           "scikit-learn": sklearn.__version__, "numpy": np.__version__}
    try:
        import cmaes

        out["cmaes"] = cmaes.__version__
    except ImportError:
        pass
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].__version__
    return out


# ---------------------------------------------------------------- the C++ driver

def driver(binary: Path, *args: str) -> Any:
    proc = subprocess.run([str(binary), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{binary} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def check_functions(binary: Path, problems: Dict[str, List[Param]]) -> None:
    """The Python copies of the objectives must agree with the driver's (tuning/testing/functions.cc)."""
    rng = random.Random(1)
    for name, space in problems.items():
        points = [[rng.uniform(p.low, p.high) for p in space] for _ in range(50)]
        text = "".join(" ".join(repr(v) for v in x) + "\n" for x in points)
        proc = subprocess.run([str(binary), "eval", f"--problem={name}"], input=text, stdout=subprocess.PIPE,
                              text=True, check=True)
        for x, line in zip(points, proc.stdout.split()):
            mine, theirs = FUNCTIONS[name](x), float(line)
            if not math.isclose(mine, theirs, rel_tol=1e-10, abs_tol=1e-10):
                raise RuntimeError(f"{name}{x}: python {mine!r} != driver {theirs!r}")


# ---------------------------------------------------------------- Optuna

def optuna_sampler(name: str, seed: int) -> Any:
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=False)
    if name == "multivariate-tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if name == "bayesianoptimization":
        return optuna.samplers.GPSampler(seed=seed)
    raise ValueError(name)


def distributions(space: Sequence[Param]) -> Dict[str, Any]:
    from optuna.distributions import FloatDistribution

    return {p.name: FloatDistribution(p.low, p.high, log=p.log) for p in space}


_TASKS: Dict[str, Callable[[Sequence[float]], float]] = {}


def objective(problem: str) -> Callable[[Sequence[float]], float]:
    if problem == REAL_TASK:
        if problem not in _TASKS:
            _TASKS[problem] = SvrTask()
        return _TASKS[problem]
    return FUNCTIONS[problem]


def optuna_run(job: Tuple[str, List[Param], str, int, int]) -> Dict[str, Any]:
    """One Optuna study: `trials` sequential ask/evaluate/tell."""
    import optuna

    problem, space, sampler, seed, trials = job
    f = objective(problem)
    dists = distributions(space)
    study = optuna.create_study(sampler=optuna_sampler(sampler, seed))
    best, curve, ask_s = math.inf, [], 0.0
    t0 = time.perf_counter()
    for _ in range(trials):
        a0 = time.perf_counter()
        trial = study.ask(dists)
        ask_s += time.perf_counter() - a0
        value = f([trial.params[p.name] for p in space])
        study.tell(trial, value)
        best = min(best, value)
        curve.append(best)
    return {"problem": problem, "sampler": sampler, "seed": seed, "best": best, "curve": curve,
            "ask_seconds": ask_s, "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------- Ferry over REST

class FerryServer:
    """`ferry server` on a free port and a temporary data dir (in /dev/shm when there is one)."""

    def __init__(self, binary: Path) -> None:
        sys.path.insert(0, str(ROOT / "bench"))
        from startup import free_port

        base = "/dev/shm" if Path("/dev/shm").is_dir() else None
        self.tmp = tempfile.TemporaryDirectory(prefix="ferry-bench-tuning-", dir=base)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log: List[str] = []
        self.proc = subprocess.Popen([str(binary), "server", "--listen", f"127.0.0.1:{self.port}", "--data-dir",
                                      self.tmp.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True, cwd=self.tmp.name)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)

    def __enter__(self) -> "FerryServer":
        from startup import wait_ready

        try:
            wait_ready(self.proc, self.url + "/readyz", time.perf_counter(), self.log)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        from startup import stop

        stop(self.proc)
        self.reader.join(timeout=10)
        self.tmp.cleanup()


def check(response: requests.Response, *codes: int) -> Dict[str, Any]:
    if response.status_code not in codes:
        raise RuntimeError(f"{response.request.method} {response.url} -> {response.status_code}: {response.text[:500]}")
    return response.json()


class FerryStudy:
    """A study through the ask/tell REST API (/api/v1/tuning/studies)."""

    def __init__(self, session: requests.Session, url: str, name: str, sampler: str, seed: int,
                 space: Sequence[Param]) -> None:
        self.session, self.space = session, space
        self.base = f"{url}/api/v1/tuning/studies"
        dists = [{"name": p.name, "type": "float", "low": p.low, "high": p.high, "log": p.log} for p in space]
        check(session.post(self.base, json={"name": name, "distributions": dists, "direction": "minimize",
                                            "sampler": sampler, "seed": seed}), 201)
        self.base += f"/{name}"

    def ask(self, fixed: Optional[Dict[str, float]] = None) -> Tuple[int, List[float]]:
        body = {"fixed_params": fixed} if fixed else None
        trial = check(self.session.post(self.base + "/trials", json=body), 201)
        return int(trial["number"]), [float(trial["params"][p.name]) for p in self.space]

    def tell(self, number: int, value: float) -> None:
        check(self.session.post(f"{self.base}/trials/{number}/tell", json={"state": "COMPLETE", "value": value}),
              200)


def ferry_rest_run(job: Tuple[str, str, List[Param], str, int, int]) -> Dict[str, Any]:
    url, problem, space, sampler, seed, trials = job
    f = objective(problem)
    with requests.Session() as session:
        study = FerryStudy(session, url, f"{problem}-{sampler}-{seed}", sampler, seed, space)
        best, curve, ask_s = math.inf, [], 0.0
        t0 = time.perf_counter()
        for _ in range(trials):
            a0 = time.perf_counter()
            number, values = study.ask()
            ask_s += time.perf_counter() - a0
            value = f(values)
            study.tell(number, value)
            best = min(best, value)
            curve.append(best)
    return {"problem": problem, "sampler": sampler, "seed": seed, "best": best, "curve": curve,
            "ask_seconds": ask_s, "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------- latency

def summarise(cold_s: float, warm_s: List[float]) -> Dict[str, float]:
    ms = sorted(w * 1e3 for w in warm_s)
    return {"cold_ms": cold_s * 1e3, "median_ms": float(np.quantile(ms, 0.5)), "p90_ms": float(np.quantile(ms, 0.9)),
            "mean_ms": statistics.fmean(ms), "max_ms": ms[-1], "asks": len(ms)}


def random_history(space: Sequence[Param], f: Callable, n: int, rng: random.Random) -> List[Tuple[List[float], float]]:
    out = []
    for _ in range(n):
        x = [rng.uniform(p.low, p.high) for p in space]
        out.append((x, f(x)))
    return out


def optuna_latency(space: List[Param], sampler: str, sizes: Sequence[int], asks: int, seed: int) -> List[Dict]:
    """One study per sampler; the history is topped up to each size with add_trials, then timed asks."""
    import optuna

    f = FUNCTIONS[LATENCY_PROBLEM]
    dists = distributions(space)
    study = optuna.create_study(sampler=optuna_sampler(sampler, seed))
    rng = random.Random(seed)
    out = []
    for size in sizes:
        missing = size - len(study.trials)
        study.add_trials([optuna.trial.create_trial(params={p.name: v for p, v in zip(space, x)},
                                                    distributions=dists, value=value)
                          for x, value in random_history(space, f, missing, rng)])
        times = []
        for _ in range(asks + 1):
            a0 = time.perf_counter()
            trial = study.ask(dists)
            times.append(time.perf_counter() - a0)
            study.tell(trial, f([trial.params[p.name] for p in space]))
        out.append({"sampler": sampler, "size": size, **summarise(times[0], times[1:])})
        print(f"optuna latency {sampler} at {size}: median {out[-1]['median_ms']:.2f} ms", file=sys.stderr,
              flush=True)
    return out


def rest_latency(url: str, space: List[Param], sampler: str, sizes: Sequence[int], asks: int,
                 seed: int) -> List[Dict]:
    """One study per sampler; the history is topped up with asks whose every parameter is fixed (the
    sampler is not consulted), each told at once; then timed asks (the HTTP round trip)."""
    f = FUNCTIONS[LATENCY_PROBLEM]
    rng = random.Random(seed)
    out = []
    with requests.Session() as session:
        study = FerryStudy(session, url, f"latency-{sampler}", sampler, seed, space)
        count = 0
        for size in sizes:
            for x, value in random_history(space, f, size - count, rng):
                number, _ = study.ask({p.name: v for p, v in zip(space, x)})
                study.tell(number, value)
            times = []
            for _ in range(asks + 1):
                a0 = time.perf_counter()
                number, values = study.ask()
                times.append(time.perf_counter() - a0)
                study.tell(number, f(values))
            count = size + asks + 1
            out.append({"sampler": sampler, "size": size, **summarise(times[0], times[1:])})
            print(f"ferry REST latency {sampler} at {size}: median {out[-1]['median_ms']:.2f} ms", file=sys.stderr,
                  flush=True)
    return out


# ---------------------------------------------------------------- statistics and tables

def compare(ferry: Dict[int, float], optuna: Dict[int, float]) -> Dict[str, Any]:
    """Medians and a two-sided Wilcoxon signed-rank test over the seeds both ran (paired by seed).
    The pairs share no random stream, so the Mann-Whitney U test is given too, as a check."""
    from scipy.stats import mannwhitneyu, wilcoxon

    seeds = sorted(set(ferry) & set(optuna))
    f = np.array([ferry[s] for s in seeds])
    o = np.array([optuna[s] for s in seeds])
    out: Dict[str, Any] = {"n": len(seeds), "ferry_median": float(np.median(f)), "optuna_median": float(np.median(o)),
                           "wilcoxon_p": 1.0, "mannwhitney_p": 1.0, "verdict": "same"}
    if len(seeds) >= 2 and np.any(f != o):
        out["wilcoxon_p"] = float(wilcoxon(f, o).pvalue)
        out["mannwhitney_p"] = float(mannwhitneyu(f, o).pvalue)
        # Two-sided p < ALPHA means one one-sided p < ALPHA / 2: the smaller one gives the direction.
        ferry_lower = wilcoxon(f, o, alternative="less").pvalue < wilcoxon(f, o, alternative="greater").pvalue
        if out["wilcoxon_p"] < ALPHA:
            out["verdict"] = "better" if ferry_lower else "worse"
    return out


def best_at(run: Dict[str, Any], trials: int) -> float:
    return run["curve"][trials - 1]


def quality_table(comparisons: List[Dict[str, Any]]) -> str:
    rows = [["problem", "ferry sampler", "optuna sampler", "seeds x trials", "ferry median", "optuna median",
             "wilcoxon p", "mann-whitney p", "verdict"]]
    for c in comparisons:
        rows.append([c["problem"], c["sampler"], OPTUNA_NAMES[c["sampler"]], f"{c['n']} x {c['trials']}",
                     f"{c['ferry_median']:.6g}", f"{c['optuna_median']:.6g}", f"{c['wilcoxon_p']:.3g}",
                     f"{c['mannwhitney_p']:.3g}", c["verdict"]])
    return markdown(rows)


def latency_table(latency: Dict[str, List[Dict]]) -> str:
    def key(rows: List[Dict]) -> Dict[Tuple[str, int], Dict]:
        return {(r["sampler"], r["size"]): r for r in rows}

    ferry, rest, optuna = key(latency.get("ferry", [])), key(latency.get("ferry_rest", [])), key(latency.get("optuna", []))
    rows = [["sampler", "history", "ferry in-process ms (p90)", "ferry REST ms (p90)", "optuna ms (p90)",
             "optuna / ferry in-process", "optuna / ferry REST"]]

    def cell(r: Optional[Dict]) -> str:
        return f"{r['median_ms']:.3g} ({r['p90_ms']:.3g})" if r else "not run"

    def ratio(o: Optional[Dict], r: Optional[Dict]) -> str:
        return f"{o['median_ms'] / r['median_ms']:.3g}x" if o and r and r["median_ms"] > 0 else "-"

    for k in sorted(set(ferry) | set(rest) | set(optuna), key=lambda k: (SAMPLERS.index(k[0]), k[1])):
        rows.append([k[0], f"{k[1]:,}", cell(ferry.get(k)), cell(rest.get(k)), cell(optuna.get(k)),
                     ratio(optuna.get(k), ferry.get(k)), ratio(optuna.get(k), rest.get(k))])
    return markdown(rows)


def markdown(rows: List[List[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def goals(comparisons: List[Dict[str, Any]], latency: Dict[str, List[Dict]]) -> List[str]:
    lines = []
    for sampler in SAMPLERS:
        cs = [c for c in comparisons if c["sampler"] == sampler]
        if not cs:
            continue
        worse = [c["problem"] for c in cs if c["verdict"] == "worse"]
        better = [c["problem"] for c in cs if c["verdict"] == "better"]
        half = math.ceil(len(cs) / 2)
        lines.append(f"{sampler} vs {OPTUNA_NAMES[sampler]}: better on {len(better)}/{len(cs)} "
                     f"({', '.join(better) or 'none'}), worse on {len(worse)} ({', '.join(worse) or 'none'}) -> "
                     f"no-worse goal {'met' if not worse else 'NOT met'}, better-on-half goal "
                     f"{'met' if len(better) >= half else 'NOT met'}")
    ferry = {(r["sampler"], r["size"]): r for r in latency.get("ferry", [])}
    for r in latency.get("optuna", []):
        if r["size"] == 1000 and (r["sampler"], 1000) in ferry:
            ratio = r["median_ms"] / ferry[(r["sampler"], 1000)]["median_ms"]
            lines.append(f"latency at 1,000 trials, {r['sampler']}: {ratio:.3g}x faster in-process -> >= 100x goal "
                         f"{'met' if ratio >= GOAL_LATENCY_RATIO else 'NOT met'}")
    return lines


# ---------------------------------------------------------------- main

def run_jobs(fn: Callable, jobs: List, workers: int, gp: bool) -> List[Dict[str, Any]]:
    if workers <= 1:
        out = []
        for job in jobs:
            out.append(fn(job))
            log_run(out[-1])
        return out
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=init_process,
                             initargs=(gp,)) as pool:
        out = []
        for result in pool.map(fn, jobs):
            out.append(result)
            log_run(result)
        return out


def log_run(r: Dict[str, Any]) -> None:
    print(f"  {r['problem']} {r['sampler']} seed {r['seed']}: best {r['best']:.6g} "
          f"(ask {r['ask_seconds']:.2f} s of {r['seconds']:.2f} s)", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferry", default=str(ROOT / "build/release/ferry"), help="the ferry binary (REST parts)")
    ap.add_argument("--driver", default=str(ROOT / "build/release/bench/tuning/tuning_bench"),
                    help="the C++ driver, built with -DFERRY_BUILD_BENCH=ON")
    ap.add_argument("--parts", default="quality,real,latency", help="any of quality, real, latency")
    ap.add_argument("--samplers", default=",".join(SAMPLERS))
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--real-seeds", type=int, help="seeds of the real task (default --seeds)")
    ap.add_argument("--real-trials", type=int, help="trials of the real task (default --trials)")
    ap.add_argument("--gp-seeds", type=int, help="seeds Optuna's GPSampler runs (default --seeds); Ferry's GP "
                    "is compared on the same seeds")
    ap.add_argument("--gp-trials", type=int, help="trials Optuna's GPSampler runs (default --trials); Ferry's "
                    "GP is compared at the same trial count")
    ap.add_argument("--sizes", default="100,1000,10000", help="history sizes of the latency part")
    ap.add_argument("--asks", type=int, default=30, help="timed asks per latency measurement")
    ap.add_argument("--gp-asks", type=int, default=3, help="timed asks of Optuna's GPSampler")
    ap.add_argument("--gp-max-size", type=int, default=1000, help="largest history Optuna's GPSampler is timed at "
                    "(it models every trial: 10,000 is hours)")
    ap.add_argument("--jobs", type=int, default=1, help="studies run at once (results do not depend on it)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 seeds x 30 trials, sizes 100 and 1,000")
    ap.add_argument("--json", default=str(ROOT / "build/tuning_bench.json"), help="where to write all results")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.trials, args.sizes, args.asks, args.gp_asks = 3, 30, "100,1000", 5, 2
    real_seeds = args.real_seeds or args.seeds
    real_trials = args.real_trials or args.trials
    gp_seeds = min(args.gp_seeds or args.seeds, args.seeds)
    gp_trials = min(args.gp_trials or args.trials, args.trials)
    parts = set(args.parts.split(","))
    samplers = [s for s in args.samplers.split(",") if s]
    problems = [p for p in args.problems.split(",") if p]
    sizes = [int(s) for s in args.sizes.split(",")]
    for s in samplers:
        if s not in SAMPLERS:
            ap.error(f"unknown sampler {s}")
    gp = "bayesianoptimization" in samplers
    if gp:
        install_gp_deps()
    init_process(gp)
    driver_bin = Path(args.driver).resolve()
    ferry_bin = Path(args.ferry).resolve()
    if ("quality" in parts or "latency" in parts) and not driver_bin.exists():
        ap.error(f"{driver_bin} not found: build it with -DFERRY_BUILD_BENCH=ON (bench/tuning/README.md)")
    if ("real" in parts or "latency" in parts) and not ferry_bin.exists():
        ap.error(f"{ferry_bin} not found (--ferry)")

    result: Dict[str, Any] = {
        "machine": machine(), "load_at_start": load(), "versions": versions(), "command": " ".join(sys.argv),
        "settings": {"seeds": args.seeds, "trials": args.trials, "real_seeds": real_seeds, "real_trials": real_trials,
                     "gp_seeds": gp_seeds, "gp_trials": gp_trials, "real_gp_seeds": min(gp_seeds, real_seeds),
                     "real_gp_trials": min(gp_trials, real_trials), "sizes": sizes, "asks": args.asks,
                     "gp_asks": args.gp_asks, "gp_max_size": args.gp_max_size, "jobs": args.jobs},
        "part_seconds": {}, "runs": {"ferry": [], "optuna": [], "ferry_rest": []}, "latency": {}}
    print(f"machine: {result['machine']}, load {result['load_at_start']}", file=sys.stderr)
    print(f"versions: {result['versions']}", file=sys.stderr)

    spaces: Dict[str, List[Param]] = {}
    if "quality" in parts or "latency" in parts:
        for p in driver(driver_bin, "problems"):
            spaces[p["name"]] = box(p["bounds"])
        check_functions(driver_bin, spaces)
    spaces[REAL_TASK] = SvrTask.space

    def timed(part: str, fn: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        fn()
        result["part_seconds"][part] = round(time.perf_counter() - t0, 1)
        print(f"{part}: {result['part_seconds'][part]:.0f} s", file=sys.stderr, flush=True)

    def optuna_jobs(problem: str, seeds: int, trials: int) -> List[Tuple]:
        jobs = []
        for s in samplers:
            n_seeds, n_trials = (min(gp_seeds, seeds), min(gp_trials, trials)) if s == "bayesianoptimization" \
                else (seeds, trials)
            jobs += [(problem, spaces[problem], s, seed, n_trials) for seed in range(n_seeds)]
        return jobs

    if "quality" in parts:
        # Ferry's driver runs beside Optuna's studies (with --jobs > 1): the values found do not
        # depend on timing, and the part takes less wall time.
        ferry_quality = threading.Thread(target=timed, args=("quality/ferry", lambda: result["runs"]["ferry"].extend(
            driver(driver_bin, "quality", f"--problems={','.join(problems)}", f"--samplers={','.join(samplers)}",
                   f"--seeds={args.seeds}", f"--trials={args.trials}")["runs"])))
        ferry_quality.start()
        if args.jobs <= 1:
            ferry_quality.join()
        for problem in problems:
            timed(f"quality/optuna/{problem}", lambda: result["runs"]["optuna"].extend(
                run_jobs(optuna_run, optuna_jobs(problem, args.seeds, args.trials), args.jobs, gp)))
        ferry_quality.join()
        if len(result["runs"]["ferry"]) != len(problems) * len(samplers) * args.seeds:
            raise RuntimeError("the driver's quality run failed (see above)")

    if "real" in parts:
        with FerryServer(ferry_bin) as server:
            jobs = [(server.url, REAL_TASK, spaces[REAL_TASK], s, seed, real_trials) for s in samplers
                    for seed in range(real_seeds)]
            timed("real/ferry-rest", lambda: result["runs"]["ferry_rest"].extend(
                run_jobs(ferry_rest_run, jobs, args.jobs, gp)))
        timed("real/optuna", lambda: result["runs"]["optuna"].extend(
            run_jobs(optuna_run, optuna_jobs(REAL_TASK, real_seeds, real_trials), args.jobs, gp)))

    if "latency" in parts:
        space = spaces[LATENCY_PROBLEM]
        timed("latency/ferry", lambda: result["latency"].__setitem__("ferry", driver(
            driver_bin, "latency", f"--problem={LATENCY_PROBLEM}", f"--samplers={','.join(samplers)}",
            f"--sizes={args.sizes}", f"--asks={args.asks}")["results"]))
        with FerryServer(ferry_bin) as server:
            def rest() -> None:
                result["latency"]["ferry_rest"] = [r for s in samplers
                                                   for r in rest_latency(server.url, space, s, sizes, args.asks, 0)]
            timed("latency/ferry-rest", rest)

        def optuna_part() -> None:
            rows = []
            for s in samplers:
                if s == "bayesianoptimization":
                    rows += optuna_latency(space, s, [n for n in sizes if n <= args.gp_max_size], args.gp_asks, 0)
                else:
                    rows += optuna_latency(space, s, sizes, args.asks, 0)
            result["latency"]["optuna"] = rows
        timed("latency/optuna", optuna_part)

    # Comparisons: the best value after the last trial, per problem and sampler pair.
    comparisons = []
    compared = (problems if "quality" in parts else []) + ([REAL_TASK] if "real" in parts else [])
    for problem in compared:
        ferry_runs = result["runs"]["ferry_rest" if problem == REAL_TASK else "ferry"]
        for s in samplers:
            optuna_runs = [r for r in result["runs"]["optuna"] if r["problem"] == problem and r["sampler"] == s]
            if not optuna_runs:
                continue
            n_trials = len(optuna_runs[0]["curve"])
            mine = {r["seed"]: best_at(r, n_trials) for r in ferry_runs if r["problem"] == problem
                    and r["sampler"] == s and len(r["curve"]) >= n_trials}
            theirs = {r["seed"]: best_at(r, n_trials) for r in optuna_runs}
            comparisons.append({"problem": problem, "sampler": s, "trials": n_trials, **compare(mine, theirs)})
    result["comparisons"] = comparisons
    result["goals"] = goals(comparisons, result["latency"])
    result["load_at_end"] = load()

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(f"\nmachine: {result['machine']}; load {result['load_at_start']} -> {result['load_at_end']}")
    print(f"versions: {json.dumps(result['versions'])}")
    print(f"time per part (s): {json.dumps(result['part_seconds'])}")
    if comparisons:
        print("\nBest value after the last trial (lower is better), medians over seeds:\n")
        print(quality_table(comparisons))
    if result["latency"]:
        print(f"\nSuggestion latency on {LATENCY_PROBLEM}'s space, median (p90) over the asks after the first:\n")
        print(latency_table(result["latency"]))
    print("\nGoals:")
    for line in result["goals"]:
        print(f"- {line}")
    print(f"\nall numbers: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
