"""Exports: a snapshot as a versioned JSON document, metric and event ranges as CSV, JSON or
NDJSON (docs/export.md). The atomic, no-clobber, owner-only file writes behind them and the
safe file names are outfile.py.

Shared by `tui-monitor export` and the dashboard's `x` key. Each export of the history reads
one read transaction (WAL gives it a stable view while the recorder keeps writing), so a file
never mixes two moments. Agent names are untrusted: they reach file names only as a slug, JSON
only ASCII-escaped, and CSV only with formula cells neutralised.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from . import __version__
from .models import AgentEvent, Snapshot
from .outfile import CHUNK_CHARS, Sink, deliver, write_atomic
from .store import frames
from .store.frames import alert_changes, events_before
from .store.rows import _EVENTS, _TICK, _snapshot, from_ms, to_ms
from .store.schema import LEVEL_CODES, LEVEL_NAMES, STATUS_NAMES

SNAPSHOT_FORMAT = "tui-monitor.snapshot"
METRICS_FORMAT = "tui-monitor.metrics"
VERSION = 1
RECENT_EVENTS = 200
"""Events before the moment in a snapshot document (as many as the `x` key saves)."""
PROGRESS_EVERY = 5000
T = TypeVar("T")
Progress = Callable[[int, int], None]
"""Called with (rows done, rows in all) every PROGRESS_EVERY rows, at the start and the end."""

METRIC_COLUMNS = (
    "ts", "tick", "scope", "agent", "status", "cpu_percent", "ram_bytes", "gpu_memory_bytes",
    "procs", "threads", "queue_depth",
)  # fmt: skip
EVENT_COLUMNS = ("id", "ts", "agent", "kind", "level", "message", "data")


def _quoted(text: str) -> str:
    """User or agent text inside a one-line message: escaped by repr, bounded."""
    return repr(text if len(text) <= 60 else text[:59] + "…")


class ExportError(Exception):
    """Nothing to export, or nothing that matches (already one line)."""


class NoHistory(ExportError):
    def __init__(self, db: Path) -> None:
        super().__init__(f"no history at {db} (run tui-monitor record, or the dashboard, first)")


@dataclass(frozen=True, slots=True)
class Written:
    """What an export wrote: the file (None for a stream) and its rows (1 for a snapshot)."""

    path: Path | None
    rows: int


# -- files ------------------------------------------------------------------------------


def write_json(
    path: Path, doc: Mapping[str, Any], *, force: bool = False, unique: bool = True
) -> Path:
    """A JSON document (ASCII only, indented) written atomically; for interactive saves a
    taken name gets a -2, -3, ... suffix by default rather than failing."""
    return write_atomic(path, [dumps(doc, indent=2) + "\n"], force, unique=unique)


# -- encodings ----------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such floats become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def dumps(value: Any, indent: int | None = None) -> str:
    """Strict JSON, ASCII only (every other character \\u-escaped)."""
    return json.dumps(_finite(value), ensure_ascii=True, allow_nan=False, indent=indent)


def iso(ms: int) -> str:
    """RFC 3339 UTC with milliseconds: 2026-11-21T14:05:30.123Z."""
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any, safe: bool = True) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading `'`; numbers stay."""
    if isinstance(value, str):
        return "'" + value if safe and value.startswith(_FORMULA) else value
    if isinstance(value, dict):
        return dumps(value) if value else ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return value


def csv_chunks(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, safe: bool = True
) -> Iterator[str]:
    """RFC 4180 CSV (CRLF, header first), in chunks of about CHUNK_CHARS."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(columns)
    for row in rows:
        out.writerow([csv_cell(v, safe) for v in row])
        if buf.tell() >= CHUNK_CHARS:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _json_lines(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[list[str]]:
    """Rows as JSON objects, a thousand lines at a time."""
    lines: list[str] = []
    for row in rows:
        lines.append(dumps(dict(zip(columns, row, strict=True))))
        if len(lines) >= 1000:
            yield lines
            lines = []
    if lines:
        yield lines


def ndjson_chunks(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """One JSON object per line."""
    for lines in _json_lines(columns, rows):
        yield "\n".join(lines) + "\n"


def json_chunks(
    header: Mapping[str, Any], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Iterator[str]:
    """`header` plus `"columns"` and `"rows"` (one object per line), streamed."""
    head = dumps({**header, "columns": list(columns)})
    yield head[:-1] + ', "rows": ['
    sep = "\n"
    for lines in _json_lines(columns, rows):
        yield sep + ",\n".join(lines)
        sep = ",\n"
    yield "\n]}\n"


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


# -- reading the history ------------------------------------------------------------------


@contextmanager
def read_transaction(db: Path) -> Iterator[sqlite3.Connection]:
    """One read-only connection inside one read transaction: every SELECT sees one moment."""
    if not db.exists():
        raise NoHistory(db)
    with frames.read_transaction(db) as conn:
        yield conn


def fold_alerts(events: Iterable[AgentEvent]) -> list[AgentEvent]:
    """The alerts still firing after these changes, by (rule, subject), oldest first."""
    firing: dict[tuple[str, str], AgentEvent] = {}
    for e in events:
        if e.kind != "alert":
            continue
        key = (str(e.data.get("rule", "")), str(e.data.get("subject", "")))
        firing.pop(key, None)
        if e.data.get("state") == "firing":
            firing[key] = e
    return list(firing.values())


@dataclass(frozen=True, slots=True)
class Moment:
    """One recorded tick with what the dashboard showed beside it."""

    tick: int
    snapshot: Snapshot
    events: list[AgentEvent]
    """The last RECENT_EVENTS events up to the tick, oldest first."""
    alerts: list[AgentEvent]


def read_moment(db: Path, at: datetime | float, events: int = RECENT_EVENTS) -> Moment:
    """The tick at or before `at`, its recent events and its firing alerts, in one read."""
    ms = to_ms(at)
    with read_transaction(db) as conn:
        row = conn.execute(
            f"{_TICK} WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT 1", (ms,)
        ).fetchone()
        if row is None:
            first = conn.execute("SELECT min(ts) FROM ticks").fetchone()[0]
            since = "the history is empty" if first is None else f"it starts at {iso(first)}"
            raise ExportError(f"no tick recorded at or before {iso(ms)} ({since})")
        snap = _snapshot(conn, row)
        tick_ms = int(row[1])
        recent = events_before(conn, tick_ms, events)
        changes = alert_changes(conn, tick_ms)
    return Moment(
        tick=int(row[0]),
        snapshot=snap,
        events=recent,
        alerts=fold_alerts(changes),
    )


def snapshot_document(
    snap: Snapshot,
    *,
    events: Sequence[AgentEvent] = (),
    alerts: Sequence[AgentEvent] = (),
    source: str = "history",
    exported_at: datetime | None = None,
) -> dict[str, Any]:
    """The versioned snapshot document (docs/export.md); `tick` is the whole Snapshot."""
    now = datetime.now(UTC) if exported_at is None else exported_at
    return {
        "format": SNAPSHOT_FORMAT,
        "version": VERSION,
        "generator": f"tui-monitor {__version__}",
        "exported_at": iso(to_ms(now)),
        "source": source,
        "ts": iso(to_ms(snap.ts)),
        "tick": snap.model_dump(mode="json"),
        "events": [e.model_dump(mode="json") for e in events],
        "alerts": [e.model_dump(mode="json") for e in alerts],
    }


def read_snapshot(doc: Path | str | Mapping[str, Any]) -> Snapshot:
    """The Snapshot of a snapshot document (a file path or the parsed document)."""
    if not isinstance(doc, Mapping):
        doc = json.loads(Path(doc).read_text(encoding="utf-8"))
        if not isinstance(doc, Mapping):
            raise ValueError("not a tui-monitor snapshot document")
    if doc.get("format") != SNAPSHOT_FORMAT:
        raise ValueError("not a tui-monitor snapshot document")
    version = doc.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise ValueError(f"snapshot document version {_quoted(str(version))}: this reads 1")
    return Snapshot.model_validate(doc["tick"])


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
            raise ExportError(f"no agent named {_quoted(agent)} in the history")
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
        raise ExportError(f"unknown level {_quoted(min_level)}: expected one of {known}")
    where = " WHERE ts BETWEEN ? AND ?"
    params: list[Any] = [to_ms(since), to_ms(until)]
    if agent is not None:
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
            yield (
                id_,
                iso(ms),
                name,
                kind,
                level,
                message,
                {} if data is None else json.loads(data),
            )

    return total, rows()


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
        raise ExportError(f"unknown metrics format {_quoted(fmt)}: expected csv or json")
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
        raise ExportError(f"unknown events format {_quoted(fmt)}: expected ndjson or csv")
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
