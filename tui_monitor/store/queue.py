"""The writer's queue: snapshots in, batches to the Writer in a worker thread, bounded.

Back-pressure, so nothing acknowledged is dropped: a queue full of snapshots makes `put` wait
(the sampler waits); reported records (events, errors, usage) are bounded by `has_room`, which
the sampler asks before taking them from the ingest hub, so while the queue holds
`max_records` they wait in the hub, the hub fills and the senders wait in their writes.

A batch that fails is kept and written again (with backoff) until it goes in: a full disk or
an I/O error passes, and what was queued meanwhile follows it in order. While writes fail,
`problem` says why (the dashboard's header shows it; the log says it once per episode), and a
queue full of snapshots is thinned rather than stopping the sampler: the oldest tick that
carries no reported records is dropped (its heartbeats' state lives on in the next tick), so
the screen keeps moving. A batch that fails for a reason that does not pass (a bug, a damaged
file) is given up after a few tries, reported to `on_lost`, never retried forever.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from ..aio import wait_set
from ..models import Snapshot
from .writer import Batch, Writer

log = logging.getLogger(__name__)
T = TypeVar("T")

OnCommit = Callable[[Batch], None]
OnLost = Callable[[int, str], None]
"""(the sampler seq of the newest tick that will never be written, why)."""

RETRY_MIN = 0.25
RETRY_MAX = 5.0
"""Seconds between tries of a failing batch (doubling): space that returns is used within
this long."""
TRIES = 3
"""Tries of a batch that fails for a reason that does not pass by itself."""
_PASSING = {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_PROTOCOL,
}
"""SQLite's primary result codes of failures that end when the disk, the lock or the
memory comes back."""


def _records(snap: Snapshot) -> int:
    extra = len(snap.event_rows) if snap.event_rows else 0
    return len(snap.events) + extra + len(snap.errors) + len(snap.usage)


def _passes(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _PASSING


def describe(exc: BaseException) -> str:
    """A failure as a short phrase for the header: "disk full" says it best."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF == sqlite3.SQLITE_FULL:
        return "disk full"
    return f"{type(exc).__name__}: {exc}"


class WriteQueue:
    """Bounded queue -> batches -> Writer, flushing every interval or every N rows."""

    def __init__(
        self,
        writer: Writer,
        *,
        flush_interval: float = 1.0,
        flush_rows: int = 5000,
        queue_size: int = 600,
        max_records: int = 30_000,
        on_commit: OnCommit | None = None,
        on_lost: OnLost | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.writer = writer
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self.queue_size = queue_size
        self.max_records = max_records
        self._queue: deque[Snapshot] = deque()
        self._records = 0
        """Events, errors and usage queued or being written: a flood's ticks are large."""
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._closed = asyncio.Event()
        self._on_commit = on_commit
        self._on_lost = on_lost
        self._clock = clock
        self.batches = 0
        self.ticks_written = 0
        self.errors = 0
        self.last_error: str | None = None
        self.failing: str | None = None
        """Why writes fail now (None while they work): "disk full", or the error."""
        self.failing_since: float | None = None
        self.held = 0
        """Ticks of the batch being retried."""
        self.thinned = 0
        """Ticks dropped while writes failed and the queue was full (samples only)."""
        self.lost = 0
        """Ticks given up (a failure that does not pass, or one still there at close)."""

    @property
    def pending(self) -> int:
        return len(self._queue)

    def has_room(self) -> bool:
        """Whether reported records may be added (the sampler leaves them in the hub if not)."""
        return self._records < self.max_records

    @property
    def problem(self) -> str | None:
        """One phrase for the header while writes fail."""
        if self.failing is None:
            return None
        waiting = self.held + len(self._queue)
        return f"{self.failing}: history held in memory ({waiting} ticks), retrying"

    async def put(self, snapshot: Snapshot) -> None:
        """Queue a snapshot; waits (back-pressure) while the queue is full of snapshots,
        unless writes are failing and a tick of samples only can be dropped instead."""
        while len(self._queue) >= self.queue_size:
            if self.failing is not None:
                thinned = self._thin(snapshot)
                if thinned is not None:
                    snapshot = thinned
                    break
            self._room.clear()
            await self._room.wait()
        self._records += _records(snapshot)
        self._queue.append(snapshot)
        self._arrived.set()

    def _thin(self, incoming: Snapshot) -> Snapshot | None:
        """Drop the oldest queued tick without records; returns `incoming` (carrying the
        dropped tick's count of reported messages if it was the next one), or None."""
        for i, snap in enumerate(self._queue):
            if _records(snap):
                continue
            del self._queue[i]
            self.thinned += 1
            if snap.reported:  # heartbeats only: the next tick holds their state too
                if i < len(self._queue):
                    later = self._queue[i]
                    self._queue[i] = later.model_copy(
                        update={"reported": later.reported + snap.reported}
                    )
                else:
                    incoming = incoming.model_copy(
                        update={"reported": incoming.reported + snap.reported}
                    )
            return incoming
        return None

    async def close(self) -> None:
        """Ask `run` to write what is queued and return (giving up what cannot be written)."""
        self._closed.set()
        self._arrived.set()

    async def run(self) -> None:
        """Write batches until `close` and an empty queue."""
        while True:
            batch = await self._gather()
            if batch is None:
                return
            if not await self._write(batch):
                self._give_up_queue()
                return

    async def _gather(self) -> list[Snapshot] | None:
        """The next batch: what arrives within a flush interval, up to flush_rows rows."""
        while not self._queue:
            if self._closed.is_set():
                return None
            self._arrived.clear()
            await self._arrived.wait()
        first = self._queue.popleft()
        batch = [first]
        rows = len(first.agents) + _records(first)
        deadline = self._clock() + self.flush_interval
        while rows < self.flush_rows:
            if not self._queue:
                timeout = deadline - self._clock()
                if self._closed.is_set() or timeout <= 0:
                    break
                self._arrived.clear()
                await wait_set(self._arrived, timeout)
                continue
            snap = self._queue.popleft()
            batch.append(snap)
            rows += len(snap.agents) + _records(snap)
        self._room.set()
        return batch

    async def _write(self, batch: list[Snapshot]) -> bool:
        """Write one batch, retrying while it fails; False when closing gave it up."""
        delay = RETRY_MIN
        tries = 0
        while True:
            tries += 1
            closing = self._closed.is_set()
            try:
                done = await asyncio.to_thread(self.writer.write_batch, batch)
            except Exception as exc:  # counted and shown; the recorder keeps sampling
                self._failed(batch, exc)
                if closing:
                    self._give_up(batch, f"stopped while {self.failing}")
                    return False
                if not _passes(exc) and tries >= TRIES:
                    self._give_up(batch, self.last_error or "")
                    return True
                await wait_set(self._closed, delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            self._done(batch, done)
            return True

    def _failed(self, batch: list[Snapshot], exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.held = len(batch)
        if self.failing is None:
            self.failing = describe(exc)
            self.failing_since = self._clock()
            log.error(
                "writing the history failed (%s): holding %d ticks in memory and retrying "
                "until it works",
                self.last_error,
                len(batch) + len(self._queue),
            )
        self._room.set()  # a waiting `put` may thin the queue now

    def _done(self, batch: list[Snapshot], done: Batch) -> None:
        if self.failing is not None:
            took = self._clock() - (self.failing_since or self._clock())
            log.warning(
                "writing the history works again after %.0f s (%s); %d ticks of samples "
                "were thinned meanwhile",
                took,
                self.failing,
                self.thinned,
            )
            self.failing = self.failing_since = None
        self.held = 0
        self._records -= sum(_records(s) for s in batch)
        self._room.set()
        self.batches += 1
        self.ticks_written += done.ticks
        if self._on_commit is not None:
            self._on_commit(done)

    def _give_up(self, batch: list[Snapshot], why: str) -> None:
        reported = sum(s.reported for s in batch)
        self.lost += len(batch)
        self.held = 0
        self._records -= sum(_records(s) for s in batch)
        self._room.set()
        log.error(
            "gave up %d ticks (%d reported messages) that could not be written: %s",
            len(batch),
            reported,
            why,
        )
        if self._on_lost is not None:
            self._on_lost(batch[-1].seq, why)

    def _give_up_queue(self) -> None:
        if self._queue:
            rest = list(self._queue)
            self._queue.clear()
            self._give_up(rest, f"stopped while {self.failing}")

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run other write work (retention) on the writer's connection, between batches."""
        return await asyncio.to_thread(self.writer.run, fn)
