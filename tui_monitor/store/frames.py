"""Everything the dashboard needs to show one recorded moment, read in one transaction.

`read_frame` gives the tick itself plus what live viewers build up over time: the events
before it (the event log), per-agent event tallies (MSGS, LAST EV), the alerts firing then and
the last ten minutes of chart points. One read transaction, so a recorder writing meanwhile
cannot mix two moments.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..models import AgentEvent, Snapshot, UsageRecord
from . import schema
from .rows import _EVENTS, _TICK, _USAGE, When, _event, _snapshot, _usage_record, to_ms
from .schema import LEVEL_CODES

EVENTS = 1000
"""Events before the moment, for the event log (the live log keeps as many)."""
ALERT_LOOKBACK_MS = 24 * 3600 * 1000
"""Alert changes are folded over the day before the moment: an alert that fired earlier and
never cleared is not seen (the live view, too, knows only the changes since it started)."""
CHART_MS = 600 * 1000


@dataclass(frozen=True, slots=True)
class ChartRow:
    """One tick of the chart: host CPU %, RAM bytes, mean GPU %, open errors, and per agent
    (CPU %, RAM bytes, GPU memory bytes)."""

    ts: float
    cpu: float | None
    mem: float
    gpu: float | None
    errors: int
    agents: dict[str, tuple[float | None, float | None, float | None]]


@dataclass(frozen=True, slots=True)
class Frame:
    tick: int
    snapshot: Snapshot
    events: list[AgentEvent]
    """Oldest first, up to and including the tick's own."""
    tallies: dict[str, tuple[int, int, float | None]]
    """agent -> (events since `cutoff`, error events among them, last event's epoch s)."""
    alerts: list[AgentEvent]
    """Alert changes before the moment, oldest first: fold them to get the firing ones."""
    chart: list[ChartRow]
    usage: list[UsageRecord]
    """Usage since `usage_since` up to the moment, for the cost figures."""


@contextmanager
def read_transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """One read-only connection inside one read transaction: every SELECT sees one moment."""
    conn = schema.connect_ro(path)
    try:
        conn.execute("BEGIN")
        yield conn
    finally:
        conn.close()


def find_tick(
    path: Path, ts: When, how: Literal["at", "prev", "next", "first_after"] = "at"
) -> int | None:
    """The tick id at or before `ts` ("at"), strictly before/after it, or at or after it."""
    sql = {
        "at": "SELECT id FROM ticks WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT 1",
        "prev": "SELECT id FROM ticks WHERE ts < ? ORDER BY ts DESC, id DESC LIMIT 1",
        "next": "SELECT id FROM ticks WHERE ts > ? ORDER BY ts, id LIMIT 1",
        "first_after": "SELECT id FROM ticks WHERE ts >= ? ORDER BY ts, id LIMIT 1",
    }[how]
    with read_transaction(path) as conn:
        row = conn.execute(sql, (to_ms(ts),)).fetchone()
    return None if row is None else int(row[0])


def bounds(path: Path) -> tuple[int, int] | None:
    """Epoch ms of the first and the last tick."""
    with read_transaction(path) as conn:
        row = conn.execute("SELECT min(ts), max(ts) FROM ticks").fetchone()
    return None if row is None or row[0] is None else (int(row[0]), int(row[1]))


def next_problem(path: Path, after: When) -> int | None:
    """Epoch ms of the first error (an error-level event, a reported error) or alert change
    stamped after `after`."""
    ms = to_ms(after)
    with read_transaction(path) as conn:
        event = conn.execute(
            "SELECT min(ts) FROM events WHERE ts > ? AND (level >= ? OR kind = 'alert')",
            (ms, LEVEL_CODES["error"]),
        ).fetchone()[0]
        error = conn.execute("SELECT min(ts) FROM errors WHERE ts > ?", (ms,)).fetchone()[0]
    found = [v for v in (event, error) if v is not None]
    return min(found) if found else None


def events_before(conn: sqlite3.Connection, ms: int, limit: int) -> list[AgentEvent]:
    """The last `limit` events at or before `ms`, oldest first."""
    rows = conn.execute(
        f"{_EVENTS} WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT ?", (ms, limit)
    ).fetchall()
    return [_event(e) for e in reversed(rows)]


def alert_changes(conn: sqlite3.Connection, ms: int) -> list[AgentEvent]:
    """Alert changes in the ALERT_LOOKBACK_MS before `ms`, oldest first."""
    rows = conn.execute(
        f"{_EVENTS} WHERE ts <= ? AND ts > ? AND kind = 'alert' ORDER BY ts, id",
        (ms, ms - ALERT_LOOKBACK_MS),
    ).fetchall()
    return [_event(e) for e in rows]


def read_frame(
    path: Path,
    tick_id: int,
    cutoff: Callable[[float], float],
    usage_since: Callable[[float], int],
) -> Frame | None:
    """The frame of one tick. Of the tick's time (epoch s), `cutoff` gives the epoch s from
    which events are tallied, `usage_since` the epoch ms from which usage rows are read."""
    with read_transaction(path) as conn:
        row = conn.execute(f"{_TICK} WHERE id = ?", (tick_id,)).fetchone()
        if row is None:
            return None
        snap = _snapshot(conn, row)
        ms = int(row[1])
        now = ms / 1000
        return Frame(
            tick=tick_id,
            snapshot=snap,
            events=events_before(conn, ms, EVENTS),
            tallies=_tallies(conn, ms, to_ms(cutoff(now)), [a.name for a in snap.agents]),
            alerts=alert_changes(conn, ms),
            chart=_chart(conn, ms),
            usage=usage_upto(conn, usage_since(now), tick_id, ms),
        )


def _tallies(
    conn: sqlite3.Connection, ms: int, cutoff: int, names: list[str]
) -> dict[str, tuple[int, int, float | None]]:
    counts = {
        agent: (n, errors, last / 1000)
        for agent, n, errors, last in conn.execute(
            "SELECT agent, count(*), total(level >= ?), max(ts) FROM events "
            "WHERE ts >= ? AND ts <= ? GROUP BY agent",
            (LEVEL_CODES["error"], cutoff, ms),
        ).fetchall()
    }
    result = {agent: (int(n), int(errors), last) for agent, (n, errors, last) in counts.items()}
    for name in names:  # quiet for the last hour: when did it last say anything?
        if name not in result:
            last = conn.execute(
                "SELECT max(ts) FROM events WHERE agent = ? AND ts <= ?", (name, ms)
            ).fetchone()[0]
            result[name] = (0, 0, None if last is None else last / 1000)
    return result


def _chart(conn: sqlite3.Connection, ms: int) -> list[ChartRow]:
    start = ms - CHART_MS
    ticks = conn.execute(
        "SELECT t.id, t.ts, h.cpu, h.ram_used, "
        "(SELECT avg(util) FROM gpu_samples g WHERE g.tick = t.id) "
        "FROM ticks t JOIN host_samples h ON h.tick = t.id "
        "WHERE t.ts > ? AND t.ts <= ? ORDER BY t.ts, t.id",
        (start, ms),
    ).fetchall()
    if not ticks:
        return []
    per_tick: dict[int, dict[str, tuple[float | None, float | None, float | None]]] = {
        t[0]: {} for t in ticks
    }
    for tick, name, cpu, ram, gpu in conn.execute(
        "SELECT s.tick, a.name, s.cpu, s.ram, s.gpu_mem FROM agent_samples s "
        "JOIN agents a ON a.id = s.agent WHERE s.tick >= ? AND s.tick <= ?",
        (ticks[0][0], ticks[-1][0]),
    ).fetchall():
        if tick in per_tick:
            per_tick[tick][name] = (None if cpu is None else cpu / 10.0, ram, gpu)
    # Errors open at each tick, in one pass: opened by then minus resolved by then.
    opened: list[int] = []
    resolved: list[int] = []
    for ts, done in conn.execute(
        "SELECT ts, CASE WHEN resolved = 0 THEN NULL ELSE resolved_ts END FROM errors "
        "WHERE ts <= ? AND (resolved = 0 OR resolved_ts > ?)",
        (ms, start),
    ).fetchall():
        opened.append(ts)
        if done is not None:
            resolved.append(max(done, ts))  # a clock step back cannot resolve early
    opened.sort()
    resolved.sort()
    return [
        ChartRow(
            ts / 1000,
            cpu,
            float(ram or 0),
            gpu,
            bisect_right(opened, ts) - bisect_right(resolved, ts),
            per_tick[tick],
        )
        for tick, ts, cpu, ram, gpu in ticks
    ]


def usage_upto(conn: sqlite3.Connection, since: int, tick: int, ms: int) -> list[UsageRecord]:
    """Usage stamped from `since` (epoch ms) on that had arrived by tick `tick`: what the
    recorder's ledger had counted then (rows from before schema 4 know no tick: by time)."""
    rows = conn.execute(
        f"{_USAGE} WHERE ts >= ? AND (tick <= ? OR (tick IS NULL AND ts <= ?)) ORDER BY id",
        (since, tick, ms),
    ).fetchall()
    return [_usage_record(r) for r in rows]


FOLLOW_TICKS = 10
"""New ticks a follower rebuilds per look at most (the newest; older ones only fed charts)."""


@dataclass(frozen=True, slots=True)
class Followed:
    """What a database that another process records into gained since the last look."""

    ticks: list[Snapshot]
    """The new ticks, oldest first, without events (at most FOLLOW_TICKS, the newest)."""
    events: list[AgentEvent]
    """Every event stored since the last look, in the order stored (at most EVENTS, the
    newest): by row id, so none is missed however its time stamp falls between ticks."""
    usage: list[UsageRecord]
    """Usage stored since the last look (on the first look: from `usage_from` on)."""
    seen: tuple[int, int, int]
    """The last tick, event and usage row ids read: pass it to the next look."""


def follow(path: Path, seen: tuple[int, int, int] | None, usage_from: int) -> Followed:
    """New ticks, events and usage since `seen` (None: a first look, which takes the newest
    tick with its own events, and this month's usage), in one read transaction."""
    with read_transaction(path) as conn:
        top = conn.execute(
            "SELECT (SELECT max(id) FROM ticks), (SELECT max(id) FROM events), "
            "(SELECT max(id) FROM usage)"
        ).fetchone()
        last = (top[0] or 0, top[1] or 0, top[2] or 0)
        if seen is not None and any(now < was for now, was in zip(last, seen, strict=True)):
            seen = None  # ids went back: another file under the same name
        if seen is None:
            row = conn.execute(f"{_TICK} ORDER BY id DESC LIMIT 1").fetchone()
            snaps = [] if row is None else [_snapshot(conn, row)]
            events = list(snaps[0].events) if snaps else []
            usage = conn.execute(f"{_USAGE} WHERE ts >= ? ORDER BY id", (usage_from,))
            return Followed(
                [s.model_copy(update={"events": ()}) for s in snaps],
                events,
                [_usage_record(r) for r in usage.fetchall()],
                last,
            )
        tick, event, used = seen
        rows = conn.execute(
            f"{_TICK} WHERE id > ? ORDER BY id DESC LIMIT ?", (tick, FOLLOW_TICKS)
        ).fetchall()
        found = conn.execute(
            f"{_EVENTS} WHERE id > ? ORDER BY id DESC LIMIT ?", (event, EVENTS)
        ).fetchall()
        usage = conn.execute(f"{_USAGE} WHERE id > ? ORDER BY id", (used,))
        return Followed(
            [_snapshot(conn, r, events=False) for r in reversed(rows)],
            [_event(e) for e in reversed(found)],
            [_usage_record(r) for r in usage.fetchall()],
            last,
        )
