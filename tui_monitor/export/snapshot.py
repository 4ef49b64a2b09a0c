"""A snapshot as a versioned JSON document (docs/export.md), read from one recorded moment.

Shared by `tui-monitor export snapshot` and the dashboard's `x` key. The moment is read in one
read transaction (WAL gives it a stable view while the recorder keeps writing), so a document
never mixes two moments.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..cost.budgets import BudgetSettings
from ..cost.tick import cost_at, month_start_ms
from ..errors import ExportError, NoHistory
from ..models import AgentEvent, ErrorRecord, Snapshot
from ..store import frames
from ..store.frames import alert_changes, events_before, usage_upto
from ..store.rows import _TICK, _snapshot, from_ms, to_ms
from .encode import iso, quoted

SNAPSHOT_FORMAT = "tui-monitor.snapshot"
VERSION = 1
RECENT_EVENTS = 200
"""Events before the moment in a snapshot document (as many as the `x` key saves)."""


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
    errors: list[ErrorRecord] = field(default_factory=list)
    """The errors open at the tick (reported by then, not resolved by then), oldest first."""


_OPEN_ERRORS = (
    "SELECT ts, agent, error_type, message, stack FROM errors "
    "WHERE ts <= ? AND (resolved = 0 OR resolved_ts > ?) ORDER BY ts, id"
)


def open_errors(conn: sqlite3.Connection, ms: int) -> list[ErrorRecord]:
    """The errors open at `ms` (epoch ms), with their stacks, oldest first."""
    return [
        ErrorRecord(ts=from_ms(ts), agent=agent, error_type=kind, message=message, stack=stack)
        for ts, agent, kind, message, stack in conn.execute(_OPEN_ERRORS, (ms, ms))
    ]


def read_moment(
    db: Path,
    at: datetime | float,
    events: int = RECENT_EVENTS,
    budgets: BudgetSettings | None = None,
) -> Moment:
    """The tick at or before `at` (the oldest one when the history starts later, as the
    dashboard's `g` does: compare `snapshot.ts` with `at` to say so), its recent events, its
    firing alerts and open errors, in one read; with the money the dashboard showed then (the
    costs stored with the usage; budgets' limits as given)."""
    ms = to_ms(at)
    with read_transaction(db) as conn:
        row = conn.execute(
            f"{_TICK} WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT 1", (ms,)
        ).fetchone()
        if row is None:
            row = conn.execute(f"{_TICK} ORDER BY ts, id LIMIT 1").fetchone()
        if row is None:
            raise ExportError(f"no tick recorded at or before {iso(ms)} (the history is empty)")
        snap = _snapshot(conn, row)
        tick_ms = int(row[1])
        recent = events_before(conn, tick_ms, events)
        changes = alert_changes(conn, tick_ms)
        usage = usage_upto(conn, month_start_ms(tick_ms / 1000), int(row[0]), tick_ms)
        errors = open_errors(conn, tick_ms)
    return Moment(
        tick=int(row[0]),
        snapshot=cost_at(snap, usage, budgets),
        events=recent,
        alerts=fold_alerts(changes),
        errors=errors,
    )


def snapshot_document(
    snap: Snapshot,
    *,
    events: Sequence[AgentEvent] = (),
    alerts: Sequence[AgentEvent] = (),
    errors: Sequence[ErrorRecord] = (),
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
        "errors": [e.model_dump(mode="json") for e in errors],
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
        raise ValueError(f"snapshot document version {quoted(str(version))}: this reads 1")
    return Snapshot.model_validate(doc["tick"])
