"""ferry.Client against a real `ferry server`: every method, its errors, paging and watch."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import ferry


def cm(name: str, namespace: Optional[str] = None, data: Optional[Dict[str, str]] = None,
       labels: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    meta: Dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"k": "v"}}


def names(items: List[Dict[str, Any]]) -> List[str]:
    return sorted(i["metadata"]["name"] for i in items)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Construction and server endpoints.

def test_url_defaults_to_env_then_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FERRY_SERVER", raising=False)
    assert ferry.Client().url == "http://127.0.0.1:8080"
    monkeypatch.setenv("FERRY_SERVER", "http://example.invalid:9000/")
    assert ferry.Client().url == "http://example.invalid:9000"
    assert ferry.Client("http://other:1").url == "http://other:1"


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://host/", "http://"])
def test_bad_url_is_rejected(url: str) -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        ferry.Client(url)
    assert e.value.field == "url"


def test_health_ready_version(client: ferry.Client) -> None:
    assert client.health() is True
    assert client.ready() is True
    assert client.version() == ferry.__version__


def test_unreachable_server_raises_unavailable() -> None:
    c = ferry.Client(f"http://127.0.0.1:{closed_port()}", timeout=5)
    with pytest.raises(ferry.Unavailable) as e:
        c.health()
    assert e.value.status is None
    assert "cannot reach" in e.value.message
    with pytest.raises(ferry.Unavailable):
        c.get("configmaps", "x")


# Discovery and kind names.

def test_discovery_lists_configmaps(client: ferry.Client) -> None:
    doc = client.discovery()
    assert doc["kind"] == "APIResourceList"
    cms = [r for r in doc["resources"] if r["name"] == "configmaps"]
    assert len(cms) == 1
    assert cms[0]["kind"] == "ConfigMap"
    assert "watch" in cms[0]["verbs"]


@pytest.mark.parametrize("name", ["configmaps", "configmap", "ConfigMap", "cm", "CM", "ConfigMaps"])
def test_kind_resolution(client: ferry.Client, name: str) -> None:
    kind = client.resolve_kind(name)
    assert (kind.name, kind.kind, kind.api_version, kind.namespaced) == ("configmaps", "ConfigMap", "v1", True)


def test_unknown_kind_names_what_is_served(client: ferry.Client) -> None:
    with pytest.raises(ferry.NotFound) as e:
        client.get("pipelinez", "x")
    assert e.value.field == "kind"
    assert "pipelinez" in e.value.message and "ConfigMap" in e.value.message


# Create and get.

def test_create_returns_stored_object(client: ferry.Client, ns: str) -> None:
    created = client.create(cm("alpha", ns, {"a": "1"}, {"app": "x"}))
    meta = created["metadata"]
    assert (meta["name"], meta["namespace"], meta["labels"]) == ("alpha", ns, {"app": "x"})
    assert meta["uid"] and meta["creationTimestamp"]
    assert int(meta["resourceVersion"]) > 0
    assert created["data"] == {"a": "1"}
    assert client.get("cm", "alpha", ns) == created


def test_create_namespace_argument_and_default(client: ferry.Client, ns: str) -> None:
    assert client.create(cm("beta"), namespace=ns)["metadata"]["namespace"] == ns
    name = ns  # unique, and a valid name
    try:
        assert client.create(cm(name))["metadata"]["namespace"] == "default"
        assert client.get("configmaps", name)["metadata"]["namespace"] == "default"
    finally:
        client.delete("configmaps", name)


def test_create_existing_raises_already_exists(client: ferry.Client, ns: str) -> None:
    client.create(cm("dup", ns))
    with pytest.raises(ferry.AlreadyExists) as e:
        client.create(cm("dup", ns))
    assert (e.value.code, e.value.status) == ("AlreadyExists", 409)
    assert "dup" in e.value.message


@pytest.mark.parametrize("obj, field", [
    (cm("Bad_Name"), "metadata.name"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": 1}}, "data.k"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "bogus": {}}, "bogus"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "colour": "red"}}, "metadata.colour"),
])
def test_invalid_objects_name_the_field(client: ferry.Client, ns: str, obj: Dict[str, Any], field: str) -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        client.create(obj, namespace=ns)
    assert (e.value.code, e.value.status, e.value.field) == ("InvalidArgument", 400, field)
    assert e.value.message


def test_create_needs_a_mapping_with_a_kind(client: ferry.Client) -> None:
    with pytest.raises(ferry.InvalidArgument):
        client.create(["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(ferry.InvalidArgument) as e:
        client.create({"apiVersion": "v1", "metadata": {"name": "x"}})
    assert e.value.field == "kind"


def test_get_missing_raises_not_found(client: ferry.Client, ns: str) -> None:
    with pytest.raises(ferry.NotFound) as e:
        client.get("configmaps", "nope", ns)
    assert (e.value.code, e.value.status) == ("NotFound", 404)
    assert "nope" in e.value.message


@pytest.mark.parametrize("name", ["../../../etc/passwd", "a/b", "x?watch=true", "%2e%2e"])
def test_hostile_names_stay_in_their_segment(client: ferry.Client, ns: str, name: str) -> None:
    with pytest.raises((ferry.InvalidArgument, ferry.NotFound)):
        client.get("configmaps", name, ns)


# List and paging.

def test_list_returns_every_page(client: ferry.Client, ns: str) -> None:
    for i in range(7):
        client.create(cm(f"item-{i}", ns))
    items = client.list("configmaps", ns, limit=3)
    assert names(items) == [f"item-{i}" for i in range(7)]
    assert int(items.resource_version) >= max(int(i["metadata"]["resourceVersion"]) for i in items)

    pages = list(client.list_pages("configmaps", ns, limit=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert all(p.continue_token for p in pages[:-1]) and pages[-1].continue_token is None
    assert names([i for p in pages for i in p]) == names(items)


def test_list_empty_namespace(client: ferry.Client, ns: str) -> None:
    items = client.list("configmaps", ns)
    assert items == [] and items.resource_version


def test_list_label_selector_and_all_namespaces(client: ferry.Client, ns: str) -> None:
    other = ns + "-b"
    client.create(cm("one", ns, labels={"team": ns, "tier": "web"}))
    client.create(cm("two", ns, labels={"team": ns, "tier": "db"}))
    client.create(cm("three", other, labels={"team": ns, "tier": "web"}))
    assert names(client.list("cm", ns, label_selector="tier=web")) == ["one"]
    assert names(client.list("cm", ns, label_selector="tier!=web")) == ["two"]
    everywhere = client.list("cm", None, label_selector=f"team={ns}", limit=1)
    assert sorted((i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere) == [
        (ns, "one"), (ns, "two"), (other, "three")]
    assert names(client.list("cm", None, label_selector=f"team={ns},tier in (db)")) == ["two"]


@pytest.mark.parametrize("kw", [{"limit": 0}, {"limit": 1001}, {"label_selector": "a in (b"}])
def test_bad_list_arguments(client: ferry.Client, ns: str, kw: Dict[str, Any]) -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        client.list("configmaps", ns, **kw)
    assert e.value.status == 400


# Replace, patch, delete.

def test_replace_updates_and_checks_resource_version(client: ferry.Client, ns: str) -> None:
    first = client.create(cm("rep", ns, {"v": "1"}))
    second = client.replace(dict(first, data={"v": "2"}))
    assert second["data"] == {"v": "2"}
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])

    with pytest.raises(ferry.Conflict) as e:
        client.replace(dict(first, data={"v": "stale"}))
    assert (e.value.code, e.value.status) == ("Conflict", 409)
    assert client.get("cm", "rep", ns)["data"] == {"v": "2"}

    unconditional = cm("rep", ns, {"v": "3"})
    assert client.replace(unconditional)["data"] == {"v": "3"}


def test_replace_missing_raises_not_found(client: ferry.Client, ns: str) -> None:
    with pytest.raises(ferry.NotFound):
        client.replace(cm("ghost", ns))


def test_patch_merges(client: ferry.Client, ns: str) -> None:
    client.create(cm("pat", ns, {"keep": "1", "drop": "2"}, {"a": "b"}))
    patched = client.patch("configmap", "pat", {"data": {"drop": None, "new": "3"},
                                                "metadata": {"labels": {"c": "d"}}}, ns)
    assert patched["data"] == {"keep": "1", "new": "3"}
    assert patched["metadata"]["labels"] == {"a": "b", "c": "d"}


def test_patch_errors(client: ferry.Client, ns: str) -> None:
    client.create(cm("pat2", ns))
    with pytest.raises(ferry.InvalidArgument) as e:
        client.patch("cm", "pat2", {"metadata": {"name": "renamed"}}, ns)
    assert e.value.status == 400 and e.value.field == "metadata.name"
    with pytest.raises(ferry.InvalidArgument) as e:
        client.patch("cm", "pat2", {"data": {"k": 5}}, ns)
    assert e.value.field == "data.k"
    with pytest.raises(ferry.NotFound):
        client.patch("cm", "absent", {"data": {}}, ns)
    with pytest.raises(ferry.InvalidArgument):
        client.patch("cm", "pat2", ["not a mapping"], ns)  # type: ignore[arg-type]


def test_delete(client: ferry.Client, ns: str) -> None:
    created = client.create(cm("del", ns))
    with pytest.raises(ferry.Conflict):
        client.delete("cm", "del", ns, resource_version=str(int(created["metadata"]["resourceVersion"]) + 1000))
    deleted = client.delete("cm", "del", ns, resource_version=created["metadata"]["resourceVersion"])
    assert deleted["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(ferry.NotFound):
        client.get("cm", "del", ns)
    with pytest.raises(ferry.NotFound):
        client.delete("cm", "del", ns)


# Apply.

def test_apply_dict_creates_then_replaces(client: ferry.Client, ns: str) -> None:
    first = client.apply(cm("app", ns, {"v": "1"}))
    second = client.apply(cm("app", ns, {"v": "2"}))
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["data"] == {"v": "2"}
    assert client.get("cm", "app", ns)["data"] == {"v": "2"}


def test_apply_unchanged_writes_nothing(client: ferry.Client, ns: str) -> None:
    first = client.apply(cm("same", ns, {"v": "1"}, {"app": "x"}))
    again = client.apply(cm("same", ns, {"v": "1"}, {"app": "x"}))
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    relabelled = client.apply(cm("same", ns, {"v": "1"}))
    assert not relabelled["metadata"].get("labels")
    assert int(relabelled["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


def test_apply_overrides_a_stale_resource_version(client: ferry.Client, ns: str) -> None:
    first = client.apply(cm("stale", ns, {"v": "1"}))
    client.patch("cm", "stale", {"data": {"v": "2"}}, ns)
    applied = client.apply(dict(first, data={"v": "3"}))
    assert applied["data"] == {"v": "3"} and applied["metadata"]["uid"] == first["metadata"]["uid"]


MULTI_DOC = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: yaml-a
  namespace: {ns}
  creationTimestamp: 2024-05-01T10:00:00Z
data:
  when: 2024-05-01
---
# a comment-only document is skipped
---
{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "yaml-b", "namespace": "{ns}"}}}}
"""


def test_apply_yaml_text_and_files(client: ferry.Client, ns: str, tmp_path: Path) -> None:
    applied = client.apply(MULTI_DOC.format(ns=ns))
    assert [o["metadata"]["name"] for o in applied] == ["yaml-a", "yaml-b"]
    assert client.get("cm", "yaml-a", ns)["data"] == {"when": "2024-05-01"}

    path = tmp_path / "cms.yaml"
    path.write_text(MULTI_DOC.format(ns=ns).replace("2024-05-01\n", "2025-01-01\n"))
    for source in (path, str(path)):
        applied = client.apply(source)
        assert [o["metadata"]["name"] for o in applied] == ["yaml-a", "yaml-b"]
    assert client.get("cm", "yaml-a", ns)["data"] == {"when": "2025-01-01"}

    assert len(client.apply([cm("list-a", ns), cm("list-b", ns)])) == 2


@pytest.mark.parametrize("source, needle", [
    ("no-such-file.yaml", "neither an existing file"),
    ("kind: [unclosed", "not valid YAML"),
    ("- just\n- a list\n", "must be a mapping"),
    ("apiVersion: v1\nmetadata: {name: x}\n", "no kind"),
    ("apiVersion: v1\nkind: ConfigMap\n", "no metadata.name"),
    ("# nothing\n", "holds no resources"),
])
def test_apply_rejects_bad_sources(client: ferry.Client, source: str, needle: str) -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        client.apply(source)
    assert needle in e.value.message


def test_apply_stops_at_the_first_server_error(client: ferry.Client, ns: str) -> None:
    with pytest.raises(ferry.InvalidArgument) as e:
        client.apply([cm("good", ns), cm("Not_Valid", ns), cm("never", ns)])
    assert e.value.field == "metadata.name"
    assert names(client.list("cm", ns)) == ["good"]


# Watch.

def test_watch_replays_changes_after_a_resource_version(client: ferry.Client, ns: str) -> None:
    client.create(cm("before", ns))
    rv = client.list("cm", ns).resource_version
    client.create(cm("w", ns, {"n": "1"}))
    client.patch("cm", "w", {"data": {"n": "2"}}, ns)
    client.delete("cm", "w", ns)

    seen = []
    for event_type, obj in client.watch("configmaps", ns, resource_version=rv, timeout=30):
        seen.append((event_type, obj["metadata"]["name"], obj.get("data")))
        if len(seen) == 3:
            break
    assert seen == [("ADDED", "w", {"n": "1"}), ("MODIFIED", "w", {"n": "2"}), ("DELETED", "w", {"n": "2"})]


def test_watch_filters_by_label_and_spans_namespaces(client: ferry.Client, ns: str) -> None:
    rv = client.list("cm", ns).resource_version
    client.create(cm("skip", ns, labels={"pick": "no", "run": ns}))
    client.create(cm("take", ns + "-x", labels={"pick": "yes", "run": ns}))
    client.create(cm("sentinel", ns, labels={"pick": "yes", "run": ns}))
    events = []
    for event in client.watch("cm", None, resource_version=rv, label_selector=f"pick=yes,run={ns}", timeout=30):
        events.append(event)
        if event.object["metadata"]["name"] == "sentinel":
            break
    assert [(e.type, e.object["metadata"]["namespace"], e.object["metadata"]["name"]) for e in events] == [
        ("ADDED", ns + "-x", "take"), ("ADDED", ns, "sentinel")]


def test_watch_timeout_ends_a_quiet_stream(client: ferry.Client, ns: str) -> None:
    assert list(client.watch("cm", ns, timeout=0.5)) == []


def test_watch_bad_resource_version(client: ferry.Client, ns: str) -> None:
    with pytest.raises(ferry.InvalidArgument):
        next(client.watch("cm", ns, resource_version="not-a-number", timeout=10))


def test_list_then_watch_on_an_empty_store_misses_nothing(ferry_server: Any) -> None:
    """The list's resourceVersion is "0" here; watching from it must still replay what came after."""
    with ferry.Client(ferry_server.url) as fresh:
        rv = fresh.list("cm", None).resource_version
        fresh.create(cm("first"))
        event = next(fresh.watch("cm", None, resource_version=rv, timeout=10), None)
        assert event is not None, f"a watch from resourceVersion {rv} did not replay the create after it"
        assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "first")
