"""The read side of the history: snapshots at a time, metric series, events, errors, info.

Every public method opens its own read-only connection, fetches everything with `fetchall`
and closes it before returning: an open read transaction pins the WAL, which then grows
without bound while the recorder keeps writing. All methods block; the UI calls them through
`asyncio.to_thread`. Long ranges read the rollups (one primary-key range per series) and
aggregate into the requested number of points inside SQLite, never in Python.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ..models import AgentEvent, Snapshot, TaskBoard, UsageRecord
from . import schema, tasks
from .rows import (
    _EVENTS,
    _TICK,
    _USAGE,
    UNRESOLVED,
    When,
    _event,
    _snapshot,
    _usage_record,
    from_ms,
    to_ms,
)
from .schema import LEVEL_CODES, RESOLUTIONS
from .sessions import SessionQueries
from .writer import AGENT_METRICS, GPU_METRICS, HOST_METRICS

Scope = Literal["host", "agent", "gpu"]
_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
Point = tuple[float, float, float, float]
"""(bucket start in epoch seconds, avg, min, max)."""


@dataclass(frozen=True, slots=True)
class Series:
    """One metric over a range: `resolution` is the source (0 = raw), `step` the point width."""

    resolution: int
    step: float
    points: list[Point]


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """An error an agent reported, still waiting for someone to resolve it."""

    id: int
    ts: datetime
    agent: str
    error_type: str
    message: str
    stack: str | None


@dataclass(frozen=True, slots=True)
class ModelUsageRow:
    """Usage of one model by one agent over a period."""

    model: str
    records: int
    tokens: tuple[int, int, int, int]
    """input, output, cache read, cache write."""
    cost: float
    """Sum of the costs stored with the records (the agent's, or priced when recorded)."""
    unpriced: int
    """Records stored without a cost (no price then): `cost` leaves them out."""


@dataclass(frozen=True, slots=True)
class DbInfo:
    """What `tui-monitor db info` shows."""

    path: Path
    size: int
    wal_size: int
    schema_version: int
    rows: dict[str, int]
    first_tick: datetime | None
    last_tick: datetime | None


# scope -> the join bringing one entity's raw rows in as `x`; scope -> metric -> expression
_RAW_JOIN = {
    "host": "JOIN host_samples x ON x.tick = t.id",
    "agent": "JOIN agent_samples x ON x.tick = t.id AND x.agent = ?",
    "gpu": "JOIN gpu_samples x ON x.tick = t.id AND x.idx = ?",
}
_METRICS: dict[str, dict[str, str]] = {
    "host": {m: f"x.{m}" for m in HOST_METRICS},
    # the writer folds procs only while a process runs; raw reads agree with it
    "agent": {m: f"x.{m}" for m in AGENT_METRICS}
    | {"procs": "CASE WHEN x.run IS NOT NULL THEN x.procs END"},
    "gpu": {m: f"x.{m}" for m in GPU_METRICS},
}
_SCALE = {("agent", "cpu"): 10.0}
"""Stored value / scale = the value shown (agent CPU is kept in tenths of a percent)."""


class History(SessionQueries):
    """Blocking read-only queries on one history file; safe to share between threads (the
    sessions' queries are in store/sessions.py)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = schema.connect_ro(self.path)
        try:
            yield conn
        finally:
            conn.close()

    def _load(self, where: str, params: tuple[object, ...] = ()) -> Snapshot | None:
        with self._conn() as conn:
            row = conn.execute(f"{_TICK} {where}", params).fetchone()
            return None if row is None else _snapshot(conn, row)

    def latest(self) -> Snapshot | None:
        """The tick written last, or None for an empty history."""
        return self._load("ORDER BY id DESC LIMIT 1")

    def at(self, ts: When) -> Snapshot | None:
        """The dashboard as it was at `ts`: the last tick at or before it."""
        return self._load("WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT 1", (to_ms(ts),))

    def tick(self, tick_id: int) -> Snapshot | None:
        """One tick by id (as listed by `ticks_between` / `tick_near`)."""
        return self._load("WHERE id = ?", (tick_id,))

    def ticks_between(
        self, start: When, end: When, limit: int | None = None
    ) -> list[tuple[int, datetime]]:
        """(id, ts) of the ticks in [start, end], oldest first: cheap, for stepping."""
        sql = "SELECT id, ts FROM ticks WHERE ts BETWEEN ? AND ? ORDER BY ts, id LIMIT ?"
        with self._conn() as conn:
            rows = conn.execute(sql, (to_ms(start), to_ms(end), -1 if limit is None else limit))
            return [(i, from_ms(ms)) for i, ms in rows.fetchall()]

    def tick_near(
        self, ts: When, direction: Literal["prev", "next"]
    ) -> tuple[int, datetime] | None:
        """The tick strictly before (prev) or after (next) `ts`, for stepping through time."""
        sql = {
            "prev": "SELECT id, ts FROM ticks WHERE ts < ? ORDER BY ts DESC, id DESC LIMIT 1",
            "next": "SELECT id, ts FROM ticks WHERE ts > ? ORDER BY ts, id LIMIT 1",
        }[direction]
        with self._conn() as conn:
            row = conn.execute(sql, (to_ms(ts),)).fetchone()
        return None if row is None else (row[0], from_ms(row[1]))

    def series(
        self,
        scope: Scope,
        entity: str,
        metric: str,
        start: When,
        end: When,
        points: int = 300,
    ) -> Series:
        """One metric over [start, end] as at most `points` buckets, from the right resolution.

        The coarsest rollup no wider than a point is read (raw rows below a minute); where that
        resolution has nothing in range (already pruned) the next coarser one is tried.
        """
        if scope not in _METRICS:
            raise ValueError(f"unknown scope {scope!r}: expected host, agent or gpu")
        if metric not in _METRICS[scope]:
            known = ", ".join(_METRICS[scope])
            raise ValueError(f"unknown {scope} metric {metric!r}: expected one of {known}")
        if points < 1:
            raise ValueError(f"points must be at least 1, not {points}")
        lo, hi = to_ms(start), to_ms(end)
        if hi < lo:
            raise ValueError("series range ends before it starts")
        width = (hi - lo) / 1000 / points
        fine = max((r for r in RESOLUTIONS if r <= width), default=0)
        scale = _SCALE.get((scope, metric), 1.0)
        with self._conn() as conn:
            key = _entity_key(conn, scope, entity)
            if key is None:
                return Series(fine, 0.0, [])
            for res in (fine, *(r for r in RESOLUTIONS if r > fine)):
                if res == 0:
                    step, rows = _raw(conn, scope, metric, key, lo, hi, points)
                else:
                    step, rows = _rollup(conn, (scope, entity, metric), res, lo, hi, points)
                if rows:
                    break
        pts = [(t, a / scale, mn / scale, mx / scale) for t, a, mn, mx in rows]
        return Series(res, step, pts)

    def events(
        self,
        agent: str | None = None,
        min_level: str | None = None,
        text: str | None = None,
        start: When | None = None,
        end: When | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[tuple[int, AgentEvent]]:
        """Events newest first, paged by id: pass the last id seen as `before_id`.

        `text` is a case-insensitive substring of the message; `%` and `_` are literal.
        """
        if min_level is not None and min_level not in LEVEL_CODES:
            raise ValueError(
                f"unknown level {min_level!r}: expected one of {', '.join(LEVEL_CODES)}"
            )
        conditions = (
            ("agent = ?", agent),
            ("level >= ?", None if min_level is None else LEVEL_CODES[min_level]),
            ("instr(fold(message), ?) > 0", text.casefold() if text else None),
            ("ts >= ?", None if start is None else to_ms(start)),
            ("ts <= ?", None if end is None else to_ms(end)),
            ("id < ?", before_id),
        )
        used = [(sql, value) for sql, value in conditions if value is not None]
        clause = f" WHERE {' AND '.join(sql for sql, _ in used)}" if used else ""
        params = [value for _, value in used]
        with self._conn() as conn:
            conn.create_function("fold", 1, str.casefold, deterministic=True)
            rows = conn.execute(
                f"{_EVENTS}{clause} ORDER BY id DESC LIMIT ?", (*params, limit)
            ).fetchall()
        return [(row[0], _event(row)) for row in rows]

    def unresolved_errors(self, agent: str | None = None, limit: int = 100) -> list[ErrorRow]:
        """Errors nobody has resolved yet, newest first."""
        sql = "SELECT id, ts, agent, error_type, message, stack FROM errors WHERE resolved = 0"
        params: tuple[object, ...] = ()
        if agent is not None:
            sql += " AND agent = ?"
            params = (agent,)
        with self._conn() as conn:
            rows = conn.execute(f"{sql} ORDER BY ts DESC, id DESC LIMIT ?", (*params, limit))
            return [ErrorRow(i, from_ms(ts), *rest) for i, ts, *rest in rows.fetchall()]

    def usage_since(self, ms: int, after_id: int = 0) -> list[tuple[int, UsageRecord]]:
        """(id, record) of usage rows from `ms` (epoch ms) on and after row `after_id`."""
        with self._conn() as conn:
            rows = conn.execute(
                f"{_USAGE} WHERE ts >= ? AND id > ? ORDER BY id", (ms, after_id)
            ).fetchall()
        return [(r[0], _usage_record(r)) for r in rows]

    def usage_seed(
        self, month_ms: int, day_ms: int, recent_ms: int, seen_ms: int, remember: int
    ) -> tuple[list[tuple[Any, ...]], list[UsageRecord], list[tuple[str, str]]]:
        """This month's usage as a ledger starts from it, without a model per row: totals
        from `month_ms` on per (agent, model, from `day_ms` on or not) in order of first
        appearance (records, the four token sums, the stored costs' sum, the records stored
        without a cost); the rows from `recent_ms` on one by one (the burn rate's minutes);
        the newest `remember` (agent, request_id) pairs from `seen_ms` on, oldest first."""
        totals_sql = (
            f"SELECT agent, model, ts >= ?, count(*), {', '.join(f'sum({c})' for c in _TOKENS)}, "
            "total(cost_usd), sum(cost_usd IS NULL) FROM usage WHERE ts >= ? "
            "GROUP BY agent, model, ts >= ? ORDER BY min(id)"
        )
        with self._conn() as conn:
            conn.execute("BEGIN")  # one moment for all three reads
            totals = conn.execute(totals_sql, (day_ms, month_ms, day_ms)).fetchall()
            recent = conn.execute(f"{_USAGE} WHERE ts >= ? ORDER BY id", (recent_ms,)).fetchall()
            seen = conn.execute(
                "SELECT agent, request_id FROM usage WHERE ts >= ? AND request_id IS NOT NULL "
                "ORDER BY id DESC LIMIT ?",
                (seen_ms, remember),
            ).fetchall()
        seen.reverse()
        return totals, [_usage_record(r) for r in recent], seen

    def usage_by_model(self, agent: str, since_ms: int) -> list[ModelUsageRow]:
        """One agent's tokens and stored cost per model since `since_ms` (never re-priced:
        records stored without a cost are counted apart)."""
        sql = (
            "SELECT model, count(*), sum(input_tokens), sum(output_tokens), "
            "sum(cache_read_tokens), sum(cache_write_tokens), total(cost_usd), "
            "sum(cost_usd IS NULL) "
            "FROM usage WHERE agent = ? AND ts >= ? GROUP BY model ORDER BY total(cost_usd) DESC"
        )
        with self._conn() as conn:
            rows = conn.execute(sql, (agent, since_ms)).fetchall()
        return [ModelUsageRow(r[0], r[1], (r[2], r[3], r[4], r[5]), r[6], r[7]) for r in rows]

    def unresolved_counts(self) -> dict[str, int]:
        """Open errors per agent, now."""
        ms = to_ms(datetime.now(UTC))
        with self._conn() as conn:
            return dict(conn.execute(UNRESOLVED, (ms, ms)).fetchall())

    def task_boards(self) -> dict[str, TaskBoard]:
        """The task boards as last stored, by name."""
        with self._conn() as conn:
            return tasks.latest_boards(conn)

    def task_moves(self, board: str, key: str, upto_tick: int | None = None) -> list[tasks.Move]:
        """Every stored state of one task (up to a tick), oldest first."""
        with self._conn() as conn:
            if upto_tick is None:
                upto_tick = conn.execute("SELECT coalesce(max(id), 0) FROM ticks").fetchone()[0]
            return tasks.card_history(conn, board, key, upto_tick)

    def info(self) -> DbInfo:
        """Sizes, version and row counts (counting scans each table: seconds on a big file)."""
        with self._conn() as conn:
            version = schema.user_version(conn)
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_schema WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                ).fetchall()
            ]
            rows = {
                t: int(conn.execute(f'SELECT count(*) FROM "{_quote(t)}"').fetchone()[0])
                for t in tables
            }
            first, last = conn.execute("SELECT min(ts), max(ts) FROM ticks").fetchone()
        wal = self.path.with_name(self.path.name + "-wal")
        return DbInfo(
            path=self.path,
            size=self.path.stat().st_size,
            wal_size=wal.stat().st_size if wal.exists() else 0,
            schema_version=version,
            rows=rows,
            first_tick=None if first is None else from_ms(first),
            last_tick=None if last is None else from_ms(last),
        )

    def check(self, full: bool = False) -> list[str]:
        """SQLite's own verdict: ['ok'] when the file is sound, else its complaints."""
        pragma = "integrity_check" if full else "quick_check"
        with self._conn() as conn:
            return [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}").fetchall()]


def _quote(name: str) -> str:
    return name.replace('"', '""')


def _entity_key(conn: sqlite3.Connection, scope: str, entity: str) -> int | None:
    """What raw rows are filtered by: the agent's id, the GPU index; 0 for the host."""
    if scope == "host":
        return 0
    if scope == "gpu":
        try:
            return int(entity)
        except ValueError:
            raise ValueError(f"a GPU is named by its index, not {entity!r}") from None
    row = conn.execute("SELECT id FROM agents WHERE name = ?", (entity,)).fetchone()
    return None if row is None else int(row[0])


def _raw(
    conn: sqlite3.Connection, scope: str, metric: str, key: int, lo: int, hi: int, points: int
) -> tuple[float, list[Point]]:
    """Raw samples in [lo, hi] ms, grouped into epoch-aligned buckets of whole seconds."""
    step = 1000 * max(1, math.ceil((hi - lo) / 1000 / max(points - 1, 1)))
    inner = (
        f"SELECT t.ts AS ts, {_METRICS[scope][metric]} AS v FROM ticks t {_RAW_JOIN[scope]} "
        "WHERE t.ts BETWEEN ? AND ?"
    )
    params: tuple[int, ...] = (lo, hi) if scope == "host" else (key, lo, hi)
    rows = conn.execute(
        f"SELECT ts / ? * ? AS b, avg(v), min(v), max(v) FROM ({inner}) "
        "GROUP BY b HAVING count(v) > 0 ORDER BY b",
        (step, step, *params),
    ).fetchall()
    return step / 1000, [(b / 1000, a, mn, mx) for b, a, mn, mx in rows]


def _rollup(
    conn: sqlite3.Connection,
    key: tuple[str, str, str],
    res: int,
    lo: int,
    hi: int,
    points: int,
) -> tuple[float, list[Point]]:
    """Rollup buckets of width `res` touching [lo, hi] ms, merged into `step`-second points."""
    step = res * max(1, math.ceil((hi - lo) / 1000 / max(points - 1, 1) / res))
    found = conn.execute(
        "SELECT id FROM series WHERE scope = ? AND entity = ? AND metric = ?", key
    ).fetchone()
    if found is None:
        return float(step), []
    rows = conn.execute(
        "SELECT bucket * ? / ? * ? AS b, sum(sum) / sum(n), min(min), max(max) FROM rollups "
        "WHERE series = ? AND res = ? AND bucket BETWEEN ? AND ? GROUP BY b ORDER BY b",
        (res, step, step, found[0], res, lo // 1000 // res, hi // 1000 // res),
    ).fetchall()
    return float(step), [(float(b), a, mn, mx) for b, a, mn, mx in rows]
