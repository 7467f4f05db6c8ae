"""`ferry server --db postgresql://...` against a real, throwaway PostgreSQL.

scripts/pg-tmp starts a private cluster for the session (DESIGN.md §10: no
mocks of systems we can run); each test gets a fresh database. If PostgreSQL
cannot be started the tests fail with the reason: they never skip.
"""
from __future__ import annotations

import queue
import shutil
import subprocess
import tempfile
import threading
import uuid
from typing import Iterator, Tuple
from urllib.parse import urlsplit, urlunsplit

import pytest

import ferry
from bursts import CreateBurst, UpdateBurst, check_creates_survived, check_updates_survived, create_after_restart
from ferry_testing import ROOT, FerryServer, ServerFactory

PG_TMP = ROOT / "scripts" / "pg-tmp"


def with_database(url: str, database: str, password: str = "") -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if password:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':')[0]}:{password}@{host}"
    return urlunsplit((parts.scheme, netloc, "/" + database, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The URL of a PostgreSQL cluster started for this test session."""
    if not PG_TMP.exists():
        pytest.fail(f"{PG_TMP} is missing: it starts the throwaway PostgreSQL these tests need")
    if shutil.which("psql") is None:
        pytest.fail("psql is not installed (scripts/setup installs the postgresql package)")
    # Not under pytest's 0700 temp root: the cluster runs as the postgres user,
    # who must reach its directory (pg-tmp hands DIR itself to that user).
    directory = tempfile.mkdtemp(prefix="ferry-pg-")
    started = subprocess.run([str(PG_TMP), "start", directory], capture_output=True, text=True, timeout=180)
    urls = [line.strip() for line in started.stdout.splitlines() if line.startswith("postgresql://")]
    if started.returncode != 0 or not urls:
        pytest.fail(f"PostgreSQL did not start: scripts/pg-tmp start exited {started.returncode}\n"
                    f"stdout: {started.stdout[-2000:]}\nstderr: {started.stderr[-2000:]}")
    try:
        yield urls[-1]
    finally:
        subprocess.run([str(PG_TMP), "stop", directory], capture_output=True, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def database(postgres: str) -> str:
    """A fresh, empty database's URL."""
    name = "ferry_" + uuid.uuid4().hex[:16]
    result = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", postgres, "-c",
                             f'CREATE DATABASE "{name}"'], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"cannot create database {name}: {result.stderr}")
    return with_database(postgres, name)


@pytest.fixture
def pg_server(server_factory: ServerFactory, database: str, tmp_path) -> Tuple[FerryServer, str]:
    """A server on a fresh database, and that database's URL (to restart another server on it)."""
    return server_factory(tmp_path / "data", "--db", database), database


def test_resources_on_postgres(pg_server):
    srv, _ = pg_server
    client = ferry.Client(srv.url)
    for i in range(5):
        client.create({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": f"cm-{i}", "labels": {"parity": "even" if i % 2 == 0 else "odd"}},
                       "data": {"i": str(i)}})
    assert [o["metadata"]["name"] for o in client.list("cm", limit=2)] == [f"cm-{i}" for i in range(5)]
    assert [len(p) for p in client.list_pages("cm", limit=2)] == [2, 2, 1]
    assert sorted(o["metadata"]["name"] for o in client.list("cm", label_selector="parity=odd")) == ["cm-1", "cm-3"]

    first = client.get("cm", "cm-0")
    second = client.replace(dict(first, data={"i": "zero"}))
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    with pytest.raises(ferry.Conflict):
        client.replace(dict(first, data={"i": "stale"}))
    assert client.patch("cm", "cm-0", {"data": {"extra": "1"}})["data"] == {"i": "zero", "extra": "1"}
    with pytest.raises(ferry.AlreadyExists):
        client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-1"}})
    assert client.delete("cm", "cm-4")["metadata"]["name"] == "cm-4"
    with pytest.raises(ferry.NotFound):
        client.get("cm", "cm-4")


def test_watch_on_postgres(pg_server):
    srv, _ = pg_server
    client = ferry.Client(srv.url)
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "before"}})
    rv = client.list("cm").resource_version
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}, "data": {"n": "1"}})
    client.patch("cm", "w", {"data": {"n": "2"}})
    client.delete("cm", "w")
    replayed = []
    for event in client.watch("cm", resource_version=rv, timeout=60):
        replayed.append((event.type, event.object["metadata"]["name"], event.object["data"]["n"]))
        if len(replayed) == 3:
            break
    assert replayed == [("ADDED", "w", "1"), ("MODIFIED", "w", "2"), ("DELETED", "w", "2")]

    # A watch without resourceVersion starts with the current objects; once
    # "before" has arrived the stream is live, and later changes must follow.
    events: "queue.Queue[ferry.WatchEvent]" = queue.Queue()

    def watch() -> None:
        with ferry.Client(srv.url) as watcher:
            for event in watcher.watch("cm", timeout=120):
                events.put(event)
                if event.object["metadata"]["name"] == "live-2":
                    return

    threading.Thread(target=watch, daemon=True).start()
    initial = events.get(timeout=60)
    assert (initial.type, initial.object["metadata"]["name"]) == ("ADDED", "before")
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "live-1"}})
    client.patch("cm", "live-1", {"data": {"k": "v"}})
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "live-2"}})
    live = [events.get(timeout=60) for _ in range(3)]
    assert [(e.type, e.object["metadata"]["name"]) for e in live] == [
        ("ADDED", "live-1"), ("MODIFIED", "live-1"), ("ADDED", "live-2")]


def test_kill9_during_create_burst_on_postgres(server_factory, pg_server, tmp_path):
    srv, db = pg_server
    burst = CreateBurst(srv.url, "default", 4).start()
    burst.wait_for_acks(300)
    srv.kill9()
    burst.join()
    assert not burst.errors, burst.errors[:5]
    again = server_factory(tmp_path / "data", "--db", db)
    top = check_creates_survived(again.url, burst)
    assert top is not None
    assert create_after_restart(again.url, "default") > top


def test_kill9_during_update_burst_on_postgres(server_factory, pg_server, tmp_path):
    srv, db = pg_server
    burst = UpdateBurst(srv.url, "default", 4).start()
    burst.wait_for_acks(300)
    srv.kill9()
    burst.join()
    assert not burst.errors, burst.errors[:5]
    again = server_factory(tmp_path / "data", "--db", db)
    top = check_updates_survived(again.url, burst)
    assert create_after_restart(again.url, "default") > top


def test_postgres_password_is_never_logged(server_factory, database, tmp_path):
    secret = "pg-Secret-" + uuid.uuid4().hex[:8]
    url = with_database(database, urlsplit(database).path.lstrip("/"), password=secret)
    srv = server_factory(tmp_path / "data", "--db", url, "--log-level", "trace", "--log-format", "json")
    client = ferry.Client(srv.url)
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    with pytest.raises(ferry.NotFound):
        client.get("cm", "absent")
    assert srv.stop() == 0
    assert secret not in srv.stderr_text() + "".join(srv.stdout_lines)
