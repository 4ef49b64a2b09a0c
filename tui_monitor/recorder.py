"""The headless recorder: sampler -> writer -> SQLite, one per database, crash-safe.

A recorder holds an exclusive `flock` on `<db>.lock` for its whole life. The kernel drops the
lock when the process dies however it dies, so a lock left by `kill -9` is simply taken over
by the next recorder; the pid written into the file only serves the "already recording"
message. A database that fails `quick_check` at start is moved aside with its -wal/-shm and
a new one is started, so a corrupt file never turns into a crash loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .aio import wait_set
from .alerts.tick import AlertTick
from .config import Settings, data_dir
from .cost.budgets import HOUR
from .cost.ledger import DEDUP_CAPACITY, Ledger
from .cost.tick import CostTick, month_start_ms
from .errors import SchemaError, ServerError, StoreError, TailError
from .ingest.hub import IngestHub
from .ingest.protocol import MAX_LINE
from .ingest.server import IngestServer
from .ingest.spool import ensure_spool_dir
from .ingest.tail import Tailer, TailProblem
from .metrics.start import start_metrics
from .models import Snapshot, TaskBoard
from .otlp.start import start_otlp
from .otlp.token import load_token
from .sampler import Sampler
from .store.live import LiveWriter
from .store.queries import History
from .store.queue import WriteQueue
from .store.retention import prune_steps
from .store.schema import LEVEL_NAMES
from .store.writer import Batch, Writer

if TYPE_CHECKING:
    from .metrics.server import MetricsServer
    from .otlp.receiver import OtlpReceiver

T = TypeVar("T")
log = logging.getLogger(__name__)

SPOOL_EVERY = 0.5
"""Seconds between looks at the spool files."""
FINAL_TICK = 1.0
"""Seconds the last tick at exit may take (it waits for room in the writer's queue)."""
ERRORS_EVERY = 2.0
"""Seconds between counts of open errors (a resolve in any viewer shows within this)."""


class Recorder:
    """Sampler feeding the writer until `stop` is set; then flush and close.

    Without a writer (`history_off`: the database cannot be written) it still samples, serves
    the socket and puts money and alerts on every tick; nothing is stored, and a sender that
    asks for `"ack": "stored"` is told so.
    """

    def __init__(
        self,
        settings: Settings,
        db: Path,
        *,
        sampler: Sampler | None = None,
        on_commit: Callable[[Batch], None] | None = None,
        prune: bool = True,
    ) -> None:
        self.settings = settings
        self._prune = prune
        """Run retention (a short import of session files does not)."""
        self.db = db
        self.sampler = sampler or Sampler(settings)
        self._on_commit = on_commit
        self.queue: WriteQueue | None = None
        """Ticks waiting to be written, flushed in batches (set while running)."""
        self.writer: Writer | None = None
        """The database connection that writes the batches (set by `open`)."""
        self.history_off: str | None = None
        """Why nothing is recorded (set by the caller before `run`); None while recording."""
        self.pruned_at: float | None = None
        self.hub: IngestHub | None = None
        self.server: IngestServer | None = None
        self.otlp: OtlpReceiver | None = None
        self.metrics: MetricsServer | None = None
        """/metrics, when `[metrics] listen` is set (metrics/)."""
        self.say: Callable[[str], None] | None = None
        """One-line notices for the person running `record` (where /metrics listens)."""
        self._recount = asyncio.Event()
        self._reads = ThreadPoolExecutor(1, thread_name_prefix="tui-monitor-history")
        """The recorder's own reads of the history (one run's), so shutdown can wait for them."""
        self.task_subscribers: list[Callable[[tuple[TaskBoard, ...]], None]] = []
        """Called with the task boards on every change, between ticks (the live UI)."""

    @property
    def problem(self) -> str | None:
        """What is wrong with the history now, for the header: off, or failing writes."""
        if self.history_off is not None:
            return f"history off: {self.history_off}"
        return self.queue.problem if self.queue is not None else None

    def _committed(self, batch: Batch) -> None:
        if self.hub is not None:
            self.hub.committed(batch.reported, batch.last_seq)
            if batch.reported:
                self._recount.set()  # new errors may be in it: count them now
        if self._on_commit is not None:
            self._on_commit(batch)

    def _lost(self, last_seq: int, why: str) -> None:
        if self.hub is not None:
            self.hub.lost(last_seq, why)

    async def _listen(self) -> None:
        """Agents report in while we record; a socket we cannot serve is shown, not fatal."""
        cfg = self.settings.ingest
        if not cfg.enabled:
            return
        timeouts = {
            r.name: r.heartbeat_timeout for r in self.settings.agents if r.heartbeat_timeout
        }
        hub = self.hub = IngestHub(
            limit=cfg.pending,
            heartbeat_timeout=cfg.heartbeat_timeout,
            timeouts=timeouts,
            forget_after=self.settings.exited_linger,
        )
        if self.history_off is not None:
            hub.not_storing = f"not stored: history is off ({self.history_off})"
        self.sampler.ingest = hub
        server = IngestServer(
            cfg.socket_path(),
            hub,
            max_connections=cfg.max_connections,
            idle_timeout=cfg.idle_timeout,
        )
        try:
            await server.start()
        except ServerError as exc:
            hub.listening = f"not listening: {exc}"
            log.error("ingest socket: %s", exc)
            return
        self.server = server

    def open(self) -> Writer:
        """Open (and migrate) the database now, so its problems surface before recording."""
        if self.writer is None:
            self.writer = Writer(self.db)
        return self.writer

    async def _seed(self, cost: CostTick) -> None:
        """This month's spend from the history, so a restart keeps today's and the month's."""
        if not self.db.exists():
            return
        try:
            await self._read(functools.partial(seed_ledger, History(self.db), cost.ledger))
        except (sqlite3.Error, SchemaError, StoreError) as exc:
            level = logging.ERROR if self.history_off is None else logging.INFO
            log.log(level, "reading this month's usage failed (cost starts at 0): %s", exc)

    async def run(self, stop: asyncio.Event, first: Snapshot | None = None) -> None:
        """Record until `stop`; `first` is a tick already taken (and shown) before the writer
        was open, written ahead of the rest.

        The socket listens first: senders are answered (their records wait in the hub) while
        this month's spend is read, and the sampler starts once the money is right.
        """
        cfg = self.settings.store
        writer: Writer | None = None
        queue: WriteQueue | None = None
        if self.history_off is None:
            writer = self.writer if self.writer is not None else await asyncio.to_thread(self.open)
            queue = self.queue = WriteQueue(
                writer,
                flush_interval=cfg.flush_interval,
                flush_rows=cfg.flush_rows,
                queue_size=cfg.queue_size,
                max_records=self.settings.ingest.pending,
                on_commit=self._committed,
                on_lost=self._lost,
            )
            if first is not None:
                await queue.put(first)
        unsubscribe = self.sampler.subscribe(queue.put) if queue is not None else None
        live = LiveWriter(self.db) if queue is not None else None
        unsubscribe_live = self.sampler.subscribe(live) if live is not None else None
        if queue is not None:
            self.sampler.take_reports = queue.has_room
        cost = self.sampler.cost = CostTick(self.settings.prices, self.settings.budgets)
        alerts = self.sampler.alerts = AlertTick(self.settings.alerts)
        tasks: list[asyncio.Task[None]] = []
        unsubscribe_metrics: Callable[[], None] | None = None
        writing = asyncio.create_task(queue.run(), name="writer") if queue is not None else None
        try:
            await self._listen()
            self.otlp = await start_otlp(self.settings, self.sampler)
            if (mcfg := self.settings.metrics).listen is not None:
                path = mcfg.token_path(data_dir())
                token = (path, functools.partial(load_token, path))
                self.metrics, unsubscribe_metrics = await start_metrics(
                    mcfg, token, self, self.sampler.subscribe, LEVEL_NAMES, self.say
                )
            await self._seed(cost)
            tasks.append(asyncio.create_task(self.sampler.run(stop), name="sampler"))
            if queue is not None and self._prune:
                tasks.append(asyncio.create_task(self._prune_loop(queue), name="retention"))
                tasks.append(asyncio.create_task(self._errors_loop(), name="errors"))
            if self.hub is not None:
                tasks.append(asyncio.create_task(self._tail_loop(self.hub), name="spool"))
            if self.settings.tasks:
                tasks.append(asyncio.create_task(self._watch_tasks(stop), name="tasks"))
            if self.settings.sessions.enabled:
                tasks.append(asyncio.create_task(self._read_sessions(), name="sessions"))
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if unsubscribe_metrics is not None:
                unsubscribe_metrics()
            if self.metrics is not None:
                await self.metrics.close()
            if self.otlp is not None:
                await self.otlp.close()  # what it answered "ok" is in the book: the last tick
            if self.server is not None:
                await self.server.stop_reading()  # replies still waiting for a commit stay
            feed = self.sampler.sessions
            if (self.hub is not None and self.hub.pending_messages) or (
                feed is not None and queue is not None and not feed.book.idle
            ):
                # Answered "ok" (or read from a session file) but not yet in a tick: one last
                # tick takes them to the writer.
                self.sampler.take_reports = None
                self.sampler.final = True
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.sampler.tick(), FINAL_TICK)
            if feed is not None:
                await asyncio.to_thread(feed.close)  # offsets saved once all is in a tick
            if unsubscribe is not None:
                unsubscribe()
            if live is not None and unsubscribe_live is not None:
                unsubscribe_live()
                live.close()
            await alerts.close()
            if queue is not None and writing is not None:
                await queue.close()  # the writer empties its queue, then returns
                await writing
            if self.hub is not None:
                self.hub.abandon("not stored: the recorder stopped before writing it")
            if self.server is not None:
                await self.server.close()
            # Reads still running in their thread (a cancelled task's thread runs on) hold
            # read-only connections: if one closed last, SQLite would leave the -wal behind.
            await asyncio.to_thread(self._reads.shutdown, True)
            if writer is not None:
                await asyncio.to_thread(writer.close)
            self.sampler.close()

    async def _tail_loop(self, hub: IngestHub) -> None:
        """JSONL spool files, read like socket lines. Offsets are saved once the lines are in
        the hub: a crash loses at most the last tick, as it does for samples."""
        cfg = self.settings.ingest
        spool = cfg.spool_path()
        try:
            ensure_spool_dir(spool)
        except TailError as exc:
            log.error("spool directory: %s", exc)
            hub.spool_problem = str(exc)
        state = self.db.with_name(self.db.name + ".spool.json")
        tailer = Tailer([spool], cfg.files, state, max_line=MAX_LINE)
        try:
            while True:
                for item in await asyncio.to_thread(tailer.poll):
                    if isinstance(item, TailProblem):
                        hub.spool_problem = f"{item.source}: {item.reason}"
                        log.warning("spool: %s", hub.spool_problem)
                        continue
                    if hub.pending >= hub.limit:
                        await hub.room()
                    reason = hub.receive(item.data)
                    if reason is not None:
                        hub.last_rejection = f"{item.source}: {reason}"
                await asyncio.to_thread(tailer.save)
                await asyncio.sleep(SPOOL_EVERY)
        finally:
            await asyncio.to_thread(tailer.save)
            tailer.close()

    async def _watch_tasks(self, stop: asyncio.Event) -> None:
        """The task boards: diffed against the stored ones, so a restart reports only what
        changed while nobody watched."""
        from .tasks.watch import TaskWatcher

        try:
            seed = await self._read(History(self.db).task_boards)
        except (sqlite3.Error, SchemaError, StoreError) as exc:
            log.error("reading the stored task boards failed (all tasks count as new): %s", exc)
            seed = {}
        watcher = TaskWatcher(self.settings.tasks, seed)
        for fn in self.task_subscribers:
            watcher.subscribe(fn)
        self.sampler.tasks = watcher
        await watcher.run(stop)

    async def _read_sessions(self) -> None:
        """Real agents' session files: the backfill, then following them (sessions/feed.py,
        started by sessions/start.py)."""
        from .sessions.start import open_feed

        feed = await open_feed(
            self.settings, self.db, history=self.history_off is None, read=self._read
        )
        self.sampler.sessions = feed
        await feed.run()

    async def _read(self, fn: Callable[[], T]) -> T:
        """`fn()` on the history-read thread; its connection is closed before the writer's."""
        return await asyncio.wrap_future(self._reads.submit(fn))

    async def _errors_loop(self) -> None:
        """Open errors per agent for the table: written by us, resolved by any viewer."""
        history = History(self.db)
        while True:
            try:
                self.sampler.unresolved = await self._read(history.unresolved_counts)
            except (sqlite3.Error, SchemaError) as exc:
                log.warning("counting open errors failed: %s", exc)
            await wait_set(self._recount, ERRORS_EVERY)
            self._recount.clear()

    async def _prune_loop(self, queue: WriteQueue) -> None:
        """Retention one small batch per writer call, so recording interleaves with it."""
        retention = self.settings.store.retention
        while True:
            try:
                steps = prune_steps(queue.writer.conn, time.time(), retention)
                step = functools.partial(_next_step, steps)
                while await queue.call(step) is not None:
                    await asyncio.sleep(0)
                self.pruned_at = time.time()
            except Exception as exc:  # any failure costs this pass only, never retention
                log.error("retention pass failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self.settings.store.prune_every)


def seed_ledger(history: History, ledger: Ledger) -> None:
    """The month's usage into the ledger from aggregates (a month of 147k rows took 5.8 s
    row by row, each made a model and priced; see bench/startup.py)."""
    month_ms, day_ms = ledger.periods_ms()
    recent_ms = int((time.time() - HOUR - 60) * 1000)
    totals, recent, seen = history.usage_seed(
        month_ms, day_ms, recent_ms, month_start_ms(), DEDUP_CAPACITY
    )
    ledger.seed(totals, recent, seen)


def _next_step(steps: Iterator[dict[str, int]], _conn: sqlite3.Connection) -> dict[str, int] | None:
    return next(steps, None)


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM, SIGINT and SIGHUP (the terminal went away) end the recorder cleanly: flush,
    close the database (so SQLite removes its -wal and -shm), remove the socket, exit."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
