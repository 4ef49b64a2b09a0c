"""Where the dashboard's snapshots come from: live, attached or scripted (and later replay).

Every source pushes `Snapshot`s into one callback; the UI renders them all the same way.
- live: an in-process recorder (sampler + writer) owns the database;
- attached: a `tui-monitor record` daemon owns it; we read it read-only and follow new ticks;
- scripted: snapshots handed in by tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from . import fmt
from .aio import wait_set
from .config import Settings
from .cost import ledger
from .cost.budgets import BudgetSettings
from .cost.tick import cost_at, month_start_ms, with_cost
from .errors import AlreadyRecording, SchemaError, StoreError
from .models import Snapshot, TaskBoard
from .recorder import Recorder
from .store.frames import Followed, follow
from .store.live import Live, read_live, with_live
from .store.lock import RecorderLock, move_aside_if_corrupt, recorder_pid
from .store.queries import History

log = logging.getLogger(__name__)
Mode = Literal["live", "attached", "replay", "scripted"]
Emit = Callable[[Snapshot], None]
TasksChanged = Callable[[tuple[TaskBoard, ...]], None]

TAKE_OVER_AFTER = 3.0
"""Seconds an attached dashboard waits, once the recorder's lock is free, before it takes
over: a recorder being restarted (systemctl restart) gets its database back first."""


class SnapshotSource:
    """The interface: a mode, an optional history, and `run` pushing snapshots until stopped."""

    mode: Mode = "scripted"
    db: Path | None = None
    notice: str | None = None
    """Something to tell the person once (a damaged file moved aside, a recorder taken over)."""

    @property
    def detail(self) -> str:
        """Shown next to the mode in the header (e.g. the recorder's pid)."""
        return ""

    @property
    def warning(self) -> str:
        """What is wrong with the source right now, for the header ("" when nothing is)."""
        return ""

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

    @property
    def warning(self) -> str:
        """The history's trouble: a full disk, or history off (and why)."""
        problem = self.recorder.problem if self.recorder is not None else None
        return problem or ""

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """Record while showing; a database we cannot write (a read-only place, a file that
        is not ours) turns history off, said in the header, and monitoring goes on."""
        recorder = self.recorder = Recorder(self.settings, self.path)
        recorder.sampler.subscribe(emit)
        recorder.task_subscribers.extend(self._tasks)
        # The first screen does not wait for the lock, the integrity check or the migrations.
        first = await recorder.sampler.tick()
        lock = RecorderLock(self.path)
        try:
            await asyncio.to_thread(lock.acquire)
            try:
                self.notice = await asyncio.to_thread(move_aside_if_corrupt, self.path)
                await asyncio.to_thread(recorder.open)
            except (StoreError, SchemaError, sqlite3.Error) as exc:
                recorder.history_off = self._reason(exc)
        except StoreError as exc:
            recorder.history_off = self._reason(exc)
        try:
            await recorder.run(stop, first if recorder.history_off is None else None)
        finally:
            lock.release()

    def _reason(self, exc: Exception) -> str:
        """The why without the paths (the header has one line; the log has them)."""
        log.error("history off: %s", exc)
        if isinstance(exc, StoreError):
            return exc.reason
        return str(exc).removeprefix(f"{self.path}: ")


class AttachedSource(SnapshotSource):
    """Follow a database another process records into; take over when that process stops.

    Every look reads what was stored since the last one by row id (ticks, events, usage), so
    no event is missed however the recorder's commits fall between looks. Each look also
    checks the recorder's lock: once it is free, this source takes it and records in-process
    (mode `live`), or, where it cannot (a read-only file, say), says since when the recorder
    is gone and keeps looking for a new one.
    """

    mode: Mode = "attached"

    def __init__(
        self,
        db: Path,
        interval: float,
        pid: int | None = None,
        settings: Settings | None = None,
        take_over: bool = True,
    ) -> None:
        self.db = self.path = db
        self.interval = interval
        self.pid = pid
        self.take_over = take_over
        """False: only ever follow (`stream`, `serve`): never record, whoever stops."""
        self.settings = settings or Settings()
        self.errors = 0
        self.last_error: str | None = None
        self.ledger = ledger.Ledger(self.settings.budgets)
        """Cost from the usage rows the recorder wrote, at the costs it stored."""
        self.recorder: Recorder | None = None
        """The recorder this source runs after taking over."""
        self.took_over_from: int | None = None
        self.cannot_record: str | None = None
        """Why this source cannot take over (it then only follows)."""
        self._seen: tuple[int, int, int] | None = None
        self._newest: float | None = None
        """Epoch s of the newest tick seen."""
        self._stopped: float | None = None
        """Epoch s since when no recorder runs (its last tick), while none does."""
        self._gone_at: float | None = None
        """Monotonic s when this source found the lock free."""
        self._live: Live | None = None
        self._live_ts = 0.0
        """The recorder's newest live parts shown (and their tick's epoch s)."""

    @property
    def detail(self) -> str:
        if self.mode == "live":
            return f"took over from pid {self.took_over_from}" if self.took_over_from else ""
        return f"recorder pid {self.pid}" if self.pid and self._stopped is None else ""

    @property
    def warning(self) -> str:
        if self.mode == "live":
            return ""
        now = time.time()
        if self._stopped is not None and self._newest is None:
            return "no recorder is running"
        if self._stopped is not None:
            return f"recorder stopped {fmt.duration(now - self._stopped)} ago"
        silent = 3 * self.interval + 2 * self.settings.store.flush_interval + 1
        if self._newest is not None and now - self._newest > silent:
            return f"no tick from the recorder for {fmt.duration(now - self._newest)}"
        return ""

    def _look(self) -> tuple[int | None, Followed, Live | None]:
        """The recorder's pid (None: nobody records), then what it stored: the lock first,
        so a recorder that stopped after this look has all its ticks read by the next. Then
        its newest tick's live parts (store/live.py), if newer than what was shown."""
        pid = recorder_pid(self.path)
        found = follow(self.path, self._seen, month_start_ms())
        return pid, found, read_live(self.path, pid, self._live_ts)

    def _snapshots(self, found: Followed, live: Live | None = None) -> list[Snapshot]:
        for record in found.usage:
            self.ledger.add(record)
        snaps = list(found.ticks)
        if not snaps and self._seen is not None:  # events come with ticks; if not, next time
            self._seen = (found.seen[0], self._seen[1], found.seen[2])
            return []
        self._seen = found.seen
        if not snaps:
            return []
        live = live or self._live
        if live is not None and snaps[-1].ts.timestamp() - live.ts < 3 * self.interval + 1:
            snaps[-1] = with_live(snaps[-1], live)
        snaps[-1] = snaps[-1].model_copy(update={"events": tuple(found.events)})
        if live is not None and live.ts > self._live_ts:
            self._live, self._live_ts = live, live.ts
        self._newest = snaps[-1].ts.timestamp()
        return [with_cost(s, self.ledger.summary(s.ts.timestamp())) for s in snaps]

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._follow(emit, stop)
            if stop.is_set() or await self._take_over(emit, stop):
                return

    async def _follow(self, emit: Emit, stop: asyncio.Event) -> None:
        """Show what the recorder stores until it stops (and this source may take over)."""
        while not stop.is_set():
            try:
                pid, found, live = await asyncio.to_thread(self._look)
                for snap in self._snapshots(found, live):
                    emit(snap)
            except (sqlite3.Error, SchemaError, OSError) as exc:
                self.errors += 1
                self.last_error = str(exc)
                pid = self.pid
                with contextlib.suppress(OSError):
                    pid = recorder_pid(self.path)
            if pid is None:
                if self._stopped is None:
                    self._stopped = self._newest or time.time()
                    self._gone_at = time.monotonic()
                waited = time.monotonic() - (self._gone_at or 0.0)
                if self.take_over and self.cannot_record is None and waited >= TAKE_OVER_AFTER:
                    return
            else:
                self.pid, self._stopped = pid, None
            await wait_set(stop, self.interval / 2)

    async def _take_over(self, emit: Emit, stop: asyncio.Event) -> bool:
        """Record in-process now that nobody does; False when another viewer was first (then
        follow it) or this one cannot write the database (then say so and follow)."""
        lock = RecorderLock(self.path)
        try:
            lock.acquire()
        except AlreadyRecording as exc:
            self.pid, self._stopped = exc.pid, None
            return False
        except StoreError as exc:
            self._cannot(f"cannot take over: {exc.reason}")
            return False
        except OSError as exc:
            self._cannot(f"cannot take over: {exc.strerror or exc}")
            return False
        recorder = Recorder(self.settings, self.path)
        try:
            await asyncio.to_thread(recorder.open)
        except (OSError, sqlite3.Error, SchemaError, StoreError) as exc:
            lock.release()
            recorder.sampler.close()
            self._cannot(f"cannot take over: {exc}")
            return False
        self.recorder, self.took_over_from = recorder, self.pid
        self.mode, self._stopped = "live", None
        self.notice = f"recorder pid {self.pid} stopped: this dashboard records now"
        recorder.sampler.subscribe(emit)
        try:
            await recorder.run(stop)
        finally:
            lock.release()
        return True

    def _cannot(self, reason: str) -> None:
        self.cannot_record = reason
        self.notice = f"recorder pid {self.pid} stopped; {reason}"


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


def recorded_snapshot(db: Path, budgets: BudgetSettings | None = None) -> Snapshot | None:
    """The newest tick a recorder wrote, with its events and the money on it as the
    recorder's ledger had it (for `status` while a recorder runs); None for an empty history.
    Raises sqlite3.Error or SchemaError where the file cannot be read."""
    found = follow(db, None, month_start_ms())
    if not found.ticks:
        return None
    snap = found.ticks[-1].model_copy(update={"events": tuple(found.events)})
    snap = with_live(snap, read_live(db, recorder_pid(db), 0.0))
    return cost_at(snap, found.usage, budgets)


def choose_source(settings: Settings, db: Path, follow_only: bool = False) -> SnapshotSource:
    """Attach when a recorder owns the database; otherwise record in-process. `follow_only`
    (`serve`'s sessions): always attach, never record or take over, recorder or not."""
    pid = recorder_pid(db)
    if follow_only:
        return AttachedSource(db, settings.interval, pid, settings, take_over=False)
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
    "recorded_snapshot",
]
