"""Metric and event ranges of the history as CSV, JSON or NDJSON files (docs/export.md).

Each export reads one read transaction, so a file never mixes two moments; rows stream from
SQLite to the file (written atomically by outfile.py) without being held in memory.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from .. import __version__
from ..errors import ExportError
from ..store.rows import _EVENTS, to_ms
from ..store.schema import LEVEL_CODES, LEVEL_NAMES, STATUS_NAMES
from .encode import csv_chunks, iso, json_chunks, ndjson_chunks, quoted
from .outfile import Sink, deliver
from .snapshot import VERSION, read_transaction

METRICS_FORMAT = "tui-monitor.metrics"
PROGRESS_EVERY = 5000
T = TypeVar("T")
Progress = Callable[[int, int], None]
"""Called with (rows done, rows in all) every PROGRESS_EVERY rows, at the start and the end."""

METRIC_COLUMNS = (
    "ts", "tick", "scope", "agent", "status", "cpu_percent", "ram_bytes", "gpu_memory_bytes",
    "procs", "threads", "queue_depth",
)  # fmt: skip
EVENT_COLUMNS = ("id", "ts", "agent", "kind", "level", "message", "data")


@dataclass(frozen=True, slots=True)
class Written:
    """What an export wrote: the file (None for a stream) and its rows (1 for a snapshot)."""

    path: Path | None
    rows: int


def _counted(
    rows: Iterable[T], total: int, progress: Progress | None, seen: list[int]
) -> Iterator[T]:
    """`rows`, reporting progress; appends the number passed on to `seen` once done."""
    done = 0
    if progress is not None:
        progress(0, total)
    for row in rows:
        yield row
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total)
    seen.append(done)
    if progress is not None:
        progress(done, total)


_HOST_ROWS = (
    "SELECT t.ts, t.id, 0, '', NULL, h.cpu, h.ram_used, "
    "(SELECT sum(g.mem_used) FROM gpu_samples g WHERE g.tick = t.id), NULL, NULL, NULL "
    "FROM ticks t JOIN host_samples h ON h.tick = t.id WHERE t.ts BETWEEN ? AND ? "
    "ORDER BY t.ts, t.id"
)
_AGENT_ROWS = (
    "SELECT t.ts, t.id, 1, a.name, s.status, s.cpu, s.ram, s.gpu_mem, s.procs, s.threads, "
    "s.queue_depth FROM ticks t JOIN agent_samples s ON s.tick = t.id "
    "JOIN agents a ON a.id = s.agent WHERE t.ts BETWEEN ? AND ?{} ORDER BY t.ts, t.id, a.name"
)
_COUNT = "SELECT count(*) FROM ticks t JOIN {} x ON x.tick = t.id WHERE t.ts BETWEEN ? AND ?{}"


def metric_rows(
    conn: sqlite3.Connection, since: datetime, until: datetime, agent: str | None = None
) -> tuple[int, Iterator[tuple[Any, ...]]]:
    """(row count, rows in METRIC_COLUMNS order): per tick the host row, then one row per
    agent by name; with `agent`, only that agent's rows. Agent CPU is % of one core, the
    host's % of all cores."""
    lo, hi = to_ms(since), to_ms(until)
    if agent is None:
        total = sum(
            conn.execute(_COUNT.format(table, ""), (lo, hi)).fetchone()[0]
            for table in ("host_samples", "agent_samples")
        )
        parts = [conn.execute(_HOST_ROWS, (lo, hi)), conn.execute(_AGENT_ROWS.format(""), (lo, hi))]
    else:
        found = conn.execute("SELECT id FROM agents WHERE name = ?", (agent,)).fetchone()
        if found is None:
            raise ExportError(f"no agent named {quoted(agent)} in the history")
        params = (lo, hi, found[0])
        count = _COUNT.format("agent_samples", " AND x.agent = ?")
        total = conn.execute(count, params).fetchone()[0]
        parts = [conn.execute(_AGENT_ROWS.format(" AND s.agent = ?"), params)]

    def rows() -> Iterator[tuple[Any, ...]]:
        merged = heapq.merge(*parts, key=lambda r: (r[0], r[1], r[2]))
        last, when = None, ""
        for ms, tick, kind, name, status, cpu, *rest in merged:
            if ms != last:  # a tick's rows share their time: format it once
                last, when = ms, iso(ms)
            if kind:
                status = STATUS_NAMES.get(status, str(status))
                cpu = None if cpu is None else cpu / 10
            yield (when, tick, "agent" if kind else "host", name, status or "", cpu, *rest)

    return int(total), rows()


_KNOWN_AGENT = (
    "SELECT 1 FROM agents WHERE name = ? UNION ALL "
    "SELECT 1 FROM events WHERE agent = ? LIMIT 1"  # agents that only ever sent events
)


def event_rows(
    conn: sqlite3.Connection,
    since: datetime,
    until: datetime,
    agent: str | None = None,
    min_level: str | None = None,
) -> tuple[int, Iterator[tuple[Any, ...]]]:
    """(row count, events in EVENT_COLUMNS order, oldest first); `data` is a dict."""
    if min_level is not None and min_level not in LEVEL_CODES:
        known = ", ".join(LEVEL_CODES)
        raise ExportError(f"unknown level {quoted(min_level)}: expected one of {known}")
    where = " WHERE ts BETWEEN ? AND ?"
    params: list[Any] = [to_ms(since), to_ms(until)]
    if agent is not None:
        if conn.execute(_KNOWN_AGENT, (agent, agent)).fetchone() is None:
            raise ExportError(f"no agent named {quoted(agent)} in the history")
        where += " AND agent = ?"
        params.append(agent)
    if min_level is not None:
        where += " AND level >= ?"
        params.append(LEVEL_CODES[min_level])
    total = int(conn.execute(f"SELECT count(*) FROM events{where}", params).fetchone()[0])
    cursor = conn.execute(f"{_EVENTS}{where} ORDER BY ts, id", params)

    def rows() -> Iterator[tuple[Any, ...]]:
        for id_, ms, name, kind, level, message, data in cursor:
            level = LEVEL_NAMES.get(level, "info")
            if data is None and kind == "error":
                found = _error_data(conn, ms, name, message)
            else:
                found = {} if data is None else json.loads(data)
            yield (id_, iso(ms), name, kind, level, message, found)

    return total, rows()


_ERROR_OF_EVENT = (
    "SELECT error_type, stack FROM errors WHERE resolved IN (0, 1) AND agent = ? AND ts = ? "
    "AND (CASE WHEN message = '' THEN error_type ELSE error_type || ': ' || message END) = ? "
    "ORDER BY id LIMIT 1"
)
"""The reported error behind an `error` event (the index on (resolved, agent, ts) finds it)."""


def _error_data(conn: sqlite3.Connection, ms: int, agent: str, message: str) -> dict[str, Any]:
    """An `error` event's type and stack, for events stored before they carried them."""
    row = conn.execute(_ERROR_OF_EVENT, (agent, ms, message)).fetchone()
    if row is None:
        return {}
    found = {"error_type": row[0], "stack": row[1]}
    return {k: v for k, v in found.items() if v is not None}


def export_metrics(
    db: Path,
    sink: Sink,
    since: datetime,
    until: datetime,
    *,
    agent: str | None = None,
    fmt: str = "csv",
    csv_safe: bool = True,
    force: bool = False,
    progress: Progress | None = None,
) -> Written:
    """Metric rows in [since, until] as `csv` or `json`, read in one transaction."""
    if fmt not in ("csv", "json"):
        raise ExportError(f"unknown metrics format {quoted(fmt)}: expected csv or json")
    with read_transaction(db) as conn:
        total, rows = metric_rows(conn, since, until, agent)
        seen: list[int] = []
        counted = _counted(rows, total, progress, seen)
        if fmt == "csv":
            chunks = csv_chunks(METRIC_COLUMNS, counted, safe=csv_safe)
        else:
            header = {
                "format": METRICS_FORMAT,
                "version": VERSION,
                "generator": f"tui-monitor {__version__}",
                "exported_at": iso(to_ms(datetime.now(UTC))),
                "since": iso(to_ms(since)),
                "until": iso(to_ms(until)),
                "agent": agent,
            }
            chunks = json_chunks(header, METRIC_COLUMNS, counted)
        path = deliver(sink, chunks, force)
    return Written(path, seen[0] if seen else 0)


def export_events(
    db: Path,
    sink: Sink,
    since: datetime,
    until: datetime,
    *,
    agent: str | None = None,
    min_level: str | None = None,
    fmt: str = "ndjson",
    csv_safe: bool = True,
    force: bool = False,
    progress: Progress | None = None,
) -> Written:
    """Events in [since, until] as `ndjson` or `csv`, read in one transaction."""
    if fmt not in ("ndjson", "csv"):
        raise ExportError(f"unknown events format {quoted(fmt)}: expected ndjson or csv")
    with read_transaction(db) as conn:
        total, rows = event_rows(conn, since, until, agent, min_level)
        seen: list[int] = []
        counted = _counted(rows, total, progress, seen)
        if fmt == "csv":
            chunks = csv_chunks(EVENT_COLUMNS, counted, safe=csv_safe)
        else:
            chunks = ndjson_chunks(EVENT_COLUMNS, counted)
        path = deliver(sink, chunks, force)
    return Written(path, seen[0] if seen else 0)
