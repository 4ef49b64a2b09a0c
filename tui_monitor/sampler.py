"""The one loop: collect -> Snapshot -> subscribers, every interval, blocking work off the loop."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .aio import wait_set
from .alerts.tick import AlertTick
from .collect.agents import AgentCollector
from .collect.gpu import GpuCollector
from .collect.host import HostCollector
from .config import Settings
from .cost.ledger import budget_levels
from .cost.tick import CostTick
from .ingest.hub import Drained, IngestHub
from .models import (
    AgentEvent,
    AgentSample,
    ErrorRecord,
    GpuStatus,
    HostSample,
    OtlpStatus,
    SessionMeta,
    Snapshot,
    UsageRecord,
)

if TYPE_CHECKING:
    from .sessions.feed import SessionFeed
    from .tasks.watch import TaskWatcher

log = logging.getLogger(__name__)

Subscriber = Callable[[Snapshot], Awaitable[None] | None]
WAKE_MIN = 0.25
"""Seconds at least between ticks when live states wake the sampler (sampler.wake): agents
changing state all the time cost at most four ticks a second, however fast they say it."""
Files = tuple[list[UsageRecord], list[ErrorRecord], tuple[SessionMeta, ...]]
"""What a tick takes from the session files: usage, errors, sessions that changed."""


class Sampler:
    """Owns the collectors and produces one frozen Snapshot per tick."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: HostCollector | None = None,
        gpu: GpuCollector | None = None,
        agents: AgentCollector | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.interval = settings.interval
        self.host = host or HostCollector()
        self.gpu = gpu or GpuCollector(timeout=settings.gpu.timeout, enabled=settings.gpu.enabled)
        self.agents = agents or AgentCollector(settings)
        self._clock = clock
        self._subscribers: list[Subscriber] = []
        self.seq = 0
        self.last: Snapshot | None = None
        self.subscriber_errors = 0
        self.tick_errors = 0
        self.last_error: str | None = None
        self.ticks_skipped = 0
        self._started: float | None = None
        self.ingest: IngestHub | None = None
        """Set by the recorder when agents report in: merged into every tick."""
        self.cost: CostTick | None = None
        """Prices usage and puts the money on each tick (set by the recorder)."""
        self.alerts: AlertTick | None = None
        """Runs the alert rules over each tick, cost included (set by the recorder)."""
        self.unresolved: dict[str, int] = {}
        """Open errors per agent, refreshed from the store by the recorder."""
        self.take_reports: Callable[[], bool] | None = None
        """Whether the writer has room for reported records (set by the recorder); while it
        has none they wait in the ingest hub, which holds its senders back."""
        self.tasks: TaskWatcher | None = None
        """The task boards, their changes and events since the last tick (set by the recorder)."""
        self._sessions: SessionFeed | None = None
        self._woken = asyncio.Event()
        """Real agents' session files: joined to the rows, their usage and errors recorded
        with the tick (set by the recorder)."""
        self.otlp_status: Callable[[], OtlpStatus] | None = None
        """The OTLP receiver's counters, for the header (set by the recorder)."""
        self.final = False
        """The last tick at exit: it takes every session record still settling."""

    @property
    def sessions(self) -> SessionFeed | None:
        """Real agents' sessions (sessions/feed.py), once the recorder opened them."""
        return self._sessions

    @sessions.setter
    def sessions(self, feed: SessionFeed | None) -> None:
        self._sessions = feed
        if feed is not None:
            feed.book.on_change = self.wake

    def wake(self) -> None:
        """Tick now, not at the deadline: an agent's live state changed (a hook said it
        needs input), and the issue's "within a second" must not wait out an interval. At
        most one tick every WAKE_MIN seconds; the rhythm then goes on from that tick."""
        self._woken.set()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call `fn` with every new snapshot; returns a function that unsubscribes."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    async def tick(self, lag: float = 0.0) -> Snapshot:
        """Collect one snapshot now (host and GPU in parallel threads, then agents)."""
        started = self._started = self._clock()
        gpu_status, host = await asyncio.gather(
            asyncio.to_thread(self.gpu.sample), asyncio.to_thread(self.host.sample)
        )
        memory = gpu_status.process_memory if gpu_status.available else None
        claims = self.ingest.claims() if self.ingest is not None else None
        agents, events = await asyncio.to_thread(self.agents.collect, memory, claims)
        self.seq += 1
        now = datetime.now(UTC)
        reported = None
        room = self.take_reports is None or self.take_reports()
        if self.ingest is not None:
            agents = self.ingest.apply(agents, now.timestamp())
            if room:
                reported = self.ingest.drain(self.seq)
        files: Files | None = None
        told: list[AgentEvent] = []
        if self.sessions is not None:
            agents = self.sessions.join(agents, now.timestamp())
            if room:
                files = self.sessions.drain(final=self.final)
                told = self.sessions.book.take_events()
                events = (*events, *told)
        try:
            return await self._finish(
                now, lag, started, host, gpu_status, agents, events, reported, files
            )
        except BaseException as exc:
            if reported is not None and self.ingest is not None:
                # What it took never reaches the writer: no "stored" for it, ever.
                self.ingest.forget(self.seq, f"tick {self.seq} failed: {type(exc).__name__}")
            if files is not None and self.sessions is not None:
                self.sessions.book.undrain(*files, told)  # the next tick takes them
            raise

    async def _finish(
        self,
        now: datetime,
        lag: float,
        started: float,
        host: HostSample,
        gpu_status: GpuStatus,
        agents: tuple[AgentSample, ...],
        events: tuple[AgentEvent, ...],
        reported: Drained | None,
        files: Files | None = None,
    ) -> Snapshot:
        if self.unresolved:
            counts = self.unresolved
            agents = tuple(
                a.model_copy(update={"errors": counts[a.name]}) if a.name in counts else a
                for a in agents
            )
        boards, task_changes, task_events = self.tasks.take() if self.tasks else ((), (), [])
        snapshot = Snapshot(
            seq=self.seq,
            ts=now,
            interval=self.interval,
            lag=round(max(0.0, lag), 4),
            duration=round(self._clock() - started, 4),
            host=host,
            gpu=gpu_status,
            agents=agents,
            events=(*events, *(reported.events if reported else ()), *task_events),
            errors=(*(reported.errors if reported else ()), *(files[1] if files else ())),
            usage=(*(reported.usage if reported else ()), *(files[0] if files else ())),
            reported=reported.count if reported else 0,
            event_rows=reported.rows if reported and reported.rows else None,
            ingest=self.ingest.stats() if self.ingest is not None else None,
            otlp=self.otlp_status() if self.otlp_status is not None else None,
            tasks=boards,
            task_changes=task_changes,
            sessions=self.sessions.status() if self.sessions is not None else None,
            session_changes=files[2] if files else (),
        )
        budgets: list[tuple[str, float]] = []
        if self.cost is not None:
            snapshot, summary = self.cost.apply(snapshot)
            budgets = budget_levels(summary)
        if self.alerts is not None:
            snapshot = self.alerts.apply(snapshot, budgets)
        self.last = snapshot
        await self._publish(snapshot)
        return snapshot

    async def _publish(self, snapshot: Snapshot) -> None:
        for fn in list(self._subscribers):
            try:
                result = fn(snapshot)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # one broken subscriber must not stop the sampler
                self.subscriber_errors += 1
                log.exception("snapshot subscriber %r failed", fn)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Tick every interval on monotonic deadlines until `stop` is set (or cancelled)."""
        stop = stop or asyncio.Event()
        # After a tick taken by hand (the UI's first screen), keep its rhythm.
        deadline = self._clock() if self._started is None else self._started + self.interval
        while not stop.is_set():
            lag = self._clock() - deadline
            if lag > self.interval:  # fell behind by whole ticks: skip, never burst
                skipped = int(lag // self.interval)
                self.ticks_skipped += skipped
                deadline += skipped * self.interval
                lag -= skipped * self.interval
            try:
                await self.tick(lag)
            except Exception as exc:  # counted and shown; the next tick tries again
                self.tick_errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.debug("tick %d failed", self.seq + 1, exc_info=True)
            deadline += self.interval
            delay = deadline - self._clock()
            if delay > 0:
                await self._wait(stop, delay)
                if self._woken.is_set() and not stop.is_set():
                    self._woken.clear()
                    early = (self._started or 0.0) + WAKE_MIN - self._clock()
                    if early > 0:
                        await wait_set(stop, early)
                    deadline = min(deadline, self._clock())

    async def _wait(self, stop: asyncio.Event, delay: float) -> None:
        """Until `stop`, a wake, or `delay` seconds."""
        if self._woken.is_set():
            return
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._woken.wait())]
        try:
            await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def close(self) -> None:
        """Release NVML."""
        self.gpu.close()
