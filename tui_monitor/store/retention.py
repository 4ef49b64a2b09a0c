"""Retention: drop history older than its configured window, a small batch at a time.

Runs on the writer's connection (autocommit, so transactions are ours). Each batch is one
short BEGIN IMMEDIATE ... COMMIT, so the recorder's writes get in between and no reader sees
a half-pruned tick. `prune_steps` yields after every commit, for a caller that wants to hand
the connection back to the writer between batches; `prune` runs them all. Agents and their
runs are kept (a handful of rows each), and so is every unresolved error, however old.
A session (`sessions`) is kept while any of its usage is, and at least as long as usage is
(`hour_days` after its last line, even with no usage): a session is never lost while figures of
it are left; one whose oldest usage has been pruned sums what is left.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..config import RetentionSettings
from . import tasks
from .schema import immediate

_RAW_CHILDREN = ("host_samples", "gpu_samples", "agent_samples", "ingest_stats")
_OLD_TICKS = "SELECT id FROM ticks WHERE id BETWEEN ? AND ? AND ts < ?"
# Row-limited deletes through an index (DELETE ... LIMIT is not compiled into most SQLites).
_LIMITED = {
    "events": "DELETE FROM events WHERE id IN "
    "(SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?)",
    "errors": "DELETE FROM errors WHERE id IN "
    "(SELECT id FROM errors WHERE resolved != 0 AND ts < ? ORDER BY ts LIMIT ?)",
    "usage": "DELETE FROM usage WHERE id IN "
    "(SELECT id FROM usage WHERE ts < ? ORDER BY ts LIMIT ?)",
    # sessions whose last line is past the usage cutoff and none of whose usage is left
    "sessions": "DELETE FROM sessions WHERE (family, session_id) IN "
    "(SELECT family, session_id FROM sessions s WHERE last_ts < ? AND NOT EXISTS "
    "(SELECT 1 FROM usage u WHERE u.session = s.session_id AND u.agent = s.agent) "
    "ORDER BY last_ts LIMIT ?)",
    # reported states no kept tick uses any more (the writer forgets its cache first)
    "reports": "DELETE FROM reports WHERE id IN "
    "(SELECT id FROM reports WHERE last_ts < ? ORDER BY last_ts LIMIT ?)",
    # process trees no kept tick uses any more (likewise)
    "procsets": "DELETE FROM procsets WHERE id IN "
    "(SELECT id FROM procsets WHERE last_ts < ? ORDER BY last_ts LIMIT ?)",
}
_ROLLUP_KEYS = {60: "minute_rollups", 3600: "hour_rollups"}


@dataclass(frozen=True, slots=True)
class PruneResult:
    """Rows removed, per table (rollups split by resolution)."""

    ticks: int = 0
    host_samples: int = 0
    gpu_samples: int = 0
    agent_samples: int = 0
    ingest_stats: int = 0
    minute_rollups: int = 0
    hour_rollups: int = 0
    events: int = 0
    errors: int = 0
    usage: int = 0
    sessions: int = 0
    reports: int = 0
    procsets: int = 0
    task_states: int = 0
    batches: int = field(default=0, compare=False)

    def counts(self) -> dict[str, int]:
        """Table -> rows removed, in a stable order (batches left out)."""
        return {k: v for k, v in _fields(self).items() if k != "batches"}

    @property
    def total(self) -> int:
        return sum(self.counts().values())


def _fields(result: PruneResult) -> dict[str, int]:
    return {name: getattr(result, name) for name in PruneResult.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Everything strictly older than these goes: ticks/events/usage in ms, rollups in buckets."""

    raw_ms: int
    minute_bucket: int
    hour_bucket: int
    events_ms: int
    usage_ms: int

    @classmethod
    def of(cls, now: float, retention: RetentionSettings) -> Cutoffs:
        hour_s = now - retention.hour_days * 86400
        return cls(
            raw_ms=int((now - retention.raw_hours * 3600) * 1000),
            minute_bucket=int(now - retention.minute_days * 86400) // 60,
            hour_bucket=int(hour_s) // 3600,
            events_ms=int((now - retention.events_days * 86400) * 1000),
            usage_ms=int(hour_s * 1000),
        )


def prune(
    conn: sqlite3.Connection,
    now: float,
    retention: RetentionSettings,
    batch_ticks: int = 600,
    batch_rows: int = 5000,
) -> PruneResult:
    """Apply retention as of `now` (epoch seconds); every batch commits on its own."""
    total = dict.fromkeys(_fields(PruneResult()), 0)
    for step in prune_steps(conn, now, retention, batch_ticks, batch_rows):
        for key, count in step.items():
            total[key] += count
        total["batches"] += 1
    return PruneResult(**total)


def prune_steps(
    conn: sqlite3.Connection,
    now: float,
    retention: RetentionSettings,
    batch_ticks: int = 600,
    batch_rows: int = 5000,
) -> Iterator[dict[str, int]]:
    """One committed batch per step: {table: rows removed}. Stop early at any step."""
    if batch_ticks < 1 or batch_rows < 1:
        raise ValueError("batch sizes must be at least 1")
    cut = Cutoffs.of(now, retention)
    yield from _ticks(conn, cut.raw_ms, batch_ticks)
    yield from _rollups(conn, 60, cut.minute_bucket, batch_rows)
    yield from _rollups(conn, 3600, cut.hour_bucket, batch_rows)
    for table, cutoff in (
        ("events", cut.events_ms),
        ("errors", cut.events_ms),
        ("usage", cut.usage_ms),
        ("sessions", cut.usage_ms),  # after usage: a session goes with its last usage
        ("reports", cut.raw_ms),
        ("procsets", cut.raw_ms),
    ):
        while True:
            with immediate(conn):
                n = conn.execute(_LIMITED[table], (cutoff, batch_rows)).rowcount
            yield {table: n}
            if n < batch_rows:
                break
    while True:  # task board states: kept while a board after the events cutoff needs them
        with immediate(conn):
            n = tasks.prune_batch(conn, cut.events_ms, batch_rows)
        yield {"task_states": n}
        if n < batch_rows:
            break


def _ticks(conn: sqlite3.Connection, cutoff_ms: int, batch: int) -> Iterator[dict[str, int]]:
    """Old ticks and their samples, in id ranges of `batch` ticks.

    Ids follow time except across wall-clock steps, so a range may hold ticks that stay; the
    walk jumps from one old tick to the next and ends at the newest old one.
    """
    last = conn.execute("SELECT max(id) FROM ticks WHERE ts < ?", (cutoff_ms,)).fetchone()[0]
    if last is None:
        return
    cursor = 0
    while True:
        row = conn.execute(_OLD_TICKS + " ORDER BY id LIMIT 1", (cursor, last, cutoff_ms))
        found = row.fetchone()
        if found is None:
            return
        lo = found[0]
        hi = min(lo + batch - 1, last)
        counts: dict[str, int] = {}
        with immediate(conn):
            for table in _RAW_CHILDREN:
                # the newest ingest counters stay: later ticks that changed nothing point at them
                keep = " AND tick < (SELECT max(tick) FROM ingest_stats)"
                counts[table] = conn.execute(
                    f"DELETE FROM {table} WHERE tick IN ({_OLD_TICKS})"
                    + (keep if table == "ingest_stats" else ""),
                    (lo, hi, cutoff_ms),
                ).rowcount
            counts["ticks"] = conn.execute(
                "DELETE FROM ticks WHERE id BETWEEN ? AND ? AND ts < ?", (lo, hi, cutoff_ms)
            ).rowcount
        yield counts
        cursor = hi + 1


def _rollups(
    conn: sqlite3.Connection, res: int, cutoff: int, batch: int
) -> Iterator[dict[str, int]]:
    """Buckets older than `cutoff`, series by series (a primary-key range each)."""
    key = _ROLLUP_KEYS[res]
    series = [sid for (sid,) in conn.execute("SELECT id FROM series ORDER BY id").fetchall()]
    i = 0
    while i < len(series):
        budget = batch
        with immediate(conn):
            while i < len(series) and budget > 0:
                n = _rollup_chunk(conn, series[i], res, cutoff, budget)
                budget -= n
                if budget > 0:  # fewer than asked for: this series is done
                    i += 1
        yield {key: batch - budget}


def _rollup_chunk(conn: sqlite3.Connection, sid: int, res: int, cutoff: int, limit: int) -> int:
    """Delete at most `limit` of one series' oldest buckets below `cutoff`."""
    bound = conn.execute(
        "SELECT bucket FROM rollups WHERE series = ? AND res = ? AND bucket < ? "
        "ORDER BY bucket LIMIT 1 OFFSET ?",
        (sid, res, cutoff, limit - 1),
    ).fetchone()
    top = cutoff if bound is None else bound[0] + 1
    return conn.execute(
        "DELETE FROM rollups WHERE series = ? AND res = ? AND bucket < ?", (sid, res, top)
    ).rowcount
