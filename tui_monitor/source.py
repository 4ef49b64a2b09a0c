"""Where the dashboard's snapshots come from: live, attached or scripted (and later replay).

Every source pushes `Snapshot`s into one callback; the UI renders them all the same way.
- live: an in-process recorder (sampler + writer) owns the database;
- attached: a `tui-monitor record` daemon owns it; we read it read-only and follow new ticks;
- scripted: snapshots handed in by tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from .config import Settings
from .cost import ledger
from .cost.tick import month_start_ms, with_cost
from .errors import AlreadyRecording, SchemaError
from .models import Snapshot, TaskBoard
from .recorder import Recorder, RecorderLock, move_aside_if_corrupt, recorder_pid
from .store.queries import History

Mode = Literal["live", "attached", "replay", "scripted"]
Emit = Callable[[Snapshot], None]
TasksChanged = Callable[[tuple[TaskBoard, ...]], None]


class SnapshotSource:
    """The interface: a mode, an optional history, and `run` pushing snapshots until stopped."""

    mode: Mode = "scripted"
    db: Path | None = None
    detail: str = ""
    """Shown next to the mode in the header (e.g. the recorder's pid)."""

    def history(self) -> History | None:
        return History(self.db) if self.db is not None and self.db.exists() else None

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        raise NotImplementedError

    def follow_tasks(self, fn: TasksChanged) -> None:
        """Task boards as they change between ticks; only a source watching the files
        (live) has them, the others bring boards with their snapshots."""


class LiveSource(SnapshotSource):
    """An in-process recorder: samples, writes history, and shows every tick."""

    mode: Mode = "live"

    def __init__(self, settings: Settings, db: Path) -> None:
        self.settings = settings
        self.db = self.path = db
        self.recorder: Recorder | None = None
        self.notice: str | None = None
        self._tasks: list[TasksChanged] = []

    def follow_tasks(self, fn: TasksChanged) -> None:
        self._tasks.append(fn)

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        recorder = self.recorder = Recorder(self.settings, self.path)
        recorder.sampler.subscribe(emit)
        recorder.task_subscribers.extend(self._tasks)
        # The first screen does not wait for the lock, the integrity check or the migrations.
        first = await recorder.sampler.tick()
        with RecorderLock(self.path):
            self.notice = await asyncio.to_thread(move_aside_if_corrupt, self.path)
            await asyncio.to_thread(recorder.open)
            await recorder.run(stop, first)


class AttachedSource(SnapshotSource):
    """Follow a database another process records into, read-only."""

    mode: Mode = "attached"

    def __init__(
        self, db: Path, interval: float, pid: int | None = None, settings: Settings | None = None
    ) -> None:
        self.db = self.path = db
        self.interval = interval
        self.detail = f"recorder pid {pid}" if pid else ""
        self.errors = 0
        self.last_error: str | None = None
        settings = settings or Settings()
        self.ledger = ledger.Ledger(settings.prices, settings.budgets)
        """Cost from the usage rows the recorder wrote, priced with our own config."""
        self._usage_id = 0

    def _read(self, history: History) -> Snapshot | None:
        snap = history.latest()
        since = month_start_ms() if self._usage_id == 0 else 0
        for row_id, record in history.usage_since(since, self._usage_id):
            self._usage_id = row_id
            self.ledger.add(record)
        if snap is None:
            return None
        return with_cost(snap, self.ledger.summary(snap.ts.timestamp()))

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        history = History(self.path)
        last: tuple[int, object] | None = None
        while not stop.is_set():
            try:
                snap = await asyncio.to_thread(self._read, history)
            except (sqlite3.Error, SchemaError) as exc:
                self.errors += 1
                self.last_error = str(exc)
                snap = None
            if snap is not None and (snap.seq, snap.ts) != last:
                last = (snap.seq, snap.ts)
                emit(snap)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval / 2)


class ScriptedSource(SnapshotSource):
    """Snapshots given up front (tests, benchmarks); `step` pushes the next one."""

    mode: Mode = "scripted"

    def __init__(self, snapshots: Sequence[Snapshot], db: Path | None = None) -> None:
        self.snapshots = list(snapshots)
        self.db = db
        self._emit: Emit | None = None
        self._next = 0
        self.ready = asyncio.Event()

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        self._emit = emit
        self.step()
        self.ready.set()
        await stop.wait()

    def step(self) -> Snapshot | None:
        """Emit the next snapshot (if any); returns it."""
        if self._emit is None or self._next >= len(self.snapshots):
            return None
        snap = self.snapshots[self._next]
        self._next += 1
        self._emit(snap)
        return snap


def choose_source(settings: Settings, db: Path) -> SnapshotSource:
    """Attach when a recorder owns the database; otherwise record in-process."""
    pid = recorder_pid(db)
    if pid is not None:
        return AttachedSource(db, settings.interval, pid, settings)
    return LiveSource(settings, db)


__all__ = [
    "AlreadyRecording",
    "AttachedSource",
    "LiveSource",
    "ScriptedSource",
    "SnapshotSource",
    "choose_source",
]
