"""Reading manifests for apply: YAML quirks that must not change what the server receives."""
from __future__ import annotations

from pathlib import Path

import pytest

import ferry
from ferry._manifests import load_manifests


def test_timestamps_and_dates_stay_strings() -> None:
    [doc] = load_manifests("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
                           "  creationTimestamp: 2024-05-01T10:00:00Z\ndata:\n  d: 2024-05-01\n")
    assert doc["metadata"]["creationTimestamp"] == "2024-05-01T10:00:00Z"
    assert doc["data"]["d"] == "2024-05-01"


def test_the_shared_safe_loader_is_untouched() -> None:
    import yaml
    assert yaml.safe_load("d: 2024-05-01")["d"].year == 2024


def test_dict_and_list_sources() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    assert load_manifests(obj) == [obj]
    assert load_manifests([obj, obj]) == [obj, obj]
    with pytest.raises(ferry.InvalidArgument) as e:
        load_manifests([obj, "text"])  # type: ignore[list-item]
    assert "item 1" in e.value.message


def test_unsupported_source_type() -> None:
    with pytest.raises(ferry.InvalidArgument):
        load_manifests(42)  # type: ignore[arg-type]


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ferry.InvalidArgument) as e:
        load_manifests(path)
    assert "cannot read manifest file" in e.value.message
