"""Service layer of `ferry.tune`: the wire shapes of the tuning REST API and one method per route.

It knows the URL layout (`/api/v1/tuning/studies[/{name}[/trials[/{number}[/...]]]]`),
how distributions, parameter values and non-finite numbers travel as JSON,
and nothing of what `ferry.tune` builds on top (trials bound to a study,
optimize loops, retries).

Categorical choices travel as strings: a choice that is not a string is sent
as its JSON text (1 -> "1", True -> "true", None -> "null"), which is what the
server would make of it, and `ChoiceMap` maps the server's strings back to
the caller's objects.

Thread-safety: the distribution classes and ChoiceMap are immutable; a
TuningService is as safe as the Transport it is given.
"""
from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import errors
from ._http import Transport
from ._service import API_PREFIX, _segment

STUDIES_PATH = API_PREFIX + "/tuning/studies"

Object = Dict[str, Any]
Number = Union[int, float]
# A value as the wire carries it: a JSON number, or "NaN"/"Infinity"/"-Infinity".
WireNumber = Union[int, float, str]


@dataclass(frozen=True)
class FloatDistribution:
    """A float in [low, high]; `log` samples on a log scale, `step` snaps to low + k * step (not with log)."""

    low: float
    high: float
    log: bool = False
    step: Optional[float] = None


@dataclass(frozen=True)
class IntDistribution:
    """An integer in [low, high] on the grid low + k * step; `log` samples on a log scale."""

    low: int
    high: int
    log: bool = False
    step: int = 1


@dataclass(frozen=True)
class DiscreteDistribution:
    """One of a list of numbers (Katib's `discrete` parameter)."""

    values: Tuple[float, ...]

    def __init__(self, values: Sequence[float]) -> None:
        object.__setattr__(self, "values", tuple(values))


@dataclass(frozen=True)
class CategoricalDistribution:
    """One of a list of choices: strings, numbers, booleans or None, returned as the objects given."""

    choices: Tuple[Any, ...]

    def __init__(self, choices: Sequence[Any]) -> None:
        object.__setattr__(self, "choices", tuple(choices))


Distribution = Union[FloatDistribution, IntDistribution, DiscreteDistribution, CategoricalDistribution]


def as_distribution(obj: Any, field: str) -> Distribution:
    """`obj` as one of ours; optuna.distributions objects (and Optuna's older classes) are read by duck typing."""
    if isinstance(obj, (FloatDistribution, IntDistribution, DiscreteDistribution, CategoricalDistribution)):
        return obj
    kind = type(obj).__name__
    try:
        if kind == "FloatDistribution":
            return FloatDistribution(obj.low, obj.high, bool(obj.log), obj.step)
        if kind == "IntDistribution":
            return IntDistribution(obj.low, obj.high, bool(obj.log), obj.step)
        if kind == "CategoricalDistribution":
            return CategoricalDistribution(obj.choices)
        if kind == "UniformDistribution":
            return FloatDistribution(obj.low, obj.high)
        if kind == "LogUniformDistribution":
            return FloatDistribution(obj.low, obj.high, log=True)
        if kind == "DiscreteUniformDistribution":
            return FloatDistribution(obj.low, obj.high, step=obj.q)
        if kind == "IntUniformDistribution":
            return IntDistribution(obj.low, obj.high, step=obj.step)
        if kind == "IntLogUniformDistribution":
            return IntDistribution(obj.low, obj.high, log=True)
    except AttributeError as e:
        raise errors.InvalidArgument(f"{field}: a {kind} without the attribute it needs ({e})",
                                     field=field) from None
    raise errors.InvalidArgument(
        f"{field}: {kind} is not a distribution; use tune.FloatDistribution, IntDistribution, "
        f"DiscreteDistribution or CategoricalDistribution (or optuna.distributions)", field=field)


def encode_choice(choice: Any, field: str) -> str:
    """The string a categorical choice travels as: itself for a string, else its JSON text."""
    if isinstance(choice, str):
        return choice
    if choice is None or isinstance(choice, (bool, int, float)):
        if isinstance(choice, float) and not math.isfinite(choice):
            raise errors.InvalidArgument(f"{field}: a choice must be finite, not {choice}", field=field)
        return json.dumps(choice)
    if isinstance(choice, numbers.Integral):  # numpy integers and the like
        return json.dumps(int(choice))
    if isinstance(choice, numbers.Real):
        return encode_choice(float(choice), field)
    raise errors.InvalidArgument(
        f"{field}: a choice must be a string, number, boolean or None, not {type(choice).__name__}", field=field)


class ChoiceMap:
    """A categorical's choices both ways: original object -> wire string, and back."""

    def __init__(self, choices: Sequence[Any], field: str) -> None:
        self.choices: Tuple[Any, ...] = tuple(choices)
        self.texts: Tuple[str, ...] = tuple(encode_choice(c, f"{field}[{i}]") for i, c in enumerate(self.choices))
        self._by_text: Dict[str, Any] = {}
        for i, text in enumerate(self.texts):
            if text in self._by_text:
                first = self.texts.index(text)
                raise errors.InvalidArgument(
                    f"{field}[{i}]: the choice {self.choices[i]!r} travels as '{text}', as does choice "
                    f"{first} ({self.choices[first]!r}); choices must differ as strings", field=f"{field}[{i}]")
            self._by_text[text] = self.choices[i]

    def to_wire(self, choice: Any, field: str) -> str:
        """The wire string of `choice`, found among the choices by value and type (1 is not True, nor 1.0).

        A value that is not a choice is encoded all the same, for the server to refuse by name.
        """
        for original, text in zip(self.choices, self.texts):
            if type(original) is type(choice) and original == choice:
                return text
        return encode_choice(choice, field)

    def from_wire(self, value: Any) -> Any:
        """The original choice the server's string stands for; an unknown string is returned unchanged."""
        if isinstance(value, str):
            return self._by_text.get(value, value)
        return value


def encode_distribution(name: str, dist: Distribution, field: str) -> Object:
    """The wire Dist of parameter `name`; `field` ("distributions[2]") prefixes errors."""
    if isinstance(dist, FloatDistribution):
        doc: Object = {"name": name, "type": "float", "low": _number(dist.low, f"{field}.low", finite=True),
                       "high": _number(dist.high, f"{field}.high", finite=True), "log": bool(dist.log)}
        if dist.step is not None:
            doc["step"] = _number(dist.step, f"{field}.step", finite=True)
        return doc
    if isinstance(dist, IntDistribution):
        doc = {"name": name, "type": "int", "low": _integer(dist.low, f"{field}.low"),
               "high": _integer(dist.high, f"{field}.high"), "log": bool(dist.log)}
        if dist.step != 1:
            doc["step"] = _integer(dist.step, f"{field}.step")
        return doc
    if isinstance(dist, DiscreteDistribution):
        return {"name": name, "type": "discrete",
                "values": [_number(v, f"{field}.values[{i}]", finite=True) for i, v in enumerate(dist.values)]}
    return {"name": name, "type": "categorical",
            "choices": list(ChoiceMap(dist.choices, f"{field}.choices").texts)}


def decode_distribution(doc: Any) -> Tuple[str, Distribution]:
    """A wire Dist from the server as (name, distribution); categorical choices stay the server's strings."""
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise errors.Internal("the server sent a distribution without a name")
    name, kind = doc["name"], doc.get("type")
    try:
        if kind == "float":
            step = doc.get("step")
            return name, FloatDistribution(float(doc["low"]), float(doc["high"]), bool(doc.get("log", False)),
                                           None if step is None or step == 0 else float(step))
        if kind == "int":
            return name, IntDistribution(int(doc["low"]), int(doc["high"]), bool(doc.get("log", False)),
                                         int(doc.get("step") or 1))
        if kind == "discrete":
            return name, DiscreteDistribution([float(v) for v in doc["values"]])
        if kind == "categorical":
            return name, CategoricalDistribution([c if isinstance(c, str) else json.dumps(c)
                                                  for c in doc["choices"]])
    except (KeyError, TypeError, ValueError) as e:
        raise errors.Internal(f"the server sent a malformed {kind} distribution '{name}': {e!r}") from None
    raise errors.Internal(f"the server sent distribution '{name}' of unknown type {kind!r}")


def encode_number(value: Any, field: str) -> WireNumber:
    """A number for the wire: non-finite floats become "NaN", "Infinity" or "-Infinity"."""
    v = _number(value, field)
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return v


def decode_number(value: Any) -> float:
    """A wire number (a JSON number or "NaN"/"Infinity"/"-Infinity") as a float."""
    if isinstance(value, str):
        if value in ("NaN", "Infinity", "-Infinity"):
            return float(value.replace("Infinity", "inf"))
        raise errors.Internal(f"the server sent '{value}' where a number belongs")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.Internal(f"the server sent {value!r} where a number belongs")
    return float(value)


def _number(value: Any, field: str, finite: bool = False) -> Number:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise errors.InvalidArgument(f"{field} must be a number, not {type(value).__name__}", field=field)
    if isinstance(value, numbers.Integral):
        return int(value)
    if finite and not math.isfinite(value):
        raise errors.InvalidArgument(f"{field} must be finite, not {value}", field=field)
    return float(value)


def _integer(value: Any, field: str) -> int:
    number = _number(value, field, finite=True)
    if not isinstance(number, int):
        if not number.is_integer():
            raise errors.InvalidArgument(f"{field} must be an integer, not {value!r}", field=field)
        number = int(number)
    return number


class TuningService:
    """Calls the tuning routes of one server; every method returns the decoded JSON answer."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def close(self) -> None:
        """Closes the transport's session if the transport owns it."""
        self._transport.close()

    def create_study(self, body: Object) -> Object:
        """POST /tuning/studies: the Study (201 created, 200 loaded with load_if_exists)."""
        return self._transport.request("POST", STUDIES_PATH, body=body)

    def get_study(self, name: str) -> Object:
        """GET one Study."""
        return self._transport.request("GET", _study_path(name))

    def list_studies(self, page_size: Optional[int], page_token: Optional[str]) -> Object:
        """GET one page: {"studies": [...], "next_page_token": str}."""
        params = {k: str(v) for k, v in (("page_size", page_size), ("page_token", page_token)) if v}
        return self._transport.request("GET", STUDIES_PATH, params=params)

    def delete_study(self, name: str) -> None:
        """DELETE the study and its trials."""
        self._transport.request("DELETE", _study_path(name))

    def ask(self, name: str, fixed_params: Optional[Mapping[str, Any]]) -> Object:
        """POST .../trials: a new RUNNING Trial; 503 while the sampler waits, 409 when it has nothing left."""
        body = {} if fixed_params is None else {"fixed_params": dict(fixed_params)}
        return self._transport.request("POST", _study_path(name, "trials"), body=body)

    def trials(self, name: str) -> List[Object]:
        """GET .../trials: every Trial by number."""
        trials = self._transport.request("GET", _study_path(name, "trials")).get("trials")
        if not isinstance(trials, list):
            raise errors.Internal(f"the trials of study '{name}' came without a 'trials' list")
        return trials

    def trial(self, name: str, number: int) -> Object:
        """GET one Trial."""
        return self._transport.request("GET", _trial_path(name, number))

    def tell(self, name: str, number: int, state: str, value: Optional[WireNumber]) -> Object:
        """POST .../tell: the finished Trial."""
        body: Object = {"state": state}
        if value is not None:
            body["value"] = value
        return self._transport.request("POST", _trial_path(name, number, "tell"), body=body)

    def report(self, name: str, number: int, step: int, value: WireNumber) -> None:
        """POST .../report: one intermediate value."""
        self._transport.request("POST", _trial_path(name, number, "report"), body={"step": step, "value": value})

    def should_prune(self, name: str, number: int) -> bool:
        """GET .../should-prune."""
        answer = self._transport.request("GET", _trial_path(name, number, "should-prune")).get("should_prune")
        if not isinstance(answer, bool):
            raise errors.Internal("should-prune did not answer {\"should_prune\": true|false}")
        return answer

    def best_trial(self, name: str) -> Object:
        """GET .../best-trial; NotFound while no trial is complete."""
        return self._transport.request("GET", _study_path(name, "best-trial"))


def _study_path(name: str, *rest: str) -> str:
    return "/".join([STUDIES_PATH, _segment(name, "name"), *rest])


def _trial_path(name: str, number: int, *rest: str) -> str:
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise errors.InvalidArgument(f"a trial number must be an integer >= 0, not {number!r}", field="number")
    return _study_path(name, "trials", str(number), *rest)
