"""Retention removes exactly what is out of range, in small batches, and nothing else."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tui_monitor.config import RetentionSettings
from tui_monitor.models import (
    AgentEvent,
    AgentSample,
    GpuSample,
    GpuStatus,
    HostSample,
    IngestStats,
    Snapshot,
)
from tui_monitor.store.queries import History
from tui_monitor.store.retention import PruneResult, prune, prune_steps
from tui_monitor.store.writer import Writer

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW_MS = 1_708_640_030_500  # not on a minute or hour boundary
NOW = NOW_MS / 1000
DAY_MS = 86_400_000
RETENTION = RetentionSettings(raw_hours=1, minute_days=2, hour_days=10, events_days=3)
RAW_CUT = NOW_MS - 3_600_000
EVENTS_CUT = NOW_MS - 3 * DAY_MS
USAGE_CUT = NOW_MS - 10 * DAY_MS
MINUTE_CUT = (NOW_MS - 2 * DAY_MS) // 60_000  # buckets below this end before the cutoff
HOUR_CUT = (NOW_MS - 10 * DAY_MS) // 3_600_000

# Tick times in write order: the first tick came from a clock that ran ahead, so an old id
# holds a recent time and must survive while younger ids around it go.
TICK_MS = [
    NOW_MS - 5_000,
    RAW_CUT - 7_200_000,
    RAW_CUT - 60_000,
    RAW_CUT - 1,
    RAW_CUT,
    RAW_CUT + 1,
    RAW_CUT - 2,  # the clock stepped back
    NOW_MS - 1_000,
]
EVENT_MS = [EVENTS_CUT - DAY_MS, EVENTS_CUT - 1, EVENTS_CUT, EVENTS_CUT + 1, NOW_MS]
USAGE_MS = [USAGE_CUT - 1, USAGE_CUT, NOW_MS - 1]
# sessions (id, agent, last_ts ms) and their usage (session id, agent, ts ms)
SESSIONS = [
    ("s-old", "codex:s-old", USAGE_CUT - DAY_MS),  # old, its usage old too: goes
    ("s-none", "codex:s-none", USAGE_CUT - 1),  # old, no usage at all: goes
    ("s-edge", "codex:s-edge", USAGE_CUT),  # not older than the cutoff: stays
    ("s-late", "codex:s-late", USAGE_CUT - 5 * DAY_MS),  # old line, usage kept: stays
    ("s-other", "codex:s-other", USAGE_CUT - 2),  # its id in usage, under another agent: goes
    ("s-new", "codex:s-new", NOW_MS),
]
SESSION_USAGE = [
    ("s-old", "codex:s-old", USAGE_CUT - DAY_MS),
    ("s-late", "codex:s-late", USAGE_CUT - 5 * DAY_MS),
    ("s-late", "codex:s-late", USAGE_CUT + 5),
    ("s-other", "claude:s-other", NOW_MS),
    ("s-new", "codex:s-new", NOW_MS),
]
# (ts ms, resolved)
ERRORS = [
    (EVENTS_CUT - 1, 1),
    (EVENTS_CUT - 1, 0),  # unresolved errors are never pruned
    (EVENTS_CUT - 50 * DAY_MS, 0),
    (EVENTS_CUT, 1),
    (NOW_MS, 1),
]


def when(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def snapshot(seq: int, ms: int, events: tuple[AgentEvent, ...] = ()) -> Snapshot:
    host = HostSample(
        hostname="box", boot_time=1.6e9, cpu_count=2, cpu_utilization=float(seq),
        cpu_per_core=None, load_1=1.0, load_5=None, load_15=None, ram_used=seq, ram_total=2,
        ram_available=1, swap_used=0, swap_total=0, disk_read_bps=None, disk_write_bps=None,
        net_rx_bps=None, net_tx_bps=None,
    )  # fmt: skip
    agents = tuple(
        AgentSample(
            name=n,
            kind="custom",
            source="config",
            status="running",
            pid=10 + i,
            create_time=1.0,
            procs=1,
            cpu_utilization=2.5,
            ram_used=seq,
            reported=f"step {seq}" if n == "a" else None,  # a new reported state each tick
            pids=(10 + i, 100 + seq) if n == "a" else (10 + i,),  # and a new process tree
        )
        for i, n in enumerate(("a", "b"))
    )
    gpus = tuple(GpuSample(index=i, gpu_utilization=float(seq)) for i in range(2))
    return Snapshot(
        seq=seq, ts=when(ms), interval=1.0, lag=0.0, duration=0.0, host=host,
        gpu=GpuStatus(available=True, gpus=gpus), agents=agents, events=events,
    )  # fmt: skip


def populate(path: Path) -> Writer:
    store = Writer(path)
    evs = tuple(AgentEvent(ts=when(ms), agent="a", kind="note", message=str(ms)) for ms in EVENT_MS)
    snaps = [snapshot(i + 1, ms) for i, ms in enumerate(TICK_MS)]
    snaps[-1] = snapshot(len(snaps), TICK_MS[-1], evs)
    store.write_batch(snaps[:3])
    store.write_batch(snaps[3:])
    conn = store.conn
    conn.executemany(
        "INSERT INTO usage (ts, agent, model, input_tokens) VALUES (?, 'a', 'm', 1)",
        [(ms,) for ms in USAGE_MS],
    )
    # sessions (last line, agent): gone with all their usage, or kept by usage still there
    conn.executemany(
        "INSERT INTO sessions (family, session_id, agent, last_ts) VALUES ('codex', ?, ?, ?)",
        SESSIONS,
    )
    conn.executemany(
        "INSERT INTO usage (ts, agent, model, session) VALUES (?, ?, 'm', ?)",
        [(ms, agent, sid) for sid, agent, ms in SESSION_USAGE],
    )
    conn.executemany(
        "INSERT INTO errors (ts, agent, error_type, message, resolved) VALUES (?, 'a', 'E', '', ?)",
        ERRORS,
    )
    # rollup buckets on both sides of both cutoffs, for every series
    for res, cut in ((60, MINUTE_CUT), (3600, HOUR_CUT)):
        conn.execute(
            "INSERT INTO rollups SELECT s.id, ?, b.bucket, 1, 1.0, 1.0, 1.0 FROM series s, "
            "(SELECT ? - 1000 AS bucket UNION ALL SELECT ? - 1 UNION ALL SELECT ? "
            "UNION ALL SELECT ? + 1) b",
            (res, cut, cut, cut, cut),
        )
    return store


def rows(conn: sqlite3.Connection, sql: str) -> set[tuple[Any, ...]]:
    return set(conn.execute(sql).fetchall())


def state(conn: sqlite3.Connection) -> dict[str, set[tuple[Any, ...]]]:
    """Every row that retention may touch, by table, as comparable keys."""
    return {
        "ticks": rows(conn, "SELECT id, ts FROM ticks"),
        "host_samples": rows(conn, "SELECT tick FROM host_samples"),
        "gpu_samples": rows(conn, "SELECT tick, idx FROM gpu_samples"),
        "agent_samples": rows(conn, "SELECT tick, agent FROM agent_samples"),
        "ingest_stats": rows(conn, "SELECT tick FROM ingest_stats"),
        "minute_rollups": rows(conn, "SELECT series, bucket FROM rollups WHERE res = 60"),
        "hour_rollups": rows(conn, "SELECT series, bucket FROM rollups WHERE res = 3600"),
        "events": rows(conn, "SELECT id, ts FROM events"),
        "errors": rows(conn, "SELECT id, ts, resolved FROM errors"),
        "usage": rows(conn, "SELECT id, ts FROM usage"),
        "sessions": rows(conn, "SELECT session_id, agent, last_ts FROM sessions"),
        "reports": rows(conn, "SELECT id, last_ts FROM reports"),
        "procsets": rows(conn, "SELECT id, last_ts FROM procsets"),
        "task_states": rows(conn, "SELECT id, ts FROM task_states"),  # tests/unit/test_task_store
        "agents": rows(conn, "SELECT * FROM agents"),
        "agent_runs": rows(conn, "SELECT * FROM agent_runs"),
        "series": rows(conn, "SELECT * FROM series"),
    }


def kept(before: dict[str, set[tuple[Any, ...]]]) -> dict[str, set[tuple[Any, ...]]]:
    """What should survive, decided row by row from the cutoffs alone."""
    old_ticks = {i for i, ts in before["ticks"] if ts < RAW_CUT}
    return {
        "ticks": {r for r in before["ticks"] if r[0] not in old_ticks},
        **{
            t: {r for r in before[t] if r[0] not in old_ticks}
            for t in ("host_samples", "gpu_samples", "agent_samples", "ingest_stats")
        },
        "minute_rollups": {r for r in before["minute_rollups"] if r[1] >= MINUTE_CUT},
        "hour_rollups": {r for r in before["hour_rollups"] if r[1] >= HOUR_CUT},
        "events": {r for r in before["events"] if r[1] >= EVENTS_CUT},
        "errors": {r for r in before["errors"] if r[1] >= EVENTS_CUT or not r[2]},
        "usage": {r for r in before["usage"] if r[1] >= USAGE_CUT},
        "sessions": {
            r
            for r in before["sessions"]
            if r[2] >= USAGE_CUT or any(u[:2] == r[:2] and u[2] >= USAGE_CUT for u in SESSION_USAGE)
        },
        "reports": {r for r in before["reports"] if r[1] >= RAW_CUT},
        "procsets": {r for r in before["procsets"] if r[1] >= RAW_CUT},
        **{t: before[t] for t in ("agents", "agent_runs", "series", "task_states")},
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Writer]:
    s = populate(tmp_path / "h.db")
    yield s
    s.close()


def test_cutoffs_in_the_data_are_exact(store: Writer) -> None:
    ticks = sorted(store.conn.execute("SELECT id, ts FROM ticks").fetchall())
    assert [ts for _, ts in ticks] == TICK_MS
    assert sorted(ts for (ts,) in store.conn.execute("SELECT ts FROM events")) == EVENT_MS


def test_prune_removes_exactly_the_old_rows(store: Writer) -> None:
    before = state(store.conn)
    want = kept(before)
    result = prune(store.conn, NOW, RETENTION)
    after = state(store.conn)
    assert after == want
    removed = {t: len(before[t]) - len(want[t]) for t in result.counts()}
    assert result.counts() == removed
    assert removed == {
        "ticks": 4, "host_samples": 4, "gpu_samples": 8, "agent_samples": 8, "ingest_stats": 0,
        "minute_rollups": 2 * len(before["series"]), "hour_rollups": 2 * len(before["series"]),
        "events": 2, "errors": 1, "usage": 3, "sessions": 3, "reports": 4, "procsets": 1,
        "task_states": 0,
    }  # fmt: skip
    # trees are written a minute ahead of their ticks: a kept tick never loses its tree
    assert not store.conn.execute(
        "SELECT count(*) FROM agent_samples s LEFT JOIN procsets p ON p.id = s.procset "
        "WHERE s.procset IS NOT NULL AND p.id IS NULL"
    ).fetchone()[0]
    assert result.total == sum(removed.values())
    assert {ts for _, ts in after["ticks"]} == {
        NOW_MS - 5_000,
        RAW_CUT,
        RAW_CUT + 1,
        NOW_MS - 1_000,
    }
    assert not store.conn.in_transaction
    assert History(store.path).check(full=True) == ["ok"]


def test_prune_twice_is_a_no_op(store: Writer) -> None:
    prune(store.conn, NOW, RETENTION)
    between = state(store.conn)
    again = prune(store.conn, NOW, RETENTION)
    assert again == PruneResult() and again.total == 0
    assert state(store.conn) == between


def test_small_batches_give_the_same_result(store: Writer, tmp_path: Path) -> None:
    other = populate(tmp_path / "other.db")
    try:
        big = prune(store.conn, NOW, RETENTION)
        small = prune(other.conn, NOW, RETENTION, batch_ticks=1, batch_rows=1)
        assert small == big
        assert small.batches > big.batches
        assert state(other.conn) == state(store.conn)
    finally:
        other.close()


def test_writes_interleave_between_batches(store: Writer) -> None:
    """Every step commits before it yields: the writer can write in between."""
    before = state(store.conn)
    seq = 100
    for _ in prune_steps(store.conn, NOW, RETENTION, batch_ticks=2, batch_rows=3):
        assert not store.conn.in_transaction
        seq += 1
        store.write_batch([snapshot(seq, NOW_MS + seq)])
    after = state(store.conn)
    new_ticks = {r for r in after["ticks"] if r[1] > NOW_MS}
    assert len(new_ticks) == seq - 100
    assert after["ticks"] - new_ticks == kept(before)["ticks"]
    assert after["events"] == kept(before)["events"]


def test_nothing_old_nothing_removed(tmp_path: Path) -> None:
    store = Writer(tmp_path / "h.db")
    try:
        store.write_batch([snapshot(1, NOW_MS)])
        before = state(store.conn)
        assert prune(store.conn, NOW, RetentionSettings()).total == 0
        assert state(store.conn) == before
    finally:
        store.close()


def test_bad_batch_sizes(store: Writer) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        prune(store.conn, NOW, RETENTION, batch_ticks=0)


def test_the_newest_ingest_counters_outlive_their_tick(tmp_path: Path) -> None:
    """Counters are written only when they move; the last ones must survive retention so the
    ticks after them still show them."""
    store = Writer(tmp_path / "h.db")
    stats = [IngestStats(received=1), IngestStats(received=2), IngestStats(received=2)]
    times = [RAW_CUT - 2_000, RAW_CUT - 1_000, NOW_MS]
    store.write_batch(
        [snapshot(i + 1, ms).model_copy(update={"ingest": s}) for i, (ms, s) in enumerate(
            zip(times, stats, strict=True))]
    )  # fmt: skip
    assert store.conn.execute("SELECT count(*) FROM ingest_stats").fetchone()[0] == 2
    result = prune(store.conn, NOW, RETENTION)
    store.close()
    assert (result.ticks, result.ingest_stats) == (2, 1)
    latest = History(tmp_path / "h.db").latest()
    assert latest is not None and latest.ingest == IngestStats(received=2)
