"""A full disk (or any failing write) never loses what was queued, never leaves the writer
stuck, and is said: real SQLite answering SQLITE_FULL through `PRAGMA max_page_count`."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from factories import agent, event, snapshot

from tui_monitor.models import Snapshot
from tui_monitor.store import queue as queue_module
from tui_monitor.store.queue import WriteQueue
from tui_monitor.store.writer import Batch, Writer

FULL = 0x0D  # SQLITE_FULL


def fill_up(writer: Writer) -> None:
    """No page may be added from now on: every write that needs one fails as on a full disk."""
    with writer._mutex:
        pages = writer.conn.execute("PRAGMA page_count").fetchone()[0]
        writer.conn.execute(f"PRAGMA max_page_count = {pages}")


def free_space(writer: Writer) -> None:
    with writer._mutex:
        writer.conn.execute("PRAGMA max_page_count = 1073741823")


async def until(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.01)


def tick(seq: int, *names: str, events: int = 0) -> Snapshot:
    agents = [agent(n, pid=4000 + i) for i, n in enumerate(names)]
    # larger than a page: a tick with an event needs new pages, which a full disk cannot give
    evs = [event(names[0], "note", f"{seq}-{i} " + "x" * 5000, ts=seq) for i in range(events)]
    return snapshot(seq, agents, evs)


def stored(db: Path, sql: str) -> list[Any]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


class Running:
    def __init__(self, q: WriteQueue) -> None:
        self.q = q
        self.task = asyncio.create_task(q.run())

    async def stop(self) -> None:
        await self.q.close()
        await asyncio.wait_for(self.task, 10)


def make_queue(
    db: Path, **kw: Any
) -> tuple[Writer, WriteQueue, list[Batch], list[tuple[int, str]]]:
    writer = Writer(db)
    commits: list[Batch] = []
    lost: list[tuple[int, str]] = []
    q = WriteQueue(
        writer,
        flush_interval=0.05,
        on_commit=commits.append,
        on_lost=lambda seq, why: lost.append((seq, why)),
        **kw,
    )
    return writer, q, commits, lost


async def test_a_full_disk_holds_the_batch_and_new_agents_and_writes_all_when_space_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(queue_module, "RETRY_MAX", 0.1)
    db = tmp_path / "h.db"
    writer, q, commits, lost = make_queue(db)
    run = Running(q)
    await q.put(tick(1, "old"))
    await until(lambda: commits, what="the first commit")
    fill_up(writer)
    caplog.set_level(logging.WARNING, logger="tui_monitor.store.queue")
    # A new agent (a new row in `agents`, a new run, new series) while the disk is full.
    await q.put(tick(2, "old", "new-while-full", events=3))
    await until(lambda: q.failing is not None, what="the failure")
    assert q.failing == "disk full"
    assert q.problem is not None and q.problem.startswith("disk full: history held")
    for seq in range(3, 8):
        await q.put(tick(seq, "old", "new-while-full", "newer", events=2))
    await until(lambda: q.errors >= 3, what="a few retries")
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1, "logged once per episode"
    assert "database or disk is full" in failures[0].getMessage()
    free_space(writer)
    await until(lambda: q.failing is None and not q.pending and q.held == 0, what="recovery")
    await q.put(tick(8, "old", "new-while-full", "newer", "after", events=1))
    await run.stop()
    writer.close()
    assert not lost
    assert stored(db, "SELECT id FROM ticks ORDER BY id") == [(i,) for i in range(1, 9)]
    names = {r[0] for r in stored(db, "SELECT name FROM agents")}
    assert names == {"old", "new-while-full", "newer", "after"}
    per_tick = stored(db, "SELECT tick, count(*) FROM agent_samples GROUP BY tick ORDER BY tick")
    assert per_tick == [(1, 1), (2, 2), (3, 3), (4, 3), (5, 3), (6, 3), (7, 3), (8, 4)]
    assert stored(db, "SELECT count(*) FROM events")[0][0] == 3 + 5 * 2 + 1
    recovered = [r for r in caplog.records if "works again" in r.getMessage()]
    assert len(recovered) == 1


async def test_the_writer_is_not_stuck_when_sqlite_rolled_back_by_itself(tmp_path: Path) -> None:
    """On a really full disk SQLite ends the transaction itself: the writer's ROLLBACK used to
    fail ("no transaction is active"), hiding the reason and keeping ids of rows that were
    never committed, so every later batch failed with UNIQUE constraint errors."""
    db = tmp_path / "h.db"
    writer = Writer(db)
    writer.write_batch([tick(1, "a")])
    real = writer._write

    def full_disk(snapshots: Sequence[Snapshot]) -> Batch:
        real(snapshots)  # new agent and run ids taken inside the transaction
        writer.conn.execute("ROLLBACK")  # what SQLite does by itself on SQLITE_FULL
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorcode = FULL
        raise exc

    writer._write = full_disk  # type: ignore[method-assign]
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        writer.write_batch([tick(2, "a", "b")])
    writer._write = real  # type: ignore[method-assign]
    writer.write_batch([tick(3, "c"), tick(4, "a", "b", "c")])
    writer.close()
    assert stored(db, "SELECT name, id FROM agents ORDER BY id") == [("a", 1), ("c", 2), ("b", 3)]
    assert stored(db, "SELECT count(*) FROM agent_samples")[0][0] == 1 + 1 + 3


async def test_ticks_of_samples_are_thinned_while_writes_fail_and_records_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_module, "RETRY_MIN", 0.05)
    monkeypatch.setattr(queue_module, "RETRY_MAX", 0.05)
    db = tmp_path / "h.db"
    writer, q, commits, lost = make_queue(db, queue_size=5)
    fill_up(writer)
    run = Running(q)
    await q.put(tick(1, "a", events=1))
    await until(lambda: q.failing is not None, what="the failure")
    heartbeat_only = tick(2, "a").model_copy(update={"reported": 4})
    await q.put(heartbeat_only)
    await q.put(tick(3, "a", events=2))
    for seq in range(4, 30):  # far more than fit: put never blocks, the sampler never stops
        await asyncio.wait_for(q.put(tick(seq, "a")), 1.0)
    assert q.pending == 5 and q.thinned == 28 - 5
    free_space(writer)
    await run.stop()
    writer.close()
    assert not lost
    assert stored(db, "SELECT count(*) FROM events")[0][0] == 1 + 2
    assert sum(b.reported for b in commits) == 4  # heartbeats counted in a later tick
    assert stored(db, "SELECT count(*) FROM ticks")[0][0] == 1 + 5


async def test_reported_records_are_bounded_while_writes_fail(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    writer, q, _, _ = make_queue(db, max_records=10)
    fill_up(writer)
    run = Running(q)
    await q.put(tick(1, "a", events=6))
    assert q.has_room()
    await q.put(tick(2, "a", events=6))
    assert not q.has_room()  # the sampler leaves further reports in the hub
    free_space(writer)
    await until(q.has_room, what="room again")
    await run.stop()
    writer.close()


async def test_stopping_while_the_disk_is_full_gives_up_at_once_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "h.db"
    writer, q, _, lost = make_queue(db)
    fill_up(writer)
    run = Running(q)
    await q.put(tick(1, "a", events=1).model_copy(update={"reported": 2}))
    await until(lambda: q.failing is not None, what="the failure")
    await q.put(tick(2, "a").model_copy(update={"reported": 1}))
    started = time.monotonic()
    await run.stop()
    assert time.monotonic() - started < 2.0
    writer.close()
    assert lost and lost[-1][0] == 2 and "disk full" in lost[-1][1]
    assert q.lost == 2
    assert any("gave up" in r.getMessage() for r in caplog.records)


async def test_a_batch_that_can_never_be_written_is_given_up_not_retried_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_module, "RETRY_MIN", 0.01)
    db = tmp_path / "h.db"
    writer, q, commits, lost = make_queue(db)
    real = writer.write_batch
    calls = 0

    def broken(snapshots: Sequence[Snapshot]) -> Batch:
        nonlocal calls
        if snapshots[0].seq == 1:
            calls += 1
            raise sqlite3.IntegrityError("UNIQUE constraint failed: made up")
        return real(snapshots)

    writer.write_batch = broken  # type: ignore[method-assign]
    run = Running(q)
    await q.put(tick(1, "a"))
    await until(lambda: lost, what="the batch given up")
    await q.put(tick(2, "a"))
    await until(lambda: commits, what="the next batch")
    await run.stop()
    writer.close()
    assert calls == queue_module.TRIES
    assert lost[0][0] == 1 and "UNIQUE" in lost[0][1]
    assert q.failing is None
