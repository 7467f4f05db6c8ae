"""Declarative API scenarios, after DuckDB's sqllogictest: every file under
tests/scenarios/<surface>/*.yaml is a list of steps run in order against one
fresh `ferry server`. A step is a request and what its response must be:

    - name: create from YAML                  # optional, shown on failure
      request:
        method: POST                          # default GET
        path: /api/v1/namespaces/default/configmaps
        headers: {Content-Type: application/yaml}
        body: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
      expect:
        status: 201
        json_subset: {metadata: {name: a, resourceVersion: "$regex:^[0-9]+$"}}
      save: {rv: metadata.resourceVersion}    # later steps may use ${rv}

Request bodies: `body` (any YAML value) is encoded as JSON, or as YAML when
the Content-Type header says YAML; JSON requests get Content-Type
application/json unless the step sets one. `body_text` is sent verbatim with
no Content-Type added. `body_size: N` sends N bytes of "x". `chunked: true`
sends the body with Transfer-Encoding: chunked.

Expectations: `status`; `headers` (name -> value, case-insensitive names);
`json_subset` / `yaml_subset` (the parsed body contains this: objects by key,
lists element by element with equal length, or, for a list starting with
"$contains", each further element matching some element); `error_code` / `error_field`
(the native error shape); `body_contains` / `body_not_contains` (a string or
a list); `body_equals`;
`events` (the response is a server-sent event stream whose first events
match, each `{event, data_subset}`; the stream is read until that many
events arrived).

Values in expectations may be "$any" (present), "$absent" (key not there)
or "$regex:<pattern>". "${name}" anywhere in a request or expectation is
replaced by a value saved by an earlier step's `save` (a dotted path into the
JSON response, with [i] for list items).
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import requests
import yaml

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*/*.yaml"))
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
STEP_KEYS = {"name", "request", "expect", "save"}
REQUEST_KEYS = {"method", "path", "headers", "body", "body_text", "body_size", "chunked"}
EXPECT_KEYS = {"status", "headers", "json_subset", "yaml_subset", "error_code", "error_field", "body_contains",
               "body_not_contains", "body_equals", "events"}
VAR = re.compile(r"\$\{(\w+)\}")
EVENT_TIMEOUT = 30.0


class ScenarioError(AssertionError):
    pass


def substitute(value: Any, saved: Dict[str, Any]) -> Any:
    """Replaces ${name} in every string of `value`; a string that is exactly ${name} takes the saved value's type."""
    if isinstance(value, str):
        whole = VAR.fullmatch(value)
        if whole:
            return lookup_saved(whole.group(1), saved)
        return VAR.sub(lambda m: str(lookup_saved(m.group(1), saved)), value)
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {substitute(k, saved): substitute(v, saved) for k, v in value.items()}
    return value


def lookup_saved(name: str, saved: Dict[str, Any]) -> Any:
    if name not in saved:
        raise ScenarioError(f"${{{name}}} is used before a step saved it")
    return saved[name]


def json_path(doc: Any, path: str) -> Any:
    """`items[0].metadata.name` into a parsed JSON document."""
    current = doc
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(current, list) or index >= len(current):
                raise ScenarioError(f"save: no {part} at {path!r} in {json.dumps(doc)[:500]}")
            current = current[index]
        else:
            if not isinstance(current, dict) or part not in current:
                raise ScenarioError(f"save: no {part!r} at {path!r} in {json.dumps(doc)[:500]}")
            current = current[part]
    return current


def match(expected: Any, actual: Any, where: str) -> None:
    """Raises ScenarioError naming the first place where `actual` does not contain `expected`."""
    if isinstance(expected, str) and expected == "$any":
        return
    if isinstance(expected, str) and expected.startswith("$regex:"):
        if not isinstance(actual, str) or not re.search(expected[len("$regex:"):], actual):
            raise ScenarioError(f"{where}: {actual!r} does not match {expected!r}")
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise ScenarioError(f"{where}: expected an object, got {json.dumps(actual)[:300]}")
        for key, value in expected.items():
            if value == "$absent":
                if key in actual:
                    raise ScenarioError(f"{where}.{key}: expected absent, got {json.dumps(actual[key])[:300]}")
                continue
            if key not in actual:
                raise ScenarioError(f"{where}.{key}: missing in {json.dumps(actual)[:300]}")
            match(value, actual[key], f"{where}.{key}")
        return
    if isinstance(expected, list) and expected[:1] == ["$contains"]:
        if not isinstance(actual, list):
            raise ScenarioError(f"{where}: expected a list, got {json.dumps(actual)[:300]}")
        for e in expected[1:]:
            if not any(matches(e, a) for a in actual):
                raise ScenarioError(f"{where}: no element matches {e!r} in {json.dumps(actual)[:500]}")
        return
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            raise ScenarioError(f"{where}: expected a list of {len(expected)}, got {json.dumps(actual)[:300]}")
        for i, (e, a) in enumerate(zip(expected, actual)):
            match(e, a, f"{where}[{i}]")
        return
    if expected != actual or type(expected) is not type(actual):
        raise ScenarioError(f"{where}: expected {expected!r}, got {actual!r}")


def matches(expected: Any, actual: Any) -> bool:
    try:
        match(expected, actual, "")
        return True
    except ScenarioError:
        return False


def build_request(spec: Dict[str, Any]) -> Dict[str, Any]:
    unknown = set(spec) - REQUEST_KEYS
    if unknown:
        raise ScenarioError(f"unknown request keys {sorted(unknown)}")
    if "path" not in spec:
        raise ScenarioError("request needs a path")
    headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    data: Any = None
    if "body" in spec:
        if content_type and content_type.split(";")[0].strip().lower() in YAML_TYPES:
            data = yaml.safe_dump(spec["body"], sort_keys=False).encode()
        else:
            data = json.dumps(spec["body"]).encode()
            if content_type is None:
                headers["Content-Type"] = "application/json"
    elif "body_text" in spec:
        data = str(spec["body_text"]).encode()
    elif "body_size" in spec:
        data = b"x" * int(spec["body_size"])
    if spec.get("chunked"):
        payload = data or b""
        data = (payload[i:i + 65536] for i in range(0, len(payload), 65536))
    return {"method": spec.get("method", "GET"), "path": spec["path"], "headers": headers, "data": data}


def read_events(response: requests.Response, count: int) -> List[Dict[str, str]]:
    """The first `count` server-sent events of a streamed response."""
    events: List[Dict[str, str]] = []
    current: Dict[str, str] = {}
    deadline = time.monotonic() + EVENT_TIMEOUT
    for raw in response.iter_lines(decode_unicode=True):
        if time.monotonic() > deadline:
            break
        line = raw if isinstance(raw, str) else raw.decode()
        if line == "":
            if current:
                events.append(current)
                current = {}
                if len(events) >= count:
                    break
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        current[key] = value[1:] if value.startswith(" ") else value
    return events


def check_response(expect: Dict[str, Any], response: requests.Response) -> Optional[Any]:
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        raise ScenarioError(f"unknown expect keys {sorted(unknown)}")
    if "status" in expect and response.status_code != expect["status"]:
        body = "" if "events" in expect else response.text[:1000]
        raise ScenarioError(f"status: expected {expect['status']}, got {response.status_code}: {body}")
    for name, value in (expect.get("headers") or {}).items():
        got = response.headers.get(name)
        if value == "$absent":
            if got is not None:
                raise ScenarioError(f"header {name}: expected absent, got {got!r}")
            continue
        if got is None:
            raise ScenarioError(f"header {name}: missing (headers: {dict(response.headers)})")
        match(str(value) if not isinstance(value, str) else value, got, f"header {name}")

    if "events" in expect:
        wanted = expect["events"]
        events = read_events(response, len(wanted))
        if len(events) < len(wanted):
            raise ScenarioError(f"events: expected {len(wanted)}, got {len(events)}: {events}")
        for i, (want, event) in enumerate(zip(wanted, events)):
            if "event" in want and event.get("event") != want["event"]:
                raise ScenarioError(f"events[{i}].event: expected {want['event']!r}, got {event}")
            if "data_subset" in want:
                match(want["data_subset"], json.loads(event.get("data", "null")), f"events[{i}].data")
        return None

    text = response.text
    for needle in ([expect["body_contains"]] if isinstance(expect.get("body_contains"), str)
                   else expect.get("body_contains") or []):
        if needle not in text:
            raise ScenarioError(f"body does not contain {needle!r}: {text[:1000]}")
    for needle in ([expect["body_not_contains"]] if isinstance(expect.get("body_not_contains"), str)
                   else expect.get("body_not_contains") or []):
        if needle in text:
            raise ScenarioError(f"body contains {needle!r}: {text[:1000]}")
    if "body_equals" in expect and text != expect["body_equals"]:
        raise ScenarioError(f"body: expected {expect['body_equals']!r}, got {text[:1000]!r}")

    doc = None
    if {"json_subset", "error_code", "error_field"} & expect.keys() or \
            response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            doc = response.json()
        except ValueError as e:
            if {"json_subset", "error_code", "error_field"} & expect.keys():
                raise ScenarioError(f"body is not JSON ({e}): {text[:1000]}")
    if "json_subset" in expect:
        match(expect["json_subset"], doc, "body")
    if "yaml_subset" in expect:
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ScenarioError(f"body is not YAML ({e}): {text[:1000]}")
        match(expect["yaml_subset"], parsed, "body")
    if "error_code" in expect:
        match({"error": {"code": expect["error_code"]}}, doc, "body")
    if "error_field" in expect:
        match({"error": {"field": expect["error_field"]}}, doc, "body")
    return doc


def run_step(url: str, step: Dict[str, Any], saved: Dict[str, Any]) -> None:
    unknown = set(step) - STEP_KEYS
    if unknown:
        raise ScenarioError(f"unknown step keys {sorted(unknown)}")
    req = build_request(substitute(step.get("request") or {}, saved))
    expect = substitute(step.get("expect") or {}, saved)
    streaming = "events" in expect
    with requests.request(req["method"], url + req["path"], headers=req["headers"], data=req["data"],
                          timeout=(10, EVENT_TIMEOUT if streaming else 60), stream=streaming,
                          allow_redirects=False) as response:
        doc = check_response(expect, response)
    for name, path in (step.get("save") or {}).items():
        if doc is None:
            raise ScenarioError(f"save {name}: the response has no JSON body")
        saved[name] = json_path(doc, path)


def load(path: Path) -> List[Dict[str, Any]]:
    steps = yaml.safe_load(path.read_text())
    if not isinstance(steps, list) or not steps:
        raise ScenarioError(f"{path}: a scenario file is a non-empty list of steps")
    return steps


def test_every_scenario_file_is_well_formed():
    assert SCENARIOS, f"no scenario files under {SCENARIO_DIR}"
    for path in SCENARIOS:
        for i, step in enumerate(load(path), 1):
            assert isinstance(step, dict) and "request" in step and "expect" in step, f"{path.name} step {i}"
            assert not set(step) - STEP_KEYS, f"{path.name} step {i}: {set(step) - STEP_KEYS}"
            assert not set(step["request"]) - REQUEST_KEYS, f"{path.name} step {i}"
            assert not set(step["expect"]) - EXPECT_KEYS, f"{path.name} step {i}"
            assert "status" in step["expect"], f"{path.name} step {i}: every step checks its status"


@pytest.mark.parametrize("path", SCENARIOS, ids=[f"{p.parent.name}/{p.stem}" for p in SCENARIOS])
def test_scenario(path: Path, ferry_server) -> None:
    saved: Dict[str, Any] = {}
    for i, step in enumerate(load(path), 1):
        label = f"{path.relative_to(SCENARIO_DIR)} step {i}"
        if step.get("name"):
            label += f" ({step['name']})"
        try:
            run_step(ferry_server.url, step, saved)
        except ScenarioError as e:
            pytest.fail(f"{label}: {e}", pytrace=False)
        except requests.RequestException as e:
            pytest.fail(f"{label}: request failed: {e!r}", pytrace=False)


def test_matcher_can_fail():
    """The matcher must reject what it should, or every scenario would pass vacuously."""
    match({"a": {"b": [1, "$any"]}}, {"a": {"b": [1, 2], "c": 3}}, "x")
    match(["$contains", {"n": 2}], [{"n": 1}, {"n": 2, "m": 0}], "x")
    for expected, actual in [(["$contains", {"n": 3}], [{"n": 1}]), ({"a": 1}, {"a": 2}), ({"a": 1}, {}),
                             ({"a": "$absent"}, {"a": None}), ([1], [1, 2]), ({"a": "$regex:^[0-9]+$"}, {"a": "12a"}),
                             (1, True), (1, 1.0)]:
        with pytest.raises(ScenarioError):
            match(expected, actual, "x")
