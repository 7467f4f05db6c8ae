"""`ferry.tune`: Optuna-style hyperparameter tuning on a Ferry server's studies.

    from ferry import tune
    study = tune.create_study(name="s", distributions={"x": tune.FloatDistribution(-5, 10),
                                                        "opt": tune.CategoricalDistribution(["adam", 1])})
    study.optimize(lambda t: (t.params["x"] - 2) ** 2, n_trials=50, n_jobs=4)
    study.best_params

The server keeps the study (its sampler, pruner and every trial), so workers
in threads, processes or machines may share one study, and a study outlives
the process that created it (`load_study`). Unlike Optuna, the search space
is declared when the study is created (the server's samplers need it up
front): `trial.params` holds the values, and an objective reads them from
there.

Inside a trial of a Ferry (Katib) Experiment whose metrics collector is
Push, `report_metrics` records the trial's metrics.

Layering as in `ferry.Client`: this module (studies, trials, the optimize
loop) calls the service layer (`_tuning.TuningService`, one method per REST
route), which calls the HTTP layer. Errors are `ferry.errors` exceptions.

Thread-safety: a Study may be shared by threads; `optimize(n_jobs=N)` gives
each of its N workers an HTTP session of its own. A Trial belongs to the
thread that asked for it.
"""
from __future__ import annotations

import datetime
import json
import logging
import math
import numbers
import os
import random
import threading
import time
from typing import (Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, Union)

from . import errors
from ._http import Transport
from ._tuning import (
    CategoricalDistribution,
    ChoiceMap,
    DiscreteDistribution,
    Distribution,
    FloatDistribution,
    IntDistribution,
    TuningService,
    as_distribution,
    decode_distribution,
    decode_number,
    encode_distribution,
    encode_number,
)
from .client import Client

__all__ = [
    "CategoricalDistribution", "DiscreteDistribution", "Distribution", "FloatDistribution", "IntDistribution",
    "METRICS_FILE_VAR", "Study", "Trial", "TrialPruned", "create_study", "delete_study", "get_all_study_names",
    "load_study", "report_metrics",
]

Object = Dict[str, Any]
Server = Union[str, Client, None]

STATES = ("COMPLETE", "FAILED", "PRUNED")
# Set by Ferry's experiment controller for each trial it runs (Katib's Push collector).
METRICS_FILE_VAR = "FERRY_TRIAL_METRICS_FILE"

# An ask answered 503 (the sampler waits for running trials, or the server is
# busy) is retried after 50 ms, doubling up to the server's Retry-After (1 s
# when it sends none), for at most this long.
ASK_RETRY_FIRST_DELAY = 0.05
ASK_RETRY_LIMIT_SECONDS = 600.0

_log = logging.getLogger("ferry.tune")


class TrialPruned(Exception):
    """Raised by an objective to stop its trial early; `optimize` tells the trial PRUNED."""


class Trial:
    """One trial of a study: its number, parameters and, once finished, its state and value.

    A trial returned by `Study.ask` is RUNNING; `report` and `should_prune`
    talk to the server over the session of the thread that asked for it.
    """

    def __init__(self, study: "Study", service: TuningService, doc: Object) -> None:
        self._study = study
        self._service = service
        number = doc.get("number")
        if isinstance(number, bool) or not isinstance(number, int):
            raise errors.Internal("the server sent a trial without a number")
        self.number: int = number
        self.state: str = str(doc.get("state", "RUNNING"))
        self.params: Dict[str, Any] = study._decode_params(doc.get("params") or {})
        value = doc.get("value")
        self.value: Optional[float] = None if value is None else decode_number(value)
        self.intermediate_values: Dict[int, float] = {
            int(step): decode_number(v) for step, v in (doc.get("intermediate_values") or {}).items()}

    def __repr__(self) -> str:
        return (f"Trial(number={self.number}, state={self.state!r}, value={self.value!r}, "
                f"params={self.params!r})")

    def report(self, value: float, step: int) -> None:
        """Records the objective's intermediate `value` at `step` (>= 0); the first report of a step wins."""
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise errors.InvalidArgument(f"step must be an integer, not {step!r}", field="step")
        wire = encode_number(value, "value")
        self._service.report(self._study.name, self.number, int(step), wire)
        self.intermediate_values.setdefault(int(step), decode_number(wire))

    def should_prune(self) -> bool:
        """Whether the study's pruner would stop this trial now; raise TrialPruned if so."""
        return self._service.should_prune(self._study.name, self.number)


class Study:
    """A study on a Ferry server; made by `create_study` or `load_study`, not directly."""

    def __init__(self, connection: "_Connection", doc: Object,
                 distributions: Optional[Mapping[str, Distribution]] = None) -> None:
        self._connection = connection
        self._service = connection.service
        name = doc.get("name")
        if not isinstance(name, str):
            raise errors.Internal("the server sent a study without a name")
        self.name: str = name
        self.study_id: Optional[int] = doc.get("study_id")
        self.direction: str = str(doc.get("direction", "minimize"))
        self.sampler: str = str(doc.get("sampler", ""))
        self.sampler_settings: Dict[str, str] = dict(doc.get("sampler_settings") or {})
        self.pruner: str = str(doc.get("pruner", ""))
        self.pruner_settings: Dict[str, str] = dict(doc.get("pruner_settings") or {})
        self.seed: Optional[int] = doc.get("seed")
        self.metric_names: List[str] = list(doc.get("metric_names") or [])
        self.created: Optional[str] = doc.get("created")
        # The caller's distributions keep the original choice objects; the
        # server's carry categorical choices as strings.
        if distributions is None:
            distributions = dict(decode_distribution(d) for d in doc.get("distributions") or [])
        self.distributions: Dict[str, Distribution] = dict(distributions)
        self._choices: Dict[str, ChoiceMap] = {
            n: ChoiceMap(d.choices, f"distributions[{i}].choices")
            for i, (n, d) in enumerate(self.distributions.items()) if isinstance(d, CategoricalDistribution)}

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, direction={self.direction!r}, sampler={self.sampler!r})"

    def close(self) -> None:
        """Releases the connection if the study opened it (server given as a URL or by default)."""
        self._connection.close()

    def __enter__(self) -> "Study":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Ask and tell.

    def ask(self, fixed_params: Optional[Mapping[str, Any]] = None) -> Trial:
        """A new RUNNING trial; `fixed_params` pin some parameters (Optuna's enqueue_trial), the sampler picks the rest.

        Raises Unavailable (HTTP 503) while the sampler waits for running
        trials to finish (hyperband), FailedPrecondition (409) when it has
        nothing left to propose (an exhausted grid).
        """
        return self._ask(self._service, fixed_params)

    def tell(self, trial: Union[Trial, int], value: Optional[float] = None, state: str = "COMPLETE") -> Trial:
        """Finishes a running trial: COMPLETE with its `value`, FAILED or PRUNED; returns the finished trial."""
        number = trial.number if isinstance(trial, Trial) else trial
        if isinstance(number, bool) or not isinstance(number, int):
            raise errors.InvalidArgument(f"tell needs a Trial or a trial number, not {trial!r}", field="number")
        return self._tell(self._service, number, value, state)

    # Results.

    @property
    def trials(self) -> List[Trial]:
        """Every trial of the study, by number."""
        return [Trial(self, self._service, doc) for doc in self._service.trials(self.name)]

    @property
    def best_trial(self) -> Trial:
        """The complete trial with the best value; NotFound while no trial is complete."""
        return Trial(self, self._service, self._service.best_trial(self.name))

    @property
    def best_params(self) -> Dict[str, Any]:
        """The best trial's parameters."""
        return self.best_trial.params

    @property
    def best_value(self) -> float:
        """The best trial's value."""
        value = self.best_trial.value
        if value is None:
            raise errors.Internal(f"the best trial of study '{self.name}' came without a value")
        return value

    def trial(self, number: int) -> Trial:
        """Trial `number`; NotFound for a number never asked."""
        return Trial(self, self._service, self._service.trial(self.name, number))

    # The optimize loop.

    def optimize(self, func: Callable[[Trial], float], n_trials: Optional[int] = None, n_jobs: int = 1,
                 catch: Union[Sequence[Type[Exception]], Type[Exception]] = (),
                 timeout: Optional[float] = None) -> None:
        """Runs `func` on new trials until `n_trials` have run, `timeout` seconds passed or the sampler is done.

        `func(trial)` returns the objective's value (the trial is told
        COMPLETE), or raises TrialPruned (PRUNED). Any other exception tells
        the trial FAILED; the loop goes on if its type is in `catch`, else it
        stops and the exception is raised. A value that is not a finite
        number fails the trial and the loop goes on, as in Optuna.

        With `n_jobs` > 1 (-1: one per CPU) the trials run in that many
        threads, each with its own HTTP session. An ask answered 503 is
        retried after a short backoff; 409 (the sampler has nothing left to
        propose) ends the loop without error.
        """
        if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0):
            raise errors.InvalidArgument(f"n_trials must be an integer >= 0 or None, not {n_trials!r}",
                                         field="n_trials")
        if n_jobs == -1:
            n_jobs = os.cpu_count() or 1
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise errors.InvalidArgument(f"n_jobs must be an integer >= 1 or -1, not {n_jobs!r}", field="n_jobs")
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout < 0):
            raise errors.InvalidArgument(f"timeout must be seconds >= 0 or None, not {timeout!r}", field="timeout")
        caught = tuple(catch) if isinstance(catch, (list, tuple)) else (catch,)
        if not all(isinstance(c, type) and issubclass(c, BaseException) for c in caught):
            raise errors.InvalidArgument(f"catch must be exception classes, not {catch!r}", field="catch")
        run = _Run(n_trials, timeout)
        if n_jobs == 1:
            self._work(self._service, func, caught, run)
            return
        workers = [threading.Thread(target=self._worker, args=(func, caught, run), name=f"ferry-tune-{i}")
                   for i in range(n_jobs)]
        for w in workers:
            w.start()
        try:
            for w in workers:
                w.join()
        except BaseException:
            run.stop()  # Ctrl-C: workers end after their current trial.
            raise
        if run.error is not None:
            raise run.error

    def _worker(self, func: Callable[[Trial], float], catch: Tuple[Type[BaseException], ...], run: "_Run") -> None:
        service = self._connection.worker_service()
        try:
            self._work(service, func, catch, run)
        except BaseException as e:
            run.fail(e)
        finally:
            service.close()

    def _work(self, service: TuningService, func: Callable[[Trial], float],
              catch: Tuple[Type[BaseException], ...], run: "_Run") -> None:
        while run.take():
            trial = self._ask_retrying(service, run)
            if trial is None:
                return
            self._run_trial(service, trial, func, catch)

    def _ask_retrying(self, service: TuningService, run: "_Run") -> Optional[Trial]:
        """A new trial, or None when the sampler has nothing left or the run stopped while waiting."""
        started = time.monotonic()
        delays = ask_retry_delays()
        while True:
            try:
                return self._ask(service, None)
            except errors.FerryError as e:
                if e.status == 409:
                    _log.info("study %s: the sampler has nothing left to propose (%s); stopping", self.name,
                              e.message)
                    run.stop()
                    return None
                if e.status != 503 or time.monotonic() - started > ASK_RETRY_LIMIT_SECONDS:
                    raise
                delay = min(next(delays), e.retry_after if e.retry_after else 1.0)
                if run.wait(delay):
                    return None

    def _run_trial(self, service: TuningService, trial: Trial, func: Callable[[Trial], float],
                   catch: Tuple[Type[BaseException], ...]) -> None:
        try:
            result = func(trial)
        except BaseException as e:
            if _is_pruned(e):
                self._tell(service, trial.number, None, "PRUNED")
                return
            self._tell_failed(service, trial, e)
            if isinstance(e, catch):
                _log.warning("study %s: trial %d failed: %r (caught, the study goes on)", self.name,
                             trial.number, e)
                return
            raise
        value = _objective_value(result)
        if value is None:
            _log.warning("study %s: trial %d failed: the objective returned %r, not a finite number", self.name,
                         trial.number, result)
            self._tell(service, trial.number, None, "FAILED")
            return
        self._tell(service, trial.number, value, "COMPLETE")

    def _tell_failed(self, service: TuningService, trial: Trial, cause: BaseException) -> None:
        try:
            self._tell(service, trial.number, None, "FAILED")
        except errors.FerryError as e:
            # The objective's exception is what the caller needs to see.
            _log.warning("study %s: could not tell trial %d FAILED after %r: %s", self.name, trial.number,
                         cause, e)

    # Wire forms.

    def _ask(self, service: TuningService, fixed_params: Optional[Mapping[str, Any]]) -> Trial:
        fixed = None if fixed_params is None else self._encode_params(fixed_params)
        return Trial(self, service, service.ask(self.name, fixed))

    def _tell(self, service: TuningService, number: int, value: Optional[float], state: str) -> Trial:
        if not isinstance(state, str) or state.upper() not in STATES:
            raise errors.InvalidArgument(f"state must be one of {', '.join(STATES)}, not {state!r}", field="state")
        wire = None if value is None else encode_number(value, "value")
        return Trial(self, service, service.tell(self.name, number, state.upper(), wire))

    def _encode_params(self, params: Mapping[str, Any]) -> Object:
        if not isinstance(params, Mapping):
            raise errors.InvalidArgument("fixed_params must be a mapping of parameter names to values",
                                         field="fixed_params")
        out: Object = {}
        for name, value in params.items():
            field = f"fixed_params.{name}"
            choices = self._choices.get(name)
            if choices is not None:
                out[name] = choices.to_wire(value, field)
            else:
                out[name] = encode_number(value, field)
        return out

    def _decode_params(self, params: Mapping[str, Any]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for name, value in params.items():
            choices = self._choices.get(name)
            if choices is not None:
                out[name] = choices.from_wire(value)
            elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
                out[name] = value
            elif isinstance(self.distributions.get(name), IntDistribution):
                out[name] = int(decode_number(value))
            else:
                out[name] = decode_number(value)
        return out


class _Run:
    """What the workers of one optimize call share: trials left to start, the deadline, the stop flag, the error."""

    def __init__(self, n_trials: Optional[int], timeout: Optional[float]) -> None:
        self._lock = threading.Lock()
        self._left = n_trials
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._stopped = threading.Event()
        self.error: Optional[BaseException] = None

    def take(self) -> bool:
        """Claims one trial to start; False once the budget, the deadline or a stop ends the run."""
        with self._lock:
            if self._stopped.is_set():
                return False
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return False
            if self._left is not None:
                if self._left <= 0:
                    return False
                self._left -= 1
            return True

    def wait(self, seconds: float) -> bool:
        """Sleeps up to `seconds` (less past the deadline); True if the run was stopped or timed out meanwhile."""
        if self._deadline is not None:
            seconds = min(seconds, max(self._deadline - time.monotonic(), 0.0))
        stopped = self._stopped.wait(seconds)
        return stopped or (self._deadline is not None and time.monotonic() >= self._deadline)

    def stop(self) -> None:
        """No worker starts another trial."""
        self._stopped.set()

    def fail(self, error: BaseException) -> None:
        """Stops the run and keeps the first worker's error for optimize to raise."""
        with self._lock:
            if self.error is None:
                self.error = error
        self.stop()


def ask_retry_delays() -> Iterator[float]:
    """Waits between asks answered 503: 50 ms doubling, with jitter so that threads do not ask in step."""
    delay = ASK_RETRY_FIRST_DELAY
    while True:
        yield delay * random.uniform(0.75, 1.0)
        delay = min(delay * 2, 60.0)


def _is_pruned(e: BaseException) -> bool:
    # optuna.TrialPruned too, so that objectives written for Optuna run unchanged.
    return isinstance(e, TrialPruned) or (
        type(e).__name__ == "TrialPruned" and type(e).__module__.split(".")[0] == "optuna")


def _objective_value(result: Any) -> Optional[float]:
    if isinstance(result, bool) or not isinstance(result, numbers.Real):
        return None
    value = float(result)
    return value if math.isfinite(value) else None


# Connections.

class _Connection:
    """A study's client, and fresh sessions to the same server for optimize's worker threads."""

    def __init__(self, server: Server) -> None:
        if isinstance(server, Client):
            self._client, self._owns = server, False
        elif server is None or isinstance(server, str):
            self._client, self._owns = Client(server), True
        else:
            raise errors.InvalidArgument(f"server must be a URL or a ferry.Client, not {type(server).__name__}",
                                         field="server")
        self.service = TuningService(self._client._transport)

    def worker_service(self) -> TuningService:
        """A service over a new HTTP session; the caller closes it."""
        return TuningService(Transport(self._client.url, self._client._transport.timeout))

    def close(self) -> None:
        if self._owns:
            self._client.close()


# Module functions.

def create_study(name: str, distributions: Mapping[str, Any], direction: str = "minimize", sampler: str = "tpe",
                 sampler_settings: Optional[Mapping[str, Any]] = None, pruner: str = "none",
                 pruner_settings: Optional[Mapping[str, Any]] = None, seed: Optional[int] = None,
                 load_if_exists: bool = False, server: Server = None,
                 metric_names: Optional[Sequence[str]] = None) -> Study:
    """Creates a study on the server (default $FERRY_SERVER); with `load_if_exists`, loads an identical one.

    `distributions` maps parameter names to tune.*Distribution (or
    optuna.distributions) objects. Samplers and pruners go by Katib's
    names (tpe, random, grid, sobol, cmaes, bayesianoptimization, hyperband,
    multivariate-tpe; none, medianstop, successivehalving, hyperband), with
    their settings as Katib's algorithmSettings (values may be numbers).
    Raises InvalidArgument naming the field, or AlreadyExists.
    """
    if not isinstance(distributions, Mapping) or not distributions:
        raise errors.InvalidArgument("distributions must be a non-empty mapping of parameter names to "
                                     "distributions", field="distributions")
    dists: Dict[str, Distribution] = {}
    wire: List[Object] = []
    for i, (param, dist) in enumerate(distributions.items()):
        field = f"distributions[{i}]"
        if not isinstance(param, str):
            raise errors.InvalidArgument(f"{field}: a parameter name must be a string, not {param!r}",
                                         field=f"{field}.name")
        dists[param] = as_distribution(dist, field)
        wire.append(encode_distribution(param, dists[param], field))
    body: Object = {"name": name, "distributions": wire, "direction": direction, "sampler": sampler,
                    "sampler_settings": dict(sampler_settings or {}), "pruner": pruner,
                    "pruner_settings": dict(pruner_settings or {}), "load_if_exists": bool(load_if_exists)}
    if seed is not None:
        body["seed"] = seed
    if metric_names is not None:
        body["metric_names"] = list(metric_names)
    connection = _Connection(server)
    try:
        return Study(connection, connection.service.create_study(body), dists)
    except BaseException:
        connection.close()
        raise


def load_study(name: str, server: Server = None) -> Study:
    """The existing study `name`; NotFound if there is none.

    Its categorical choices are the server's strings (a choice created as
    the number 1 comes back as "1"); create_study(..., load_if_exists=True)
    with the original distributions keeps the original objects.
    """
    connection = _Connection(server)
    try:
        return Study(connection, connection.service.get_study(name))
    except BaseException:
        connection.close()
        raise


def delete_study(name: str, server: Server = None) -> None:
    """Deletes the study and its trials; NotFound if there is none."""
    connection = _Connection(server)
    try:
        connection.service.delete_study(name)
    finally:
        connection.close()


def get_all_study_names(server: Server = None) -> List[str]:
    """The names of every study on the server, in byte order."""
    connection = _Connection(server)
    names: List[str] = []
    token: Optional[str] = None
    try:
        while True:
            page = connection.service.list_studies(1000, token)
            names += [s["name"] for s in page.get("studies") or [] if isinstance(s, dict)]
            token = page.get("next_page_token") or None
            if token is None:
                return names
    finally:
        connection.close()


def report_metrics(metrics: Mapping[str, Any]) -> None:
    """Records metrics of the running trial of a Ferry experiment whose metrics collector is Push.

    Appends one line `{"<name>": value, ..., "timestamp": "<RFC 3339 UTC>"}`
    (Katib's JSON metrics format) to the file in $FERRY_TRIAL_METRICS_FILE,
    which the experiment controller sets for each trial and reads. Values
    are numbers (non-finite ones written "NaN", "Infinity", "-Infinity") or
    numeric strings. Raises FailedPrecondition outside such a trial.
    """
    path = os.environ.get(METRICS_FILE_VAR, "")
    if not path:
        raise errors.FailedPrecondition(
            f"tune.report_metrics records metrics of a trial that a Ferry experiment runs, and ${METRICS_FILE_VAR} "
            "is not set: this process is not such a trial (outside one, log to MLflow or use a study's "
            "tell/report)", field=METRICS_FILE_VAR)
    if not isinstance(metrics, Mapping) or not metrics:
        raise errors.InvalidArgument("metrics must be a non-empty mapping of metric names to numbers",
                                     field="metrics")
    line: Object = {}
    for name, value in metrics.items():
        field = f"metrics.{name}"
        if not isinstance(name, str) or not name or name == "timestamp":
            raise errors.InvalidArgument(f"a metric name must be a non-empty string other than 'timestamp', "
                                         f"not {name!r}", field="metrics")
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                raise errors.InvalidArgument(f"{field} must be a number, not {value!r}", field=field) from None
            line[name] = value
        else:
            line[name] = encode_number(value, field)
    now = datetime.datetime.now(datetime.timezone.utc)
    line["timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data = (json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
    # One write on an O_APPEND descriptor: lines of concurrent writers never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
