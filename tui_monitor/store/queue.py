"""The writer's queue: snapshots in, batches to the Writer in a worker thread, bounded.

A full queue (in snapshots, or in reported records: a flood's ticks are large) makes `put`
wait, so the sampler waits, the ingest hub fills and the senders wait: nothing is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from ..models import Snapshot
from .writer import Batch, Writer

log = logging.getLogger(__name__)
T = TypeVar("T")


OnCommit = Callable[[Batch], None]


def _records(snap: Snapshot) -> int:
    extra = len(snap.event_rows) if snap.event_rows else 0
    return len(snap.events) + extra + len(snap.errors) + len(snap.usage)


class WriteQueue:
    """Bounded queue -> batches -> Writer, flushing every interval or every N agent rows."""

    def __init__(
        self,
        writer: Writer,
        *,
        flush_interval: float = 1.0,
        flush_rows: int = 5000,
        queue_size: int = 600,
        max_records: int = 30_000,
        on_commit: OnCommit | None = None,
    ) -> None:
        self.writer = writer
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self._queue: asyncio.Queue[Snapshot | None] = asyncio.Queue(queue_size)
        self.max_records = max_records
        self._records = 0
        """Events, errors and usage queued or being written: a flood's ticks are large."""
        self._room = asyncio.Event()
        self._on_commit = on_commit
        self.batches = 0
        self.ticks_written = 0
        self.errors = 0
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def put(self, snapshot: Snapshot) -> None:
        """Queue a snapshot; waits (back-pressure) while the queue is full, in snapshots or in
        reported records. The sampler waits, the ingest hub fills, the senders wait."""
        size = _records(snapshot)
        while self._records and self._records + size > self.max_records:
            self._room.clear()
            await self._room.wait()
        self._records += size
        await self._queue.put(snapshot)

    async def close(self) -> None:
        """Ask `run` to write what is queued and return."""
        await self._queue.put(None)

    async def run(self) -> None:
        """Drain the queue until `close`: a batch per flush interval (or per flush_rows)."""
        closing = False
        while not closing:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            rows = len(first.agents) + _records(first)
            deadline = time.monotonic() + self.flush_interval
            while rows < self.flush_rows:
                timeout = deadline - time.monotonic()
                try:
                    snap = (
                        self._queue.get_nowait()
                        if closing or timeout <= 0
                        else await asyncio.wait_for(self._queue.get(), timeout)
                    )
                except (TimeoutError, asyncio.QueueEmpty):
                    break
                if snap is None:
                    closing = True  # write what we hold (and anything still queued), then stop
                    continue
                batch.append(snap)
                rows += len(snap.agents) + _records(snap)
            try:
                await self._commit(batch)
            finally:
                self._records -= sum(_records(s) for s in batch)
                self._room.set()

    async def _commit(self, batch: list[Snapshot]) -> None:
        try:
            done = await asyncio.to_thread(self.writer.write_batch, batch)
        except sqlite3.Error as exc:  # counted and shown; the recorder keeps sampling
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("writing %d ticks failed: %s", len(batch), exc)
            return
        self.batches += 1
        self.ticks_written += done.ticks
        if self._on_commit is not None:
            self._on_commit(done)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run other write work (retention) on the writer's connection, between batches."""
        return await asyncio.to_thread(self.writer.run, fn)
