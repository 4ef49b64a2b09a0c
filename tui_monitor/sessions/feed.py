"""The recorder's sessions task: readers polled in a thread, records into the book, the book
into every tick (rows joined, usage and errors to the history).

Backfill: the first polls read the window (`[sessions] backfill_days`, default since the first
of last month) as fast as the writer takes it: a tick records at most `DRAIN_MAX` usage records
(pricing them runs on the loop), and the readers wait while `WAITING_MAX` are held. The task
starts after the first screen and only reads in threads, so it never delays it; the header
shows the bytes left. Offsets are saved only when everything read is in a tick (`book.idle`):
a crash reads the last bit again, and the keys make that count nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from ..config import Settings
from ..models import AgentSample, ErrorRecord, SessionMeta, SessionsStatus, UsageRecord
from .book import SessionBook
from .join import join
from .reader import SessionReader as Reader
from .records import SessionUsage

T = TypeVar("T")
log = logging.getLogger(__name__)

DRAIN_MAX = 15_000
"""Usage records one tick takes at most: made, priced and counted on the loop at about 15 µs
each (bench/backfill.py), so a backfill tick spends at most ~0.2 s on them."""
WAITING_MAX = 20_000
"""Usage records held in the book before the readers wait for the ticks to take some."""
PROBLEMS = ("too_long", "refused", "state_errors", "bad_lines", "bad_json", "not_object")
"""Reader counters that count a problem with a file (the rest count what went right)."""


def backfill_since(days: int | None, now: datetime | None = None) -> float:
    """Epoch seconds the backfill window starts: `days` ago, else the first of last month
    (local time), so this month's and last month's totals are whole."""
    now = now or datetime.now().astimezone()
    if days is not None:
        return (now - timedelta(days=days)).timestamp()
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (first - timedelta(days=1)).replace(day=1)
    return last_month.timestamp()


class SessionFeed:
    """Owns the book and the readers of one recorder.

    Args:
        settings: `[sessions]`, `exited_linger`.
        open_readers: Makes the readers (called once, in a thread).
        clock: Epoch seconds.
    """

    def __init__(
        self,
        settings: Settings,
        open_readers: Callable[[], Sequence[Reader]],
        *,
        errors_since: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.book = SessionBook(
            errors_since=errors_since, settle=settings.sessions.settle, clock=clock
        )
        self._open = open_readers
        self._clock = clock
        self.readers: Sequence[Reader] = ()
        self.backfill = True
        """True until every reader has read all it was shown once."""
        self.polls = 0
        self._priced = False
        """Whether the built-in prices were loaded (at the first usage record read)."""
        self._room = asyncio.Event()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="tui-monitor-sessions")
        """One thread reads every file: the readers are not thread-safe, and one thread's
        buffers are reused instead of each pool thread keeping its own malloc arena."""
        self._problem: str | None = None

    def join(self, agents: tuple[AgentSample, ...], now: float) -> tuple[AgentSample, ...]:
        return join(
            self.book,
            agents,
            now,
            window=self.settings.sessions.working_window,
            live_window=self.settings.sessions.live_window,
            linger=self.settings.exited_linger,
        )

    def drain(
        self, *, final: bool = False
    ) -> tuple[list[UsageRecord], list[ErrorRecord], tuple[SessionMeta, ...]]:
        usage, errors, metas = self.book.drain(final=final, limit=DRAIN_MAX)
        if self.book.waiting < WAITING_MAX:
            self._room.set()
        return usage, errors, metas

    def status(self) -> SessionsStatus:
        problems = 0
        last = None
        for r in self.readers:
            problems += sum(r.counters.get(k, 0) for k in PROBLEMS)
            last = r.last_problem or last
        return SessionsStatus(
            backfill=self.backfill,
            backlog=sum(r.backlog for r in self.readers),
            sessions=len(self.book.sessions),
            problems=problems,
            last_problem=last,
        )

    async def run(self) -> None:
        """Poll every reader until cancelled. The owner calls `close` afterwards, once the
        last tick has taken what was read (so the offsets saved match the history)."""
        self.readers = await self._in_thread(self._open)
        while True:
            more = False
            for source, reader in enumerate(self.readers):
                while self.book.waiting >= WAITING_MAX:
                    self._room.clear()
                    await self._room.wait()
                records = await self._in_thread(reader.poll)
                if not self._priced and any(isinstance(r, SessionUsage) for r in records):
                    await self._in_thread(_load_prices)  # not on the loop, at the first tick
                    self._priced = True  # that prices one (nor at start: ~7 MB, for nothing
                self.book.add(records, source)  # where no agent writes any sessions)
                more = more or reader.more
            self.polls += 1
            if not more:
                self.backfill = False
            if self.book.idle:
                await self._in_thread(self.save)
            await asyncio.sleep(0 if more else self.settings.sessions.poll_every)

    async def _in_thread(self, fn: Callable[[], T]) -> T:
        return await asyncio.wrap_future(self._thread.submit(fn))

    def save(self) -> None:
        for reader in self.readers:
            try:
                reader.save()
            except OSError as exc:
                log.warning("saving session read offsets failed: %s", exc)

    def close(self) -> None:
        """Save (only when everything read reached a tick) and close the readers."""
        if self.book.idle:
            self.save()
        for reader in self.readers:
            reader.close()
        self._thread.shutdown(wait=True)


def state_path(db: Path) -> Path:
    """Where the readers keep their offsets: beside the database."""
    return db.with_name(db.name + ".sessions")


def _load_prices() -> None:
    """The built-in price table (genai-prices), imported in a thread before the first usage
    record is priced on the loop."""
    from ..cost.builtin import BUILTIN

    BUILTIN.load()
