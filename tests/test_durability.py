"""Crash safety of the embedded (SQLite) store: kill -9 in the middle of write bursts.

"Writes that matter are durable before they are acknowledged" (DESIGN.md §5):
every write the server answered must survive a kill -9, nothing may be stored
half-written, and revisions must keep increasing across the restart (watches
resume from them). The data-dir lock is an flock, so the kernel releases it
when the process dies and the restart must not be blocked.
"""
from __future__ import annotations

from bursts import CreateBurst, UpdateBurst, check_creates_survived, check_updates_survived, create_after_restart

THREADS = 4
ACKS_BEFORE_KILL = 300


def test_kill9_during_create_burst(server_factory, tmp_path):
    data_dir = tmp_path / "data"
    srv = server_factory(data_dir)
    burst = CreateBurst(srv.url, "default", THREADS).start()
    burst.wait_for_acks(ACKS_BEFORE_KILL)
    srv.kill9()
    burst.join()
    assert not burst.errors, burst.errors[:5]

    again = server_factory(data_dir)
    top = check_creates_survived(again.url, burst)
    assert top is not None and top >= max(rv for _, rv in burst.acked.values())
    assert create_after_restart(again.url, "default") > top


def test_kill9_during_update_burst(server_factory, tmp_path):
    data_dir = tmp_path / "data"
    srv = server_factory(data_dir)
    burst = UpdateBurst(srv.url, "default", THREADS).start()
    burst.wait_for_acks(ACKS_BEFORE_KILL)
    srv.kill9()
    burst.join()
    assert not burst.errors, burst.errors[:5]

    again = server_factory(data_dir)
    top = check_updates_survived(again.url, burst)
    assert create_after_restart(again.url, "default") > top


def test_repeated_crashes_lose_nothing(server_factory, tmp_path):
    data_dir = tmp_path / "data"
    bursts = []
    for round_no in range(3):
        srv = server_factory(data_dir)
        for earlier in bursts:
            check_creates_survived(srv.url, earlier)
        burst = CreateBurst(srv.url, f"round-{round_no}", THREADS, prefix=f"r{round_no}").start()
        burst.wait_for_acks(100)
        srv.kill9()
        burst.join()
        assert not burst.errors, burst.errors[:5]
        bursts.append(burst)
    final = server_factory(data_dir)
    for burst in bursts:
        check_creates_survived(final.url, burst)
