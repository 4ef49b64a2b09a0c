"""Exports: a snapshot as a versioned JSON document, metric and event ranges as CSV, JSON or
NDJSON, and the atomic, no-clobber, owner-only file writes behind them (docs/export.md).

Shared by `tui-monitor export` and the dashboard's `x` key. Each export of the history reads
one read transaction (WAL gives it a stable view while the recorder keeps writing), so a file
never mixes two moments. Agent names are untrusted: they reach file names only as a slug, JSON
only ASCII-escaped, and CSV only with formula cells neutralised.
"""

from __future__ import annotations

import csv
import errno
import heapq
import io
import json
import math
import os
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from . import __version__
from .models import AgentEvent, Snapshot
from .store import schema
from .store.frames import ALERT_LOOKBACK_MS
from .store.rows import _EVENTS, _TICK, _event, _snapshot, from_ms, to_ms
from .store.schema import LEVEL_CODES, LEVEL_NAMES, STATUS_NAMES

SNAPSHOT_FORMAT = "tui-monitor.snapshot"
METRICS_FORMAT = "tui-monitor.metrics"
VERSION = 1
RECENT_EVENTS = 200
"""Events before the moment in a snapshot document (as many as the `x` key saves)."""
PROGRESS_EVERY = 5000
CHUNK_CHARS = 1 << 16
SLUG_MAX = 40
T = TypeVar("T")
Progress = Callable[[int, int], None]
"""Called with (rows done, rows in all) every PROGRESS_EVERY rows, at the start and the end."""
Sink = Path | BinaryIO
"""Where an export goes: a file (written atomically) or an open binary stream (stdout)."""

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


# -- names ------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def slug(text: str, fallback: str = "x") -> str:
    """ASCII letters, digits, `-` and `_` only, at most SLUG_MAX long, never empty: a hostile
    name can neither leave a directory nor pass for an option or a hidden file."""
    out = _UNSAFE_NAME.sub("-", text[: SLUG_MAX * 8]).strip("-_")[:SLUG_MAX].strip("-_")
    return out or fallback


def stamp(at: datetime | None = None) -> str:
    """Compact UTC time for file names: 20261121T140530Z (naive = UTC, None = now)."""
    when = datetime.now(UTC) if at is None else at
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y%m%dT%H%M%SZ")


def default_name(
    kind: str, *, agent: str | None = None, at: datetime | None = None, suffix: str = ".json"
) -> str:
    """`tui-monitor-<kind>[-<agent>]-<UTC time>.<suffix>`, every part a slug."""
    parts = ["tui-monitor", slug(kind, "export")]
    if agent is not None:
        parts.append(slug(agent, "agent"))
    return f"{'-'.join(parts)}-{stamp(at)}.{slug(suffix.lstrip('.'), 'out')[:8]}"


def target(output: str | Path | None, name: str) -> Path:
    """The file to write: `output` itself, or `name` inside it when it is a directory (or a
    string ending in a slash), or `name` in the working directory when there is no `output`."""
    if output is None:
        return Path.cwd() / name
    path = Path(output)
    if path.is_dir() or str(output).endswith(("/", os.sep)):
        return path / name
    return path


# -- atomic writes ----------------------------------------------------------------------


def write_atomic(
    path: Path, chunks: Iterable[bytes | str], force: bool = False, *, unique: bool = False
) -> Path:
    """Write `chunks` to `path` as one complete file, mode 0600, or leave nothing at all.

    On Linux the data goes to an unnamed O_TMPFILE in the target directory, fsynced, then
    linked into place: a crash or kill -9 meanwhile leaves no trace, and the link itself
    refuses an existing name. Elsewhere a hidden `.NAME.XXXX.tmp` is used and removed on any
    error (only a kill -9 can leave one behind). An existing file is replaced only with
    `force`; with `unique` a taken name becomes NAME-2, NAME-3, ... instead of an error.
    Returns the absolute path written.
    """
    final = Path(os.path.abspath(path))
    if not (force or unique) and os.path.lexists(final):
        raise _exists(final)
    # Every name below is relative to this one directory, even if it is renamed meanwhile.
    dirfd = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = _open_unnamed(dirfd)
        if fd is None:
            final = _write_named(dirfd, final, chunks, force, unique)
        else:
            try:
                _write_all(fd, chunks)
                final = _place(dirfd, f"/proc/self/fd/{fd}", final, force, unique)
            finally:
                os.close(fd)
        with suppress(OSError):  # make the new name durable too, where a dir can be synced
            os.fsync(dirfd)
    finally:
        os.close(dirfd)
    return final


def write_json(
    path: Path, doc: Mapping[str, Any], *, force: bool = False, unique: bool = True
) -> Path:
    """A JSON document (ASCII only, indented) written atomically; for interactive saves a
    taken name gets a -2, -3, ... suffix by default rather than failing."""
    return write_atomic(path, [dumps(doc, indent=2) + "\n"], force, unique=unique)


UNIQUE_TRIES = 1000


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "already exists (use --force to overwrite)", str(path))


def _candidates(final: Path, unique: bool) -> Iterator[Path]:
    yield final
    if unique:
        for n in range(2, UNIQUE_TRIES + 1):
            yield final.with_name(f"{final.stem}-{n}{final.suffix}")


def _open_unnamed(dirfd: int) -> int | None:
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.open(".", flag | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None  # this file system or kernel has no O_TMPFILE
        raise
    os.fchmod(fd, 0o600)  # whatever the umask
    return fd


def _write_all(fd: int, chunks: Iterable[bytes | str]) -> None:
    with open(fd, "wb", buffering=CHUNK_CHARS, closefd=False) as f:
        for chunk in chunks:
            f.write(chunk.encode() if isinstance(chunk, str) else chunk)
    os.fsync(fd)


def _temp_name(final: Path) -> str:
    return f".{final.name[:200]}.{secrets.token_hex(6)}.tmp"


def _place(dirfd: int, source: str, final: Path, force: bool, unique: bool) -> Path:
    """Give the written file its name: `source` is /proc/self/fd/N or a temp name in dirfd.

    A link never replaces a name (no clobber); `force` links a temp name and renames it over.
    linkat needs AT_SYMLINK_FOLLOW to link an O_TMPFILE through /proc: os.link uses linkat,
    with that flag, only when given a dir fd.
    """
    if force:
        tmp = _temp_name(final)
        os.link(source, tmp, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        try:
            os.replace(tmp, final.name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp, dir_fd=dirfd)
            raise
        return final
    for candidate in _candidates(final, unique):
        try:
            os.link(source, candidate.name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        except FileExistsError:
            continue
        return candidate
    raise _exists(final)


def _write_named(
    dirfd: int, final: Path, chunks: Iterable[bytes | str], force: bool, unique: bool
) -> Path:
    tmp = _temp_name(final)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600, dir_fd=dirfd)
    try:
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, chunks)
        finally:
            os.close(fd)
        try:
            return _place(dirfd, tmp, final, force, unique)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
        # no hard links here (FAT, some network shares): check, then rename
        for candidate in _candidates(final, unique and not force):
            if force or not os.path.lexists(candidate):
                os.replace(tmp, candidate.name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
                return candidate
        raise _exists(final)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dirfd)


def deliver(sink: Sink, chunks: Iterable[bytes | str], force: bool = False) -> Path | None:
    """Chunks to a file (atomically; its path is returned) or to an open binary stream."""
    if isinstance(sink, Path):
        return write_atomic(sink, chunks, force)
    for chunk in chunks:
        sink.write(chunk.encode() if isinstance(chunk, str) else chunk)
    sink.flush()
    return None


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
    conn = schema.connect_ro(db)
    try:
        conn.execute("BEGIN")
        yield conn
    finally:
        conn.close()


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
        recent = conn.execute(
            f"{_EVENTS} WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT ?", (tick_ms, events)
        ).fetchall()
        changes = conn.execute(
            f"{_EVENTS} WHERE ts <= ? AND ts > ? AND kind = 'alert' ORDER BY ts, id",
            (tick_ms, tick_ms - ALERT_LOOKBACK_MS),
        ).fetchall()
    return Moment(
        tick=int(row[0]),
        snapshot=snap,
        events=[_event(e) for e in reversed(recent)],
        alerts=fold_alerts(_event(e) for e in changes),
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
