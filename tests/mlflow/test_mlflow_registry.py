"""The unmodified `mlflow` client's model registry calls against Ferry: registered models, versions,
tags, aliases, stages, search and download URIs.

Every expectation is MLflow's own behaviour: FERRY_MLFLOW_TESTS_TARGET=mlflow runs the same tests
against a real `mlflow server`.
"""
from __future__ import annotations

from typing import List

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mlflow_testing import client, tracking_server  # noqa: F401  (fixtures)


def source_run(client: MlflowClient, experiment: str) -> str:
    experiment_id = client.create_experiment(experiment)
    return client.create_run(experiment_id).info.run_id


def versions(client: MlflowClient, name: str, n: int, run_id: str) -> List[str]:
    return [client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id,
                                        description=f"v{i + 1}").version for i in range(n)]


def test_registered_model_lifecycle(client: MlflowClient) -> None:
    created = client.create_registered_model("reg-a", tags={"team": "x"}, description="first")
    assert created.name == "reg-a" and created.description == "first" and created.tags == {"team": "x"}
    assert created.creation_timestamp > 0 and created.last_updated_timestamp >= created.creation_timestamp
    with pytest.raises(MlflowException) as e:
        client.create_registered_model("reg-a")
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client.update_registered_model("reg-a", description="second")
    client.set_registered_model_tag("reg-a", "owner", "ana")
    client.delete_registered_model_tag("reg-a", "team")
    got = client.get_registered_model("reg-a")
    assert got.description == "second" and got.tags == {"owner": "ana"}

    run_id = source_run(client, "reg-lifecycle")
    assert versions(client, "reg-a", 2, run_id) == ["1", "2"]
    client.rename_registered_model("reg-a", "reg-b")
    assert client.get_registered_model("reg-b").description == "second"
    with pytest.raises(MlflowException) as e:
        client.get_registered_model("reg-a")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    moved = client.get_model_version("reg-b", "2")
    assert moved.name == "reg-b" and moved.description == "v2" and moved.run_id == run_id

    client.delete_registered_model("reg-b")
    with pytest.raises(MlflowException) as e:
        client.get_registered_model("reg-b")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.get_model_version("reg-b", "1")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_model_versions_tags_and_deletion(client: MlflowClient) -> None:
    client.create_registered_model("reg-versions")
    run_id = source_run(client, "reg-versions")
    assert versions(client, "reg-versions", 3, run_id) == ["1", "2", "3"]
    v = client.get_model_version("reg-versions", "2")
    assert v.source == f"runs:/{run_id}/model" and v.status == "READY" and v.current_stage == "None"

    client.update_model_version("reg-versions", "2", description="better")
    client.set_model_version_tag("reg-versions", "2", "validated", "yes")
    client.set_model_version_tag("reg-versions", "2", "tmp", "1")
    client.delete_model_version_tag("reg-versions", "2", "tmp")
    v = client.get_model_version("reg-versions", "2")
    assert v.description == "better" and v.tags == {"validated": "yes"}

    client.delete_model_version("reg-versions", "3")
    with pytest.raises(MlflowException) as e:
        client.get_model_version("reg-versions", "3")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    # Version numbers are never reused.
    assert versions(client, "reg-versions", 1, run_id) == ["4"]
    listed = client.search_model_versions("name = 'reg-versions'", order_by=["version_number ASC"])
    assert [m.version for m in listed] == ["1", "2", "4"]
    assert client.get_model_version_download_uri("reg-versions", "1") == f"runs:/{run_id}/model"


def test_aliases(client: MlflowClient) -> None:
    client.create_registered_model("reg-alias")
    run_id = source_run(client, "reg-alias")
    versions(client, "reg-alias", 2, run_id)
    client.set_registered_model_alias("reg-alias", "champion", "1")
    client.set_registered_model_alias("reg-alias", "challenger", "2")
    assert client.get_model_version_by_alias("reg-alias", "champion").version == "1"
    assert client.get_registered_model("reg-alias").aliases == {"champion": "1", "challenger": "2"}
    assert client.get_model_version("reg-alias", "2").aliases == ["challenger"]

    client.set_registered_model_alias("reg-alias", "champion", "2")  # moving an alias
    assert client.get_model_version_by_alias("reg-alias", "champion").version == "2"
    assert sorted(client.get_model_version("reg-alias", "2").aliases) == ["challenger", "champion"]
    assert client.get_model_version("reg-alias", "1").aliases == []

    client.delete_registered_model_alias("reg-alias", "challenger")
    assert client.get_registered_model("reg-alias").aliases == {"champion": "2"}
    with pytest.raises(MlflowException) as e:
        client.get_model_version_by_alias("reg-alias", "challenger")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    for bad in ("latest", "v7", "has space"):
        with pytest.raises(MlflowException) as e:
            client.set_registered_model_alias("reg-alias", bad, "1")
        assert e.value.error_code == "INVALID_PARAMETER_VALUE", bad

    # Deleting the version an alias points at removes the alias.
    client.delete_model_version("reg-alias", "2")
    assert client.get_registered_model("reg-alias").aliases == {}


def test_stages_and_latest_versions(client: MlflowClient) -> None:
    client.create_registered_model("reg-stages")
    run_id = source_run(client, "reg-stages")
    versions(client, "reg-stages", 3, run_id)
    latest = client.get_latest_versions("reg-stages")
    assert [(v.version, v.current_stage) for v in latest] == [("3", "None")]

    client.transition_model_version_stage("reg-stages", "1", "Staging")
    client.transition_model_version_stage("reg-stages", "2", "production")  # case-insensitive
    assert client.get_model_version("reg-stages", "2").current_stage == "Production"
    by_stage = {v.current_stage: v.version for v in client.get_latest_versions("reg-stages")}
    assert by_stage == {"Staging": "1", "Production": "2", "None": "3"}
    assert [v.version for v in client.get_latest_versions("reg-stages", stages=["Production"])] == ["2"]

    client.transition_model_version_stage("reg-stages", "3", "Production", archive_existing_versions=True)
    assert client.get_model_version("reg-stages", "2").current_stage == "Archived"
    assert client.get_model_version("reg-stages", "1").current_stage == "Staging"
    assert [v.version for v in client.get_latest_versions("reg-stages", stages=["Production"])] == ["3"]
    with pytest.raises(MlflowException) as e:
        client.transition_model_version_stage("reg-stages", "1", "Limbo")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_search_registered_models_and_versions(client: MlflowClient) -> None:
    names = [f"reg-search-{c}" for c in "edcba"]
    run_id = source_run(client, "reg-search")
    for i, name in enumerate(names):
        client.create_registered_model(name, tags={"rank": str(i)})
        versions(client, name, i % 3 + 1, run_id)

    found = client.search_registered_models("name LIKE 'reg-search-%'", order_by=["name ASC"])
    assert [m.name for m in found] == sorted(names)
    first = client.search_registered_models("name LIKE 'reg-search-%'", max_results=2, order_by=["name DESC"])
    assert [m.name for m in first] == ["reg-search-e", "reg-search-d"] and first.token
    second = client.search_registered_models("name LIKE 'reg-search-%'", max_results=2, order_by=["name DESC"],
                                             page_token=first.token)
    assert [m.name for m in second] == ["reg-search-c", "reg-search-b"]
    assert [m.name for m in client.search_registered_models("tags.rank = '4'")] == ["reg-search-a"]
    assert [m.name for m in client.search_registered_models("name ILIKE 'REG-SEARCH-C'")] == ["reg-search-c"]

    all_versions = client.search_model_versions("name LIKE 'reg-search-%'", max_results=100)
    assert sorted((v.name, v.version) for v in all_versions) == sorted(
        (name, str(v)) for i, name in enumerate(names) for v in range(1, i % 3 + 2))
    of_run = client.search_model_versions(f"run_id = '{run_id}' and name = 'reg-search-c'")
    assert sorted(v.version for v in of_run) == ["1", "2", "3"]
    with pytest.raises(MlflowException) as e:
        client.search_registered_models("name = ")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
