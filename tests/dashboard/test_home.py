"""The home page in a real browser: recent runs, queue usage, theme, deep links."""
# No `from __future__ import annotations`: kfp reads the component annotations as types.

from pathlib import Path

import kfp
from kfp import dsl

from conftest import run_e2e
from ferry_testing import FerryServer
from pipelines.pipelines_testing import wait_run


@dsl.container_component
def say(text: str):  # type: ignore[no-untyped-def]
    return dsl.ContainerSpec(image="alpine", command=["echo"], args=[text])


@dsl.pipeline(name="dashboard-home")
def home_pipeline(text: str = "hello"):  # type: ignore[no-untyped-def]
    first = say(text=text)
    say(text="after").after(first)


def test_home_page(dashboard_server: FerryServer, tmp_path: Path) -> None:
    client = kfp.Client(host=dashboard_server.url)
    run = client.create_run_from_pipeline_func(home_pipeline, arguments={"text": "from the home test"},
                                               run_name="home-seed-run")
    assert wait_run(client, run.run_id).state == "SUCCEEDED"
    run_e2e("home.test.mjs", dashboard_server, SEED_RUN_ID=run.run_id, SEED_RUN_NAME="home-seed-run")
