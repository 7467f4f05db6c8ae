"""Concurrent write bursts for crash tests: record exactly what the server acknowledged.

A burst runs a few threads that write as fast as the server answers. Each
acknowledged write (201/200 with the object) is recorded; everything sent is
recorded too, so that after a kill -9 and a restart a test can check that every
acknowledged write survived and that nothing stored is partial or invented.
Threads stop on their own once the server stops answering, and every loop is
bounded.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Set, Tuple

import requests

MAX_WRITES_PER_THREAD = 20000


def payload_for(name: str) -> Dict[str, str]:
    """The data a burst writes for `name`: long enough that a torn write would show."""
    return {"owner": name, "blob": (name + ":") * 40}


def configmap(name: str, data: Dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


@dataclass
class Burst:
    """Threads writing to one server; `acked` grows as the server acknowledges."""

    url: str
    namespace: str
    threads: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    acked_count: int = 0
    errors: List[str] = field(default_factory=list)
    _progress: threading.Condition = field(init=False)
    _workers: List[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._progress = threading.Condition(self.lock)

    @property
    def collection(self) -> str:
        return f"{self.url}/api/v1/namespaces/{self.namespace}/configmaps"

    def _run(self, work: Callable[[int, requests.Session], None]) -> None:
        self._workers = [threading.Thread(target=self._guard, args=(work, t), daemon=True)
                         for t in range(self.threads)]
        for w in self._workers:
            w.start()

    def _guard(self, work: Callable[[int, requests.Session], None], t: int) -> None:
        with requests.Session() as session:
            try:
                work(t, session)
            except requests.RequestException:
                pass  # The server is gone: that is how a burst ends.
            finally:
                with self._progress:
                    self._progress.notify_all()

    def _ack(self) -> None:
        with self._progress:
            self.acked_count += 1
            self._progress.notify_all()

    def _error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)

    def wait_for_acks(self, n: int, timeout: float = 120) -> None:
        """Blocks until `n` writes were acknowledged; fails if the writers died first or time runs out."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self.acked_count < n:
                alive = any(w.is_alive() for w in self._workers)
                left = deadline - time.monotonic()
                if not alive or left <= 0 or self.errors:
                    raise AssertionError(f"burst reached {self.acked_count} of {n} acknowledged writes "
                                         f"(writers alive: {alive}); errors: {self.errors[:5]}")
                self._progress.wait(timeout=min(left, 1.0))

    def join(self, timeout: float = 60) -> None:
        """Stops the writers and waits for them (they end by themselves once the server is gone)."""
        self.stop.set()
        for w in self._workers:
            w.join(timeout=timeout)
            assert not w.is_alive(), "a burst writer did not stop"


@dataclass
class CreateBurst(Burst):
    """Creates ConfigMaps named `{prefix}-{thread}-{i}` with payload_for(name)."""

    prefix: str = "burst"
    sent: Set[str] = field(default_factory=set)
    acked: Dict[str, Tuple[str, int]] = field(default_factory=dict)  # name -> (uid, resourceVersion)

    def start(self) -> "CreateBurst":
        self._run(self._work)
        return self

    def _work(self, t: int, session: requests.Session) -> None:
        for i in range(MAX_WRITES_PER_THREAD):
            if self.stop.is_set():
                return
            name = f"{self.prefix}-{t}-{i}"
            data = payload_for(name)
            with self.lock:
                self.sent.add(name)
            r = session.post(self.collection, json=configmap(name, data), timeout=30)
            if r.status_code != 201:
                self._error(f"create {name}: {r.status_code} {r.text[:200]}")
                return
            obj = r.json()
            if obj["metadata"]["name"] != name or obj["data"] != data:
                self._error(f"create {name}: the server answered with another object: {r.text[:200]}")
                return
            with self.lock:
                self.acked[name] = (obj["metadata"]["uid"], int(obj["metadata"]["resourceVersion"]))
            self._ack()


@dataclass
class UpdateBurst(Burst):
    """Each thread owns one ConfigMap `{prefix}-{thread}` and replaces its data with n = 1, 2, 3, ..."""

    prefix: str = "upd"
    # name -> (last acknowledged n, its resourceVersion)
    acked: Dict[str, Tuple[int, int]] = field(default_factory=dict)

    def start(self) -> "UpdateBurst":
        for t in range(self.threads):
            name = f"{self.prefix}-{t}"
            r = requests.post(self.collection, json=configmap(name, {"n": "0"}), timeout=30)
            assert r.status_code == 201, r.text
            self.acked[name] = (0, int(r.json()["metadata"]["resourceVersion"]))
        self._run(self._work)
        return self

    def _work(self, t: int, session: requests.Session) -> None:
        name = f"{self.prefix}-{t}"
        for n in range(1, MAX_WRITES_PER_THREAD):
            if self.stop.is_set():
                return
            r = session.put(f"{self.collection}/{name}", json=configmap(name, {"n": str(n)}), timeout=30)
            if r.status_code != 200:
                self._error(f"replace {name} n={n}: {r.status_code} {r.text[:200]}")
                return
            obj = r.json()
            if obj["data"] != {"n": str(n)}:
                self._error(f"replace {name} n={n}: the server answered {r.text[:200]}")
                return
            with self.lock:
                self.acked[name] = (n, int(obj["metadata"]["resourceVersion"]))
            self._ack()


def check_creates_survived(url: str, burst: CreateBurst) -> Optional[int]:
    """Asserts every acknowledged create is stored unchanged and nothing stored is partial; returns the max revision."""
    r = requests.get(f"{url}/api/v1/namespaces/{burst.namespace}/configmaps", params={"limit": "1000"}, timeout=30)
    stored: Dict[str, dict] = {}
    while True:
        assert r.status_code == 200, r.text
        doc = r.json()
        for item in doc["items"]:
            stored[item["metadata"]["name"]] = item
        token = doc["metadata"].get("continue")
        if not token:
            break
        r = requests.get(f"{url}/api/v1/namespaces/{burst.namespace}/configmaps",
                         params={"limit": "1000", "continue": token}, timeout=30)

    missing = sorted(set(burst.acked) - set(stored))
    assert not missing, f"{len(missing)} acknowledged creates are gone after the crash, e.g. {missing[:5]}"
    for name, (uid, rv) in burst.acked.items():
        meta = stored[name]["metadata"]
        assert meta["uid"] == uid, f"{name}: uid {meta['uid']} after the crash, {uid} acknowledged"
        assert int(meta["resourceVersion"]) == rv, f"{name}: resourceVersion changed across the crash"
    invented = sorted(set(stored) - burst.sent)
    assert not invented, f"objects nobody created: {invented[:5]}"
    for name, item in stored.items():
        assert item["data"] == payload_for(name), f"{name} is stored partially: {str(item)[:300]}"
        for key in ("uid", "resourceVersion", "creationTimestamp"):
            assert item["metadata"].get(key), f"{name} is stored without metadata.{key}"
    return max((int(i["metadata"]["resourceVersion"]) for i in stored.values()), default=None)


def check_updates_survived(url: str, burst: UpdateBurst) -> int:
    """Asserts each object holds its last acknowledged update or the one in flight; returns the max revision."""
    top = 0
    for name, (n, rv) in burst.acked.items():
        r = requests.get(f"{url}/api/v1/namespaces/{burst.namespace}/configmaps/{name}", timeout=30)
        assert r.status_code == 200, f"{name}: {r.status_code} {r.text}"
        obj = r.json()
        stored_n = int(obj["data"]["n"])
        stored_rv = int(obj["metadata"]["resourceVersion"])
        assert stored_n in (n, n + 1), f"{name}: n={stored_n} stored, n={n} acknowledged last"
        assert stored_rv >= rv, f"{name}: resourceVersion {stored_rv} stored, {rv} acknowledged"
        top = max(top, stored_rv)
    return top


def create_after_restart(url: str, namespace: str) -> int:
    """Creates one more object; its resourceVersion must exceed every revision before the crash."""
    r = requests.post(f"{url}/api/v1/namespaces/{namespace}/configmaps",
                      json=configmap("after-restart", {"k": "v"}), timeout=30)
    assert r.status_code == 201, r.text
    return int(r.json()["metadata"]["resourceVersion"])
