"""Between the transports and the sampler: lines in, per-agent state and records out.

Transports (socket, spool files) hand every line to `IngestHub.receive`, which validates it
and folds it in: heartbeats and registrations update what we know of the agent, events,
errors and usage wait for the next tick. The sampler takes them with `drain` and writes them
with that tick, in the same transaction, so a crash never keeps half of what a tick saw.
The waiting records are bounded: once `limit` are pending, `room()` blocks the transports
(they stop reading, so the senders wait) until the next tick takes them. Nothing is dropped.

Acknowledgements: every accepted message gets a number, in order. `drain(seq)` remembers which
numbers went into tick `seq`; the recorder reports each committed (or given up) run of ticks,
and a message that asked for `"ack": "stored"` gets its future resolved then: None once the
tick holding it is committed, else why it never will be.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

from ..models import (
    AgentEvent,
    AgentSample,
    AgentStatus,
    ErrorRecord,
    IngestStats,
    UsageRecord,
)
from ..store.schema import LEVEL_CODES, LEVEL_NAMES
from .protocol import Error, Event, Heartbeat, Register, Rejected, Usage, parse

log = logging.getLogger(__name__)
_STATUSES = set(get_args(AgentStatus))


@dataclass
class Reported:
    """What one agent told us about itself."""

    kind: str | None = None
    pid: int | None = None
    pid_since: float = 0.0
    """Receive time (our clock) of the first message with this pid: a process that started
    after it is not the agent's, but one that reused the pid."""
    labels: dict[str, str] = field(default_factory=dict)
    status: str | None = None
    task: str | None = None
    queue_depth: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    heartbeat: float | None = None
    """Receive time (our clock) of the last heartbeat: staleness never depends on theirs."""
    last_seen: float = 0.0


EventRow = tuple[int, str, str, int, str, str | None]
"""An event as the events table holds it: ts ms, agent, kind, level code, message, data JSON.
A flood waits in this form (~0.4 KB an event; as AgentEvent models it was ~1.6 KB)."""
SHOWN = 200
"""Of the events a tick takes, the newest this many become AgentEvents for the screens."""


@dataclass
class Drained:
    events: list[AgentEvent]
    """The newest SHOWN events, for the screens (written with the tick's own events)."""
    rows: list[EventRow]
    """The rest, older, straight to the events table."""
    errors: list[ErrorRecord]
    usage: list[UsageRecord]
    count: int
    """Accepted messages since the previous drain (all types)."""


def _event(row: EventRow) -> AgentEvent:
    ms, agent, kind, level, message, data = row
    return AgentEvent.model_construct(
        ts=datetime.fromtimestamp(ms / 1000, UTC),
        agent=agent,
        kind=kind,
        level=LEVEL_NAMES[level],
        message=message,
        data={} if data is None else json.loads(data),
    )


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class IngestHub:
    """Validated messages folded into agent state and pending records; counters for the UI."""

    def __init__(
        self,
        *,
        limit: int = 50_000,
        heartbeat_timeout: float = 30.0,
        timeouts: dict[str, float] | None = None,
        forget_after: float = 300.0,
        clock: Any = time.time,
    ) -> None:
        self.limit = limit
        self.heartbeat_timeout = heartbeat_timeout
        self.timeouts = timeouts or {}
        """Per-agent heartbeat timeouts (from the config's agent rules)."""
        self.forget_after = forget_after
        self._clock = clock
        self.agents: dict[str, Reported] = {}
        self._events: list[EventRow] = []
        self._errors: list[ErrorRecord] = []
        self._usage: list[UsageRecord] = []
        self._count = 0
        self._room = asyncio.Event()
        self._room.set()
        self.received = 0
        self.rejected = 0
        self.stored = 0
        self.refused = 0
        self.connections = 0
        self.last_rejection: str | None = None
        self.listening: str | None = None
        self.spool_problem: str | None = None
        self._crashes: set[type[Exception]] = set()
        self.accepted = 0
        """Messages accepted since start: the number of the newest one."""
        self.not_storing: str | None = None
        """Why nothing is stored (history off): `"ack": "stored"` is answered with it."""
        self._taken = 0
        """The number of the newest message a tick took."""
        self._drains: deque[tuple[int, int, int]] = deque()
        """(tick seq, first, last message number) of ticks not yet committed or given up."""
        self._waiters: list[tuple[int, asyncio.Future[str | None]]] = []
        """Messages waiting for their `"ack": "stored"`, by number (ascending)."""

    # -- transports ---------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._events) + len(self._errors) + len(self._usage)

    @property
    def pending_messages(self) -> int:
        """Accepted messages not yet taken by a tick (heartbeats included)."""
        return self._count

    async def room(self) -> None:
        """Wait until the pending records fit under the limit (the next tick takes them)."""
        while self.pending >= self.limit:
            self._room.clear()
            await self._room.wait()

    def receive(self, line: bytes) -> str | None:
        """Fold one line in; the rejection reason, or None when it was accepted."""
        return self.take(line)[0]

    def take(self, line: bytes) -> tuple[str | None, asyncio.Future[str | None] | None]:
        """Fold one line in: (the rejection reason, or None when it was accepted; for a
        message that asked for `"ack": "stored"`, a future resolved once its fate is known:
        None when it is committed, else the reason it never will be)."""
        self.received += 1
        now = self._clock()
        try:
            msg = parse(line, now)
        except Rejected as exc:
            self.rejected += 1
            self.last_rejection = exc.reason
            return exc.reason, None
        except Exception as exc:  # a parser bug must cost its own line, not the connection
            self.rejected += 1
            reason = self.last_rejection = f"could not read this line ({type(exc).__name__})"
            if type(exc) not in self._crashes:
                self._crashes.add(type(exc))
                log.error("ingest: a line broke the parser", exc_info=True)
            return reason, None
        self._count += 1
        self.accepted += 1
        waiter = None
        if msg.ack == "stored":
            waiter = asyncio.get_running_loop().create_future()
            if self.not_storing is not None:
                waiter.set_result(self.not_storing)
            else:
                self._waiters.append((self.accepted, waiter))
        name = msg.agent
        state = self.agents.get(name)
        if state is None:
            state = self.agents[name] = Reported()
        state.last_seen = now
        if msg.pid is not None and msg.pid != state.pid:
            state.pid, state.pid_since = msg.pid, now
        ms = int(msg.epoch * 1000)
        if isinstance(msg, Event):
            data = json.dumps(msg.data, ensure_ascii=True) if msg.data else None
            self._events.append((ms, name, msg.kind, LEVEL_CODES[msg.level], msg.message, data))
        elif isinstance(msg, Heartbeat):
            state.heartbeat = now
            state.status = msg.status if msg.status is not None else state.status
            state.task = msg.task if msg.task is not None else state.task
            state.queue_depth = msg.queue_depth
            state.metrics = dict(msg.metrics)
        elif isinstance(msg, Error):
            ts = _dt(msg.epoch)
            self._errors.append(
                ErrorRecord.model_construct(
                    ts=ts,
                    agent=name,
                    error_type=msg.error_type,
                    message=msg.message,
                    stack=msg.stack,
                )
            )
            text = f"{msg.error_type}: {msg.message}" if msg.message else msg.error_type
            # The event carries what the error is, so the event view and `export events`
            # show its type and stack without a join to the errors table.
            found = {"error_type": msg.error_type, "stack": msg.stack}
            data = json.dumps({k: v for k, v in found.items() if v is not None})
            self._events.append((ms, name, "error", LEVEL_CODES["error"], text, data))
        elif isinstance(msg, Usage):
            self._usage.append(
                UsageRecord.model_construct(
                    ts=_dt(msg.epoch),
                    agent=name,
                    model=msg.model,
                    input_tokens=msg.input_tokens,
                    output_tokens=msg.output_tokens,
                    cache_read_tokens=msg.cache_read_tokens,
                    cache_write_tokens=msg.cache_write_tokens,
                    cache_write_1h_tokens=msg.cache_write_1h_tokens,
                    cost_usd=msg.cost_usd,
                    request_id=msg.request_id,
                )
            )
        elif isinstance(msg, Register):
            state.kind = msg.kind or state.kind
            state.labels = dict(msg.labels)
            what = ", ".join(
                f"{k} {v}" for k, v in (("kind", msg.kind), ("pid", msg.pid)) if v is not None
            )
            self._events.append((ms, name, "registered", LEVEL_CODES["info"], what, None))
        return None, waiter

    # -- the sampler's side -------------------------------------------------------------

    def drain(self, seq: int | None = None) -> Drained:
        """Everything accepted since the last call, handed to the tick being built (its
        sampler `seq`, so `committed` can tell which messages are stored)."""
        if seq is not None and self.accepted > self._taken and self.not_storing is None:
            self._drains.append((seq, self._taken + 1, self.accepted))
        self._taken = self.accepted
        rows = self._events
        shown = [_event(r) for r in rows[-SHOWN:]]
        out = Drained(shown, rows[:-SHOWN], self._errors, self._usage, self._count)
        self._events, self._errors, self._usage, self._count = [], [], [], 0
        self._room.set()
        return out

    def committed(self, reported: int, through_seq: int | None = None) -> None:
        """The writer committed ticks holding this many accepted messages, up to tick
        `through_seq` (the ticks before it are all written, or were given up already)."""
        self.stored += reported
        if through_seq is not None:
            self._settle(through_seq, None)

    def lost(self, through_seq: int, reason: str) -> None:
        """Ticks up to `through_seq` will never be written: their messages are not stored."""
        self._settle(through_seq, f"not stored: {reason}")

    def forget(self, seq: int, reason: str) -> None:
        """Tick `seq` failed after it took its messages: they will never be written."""
        for i, (drained, first, last) in enumerate(self._drains):
            if drained == seq:
                del self._drains[i]
                self._resolve(first, last, f"not stored: {reason}")
                return

    def abandon(self, reason: str) -> None:
        """The recorder stops: every message still waiting for its commit gets `reason`."""
        waiters, self._waiters = self._waiters, []
        self._drains.clear()
        for _, future in waiters:
            if not future.done():
                future.set_result(reason)

    def _settle(self, through_seq: int, reason: str | None) -> None:
        while self._drains and self._drains[0][0] <= through_seq:
            _, first, last = self._drains.popleft()
            self._resolve(first, last, reason)

    def _resolve(self, first: int, last: int, reason: str | None) -> None:
        lo = bisect.bisect_left(self._waiters, first, key=lambda w: w[0])
        hi = bisect.bisect_right(self._waiters, last, key=lambda w: w[0])
        for _, future in self._waiters[lo:hi]:
            if not future.done():
                future.set_result(reason)
        del self._waiters[lo:hi]

    def stats(self) -> IngestStats:
        return IngestStats(
            received=self.received,
            rejected=self.rejected,
            stored=self.stored,
            refused=self.refused,
            connections=self.connections,
            last_rejection=self.last_rejection,
            listening=self.listening,
        )

    def claims(self) -> dict[str, tuple[int, float]]:
        """Agent -> (pid, since): the processes agents reported as theirs, for the collector
        to measure as those agents."""
        return {n: (s.pid, s.pid_since) for n, s in self.agents.items() if s.pid is not None}

    def stale(self, name: str, state: Reported, now: float) -> bool:
        if state.heartbeat is None:
            return False
        return now - state.heartbeat > self.timeouts.get(name, self.heartbeat_timeout)

    def silent(self, name: str, state: Reported, now: float) -> bool:
        """No heartbeats and no pid to watch, and nothing heard for a heartbeat's timeout:
        such an agent (events only) is idle, never stale (it promised no heartbeats)."""
        if state.heartbeat is not None or state.pid is not None:
            return False
        return now - state.last_seen > self.timeouts.get(name, self.heartbeat_timeout)

    def apply(self, agents: tuple[AgentSample, ...], now: float) -> tuple[AgentSample, ...]:
        """Agents seen as processes, with what they reported; agents known only from what
        they reported, added. No heartbeat within the timeout -> `stale`."""
        out: list[AgentSample] = []
        seen: set[str] = set()
        for a in agents:
            state = self.agents.get(a.name)
            if state is None:
                out.append(a)
                continue
            seen.add(a.name)
            stale = self.stale(a.name, state, now)
            status = "stale" if stale and a.status not in ("exited", "zombie") else a.status
            out.append(a.model_copy(update=self._fields(state, status)))
        for name, state in list(self.agents.items()):
            if name in seen:
                continue
            reported = self._status(name, state, now)
            gone = reported in ("stale", "exited") or self.silent(name, state, now)
            if gone and now - state.last_seen > self.forget_after:
                del self.agents[name]  # silent for long: forgotten, as exited processes are
                continue
            sample = AgentSample(
                name=name,
                kind=state.kind or "reported",
                source="ingest",
                status="running",
                pid=state.pid,
            )
            out.append(sample.model_copy(update=self._fields(state, reported)))
        return tuple(out)

    def _status(self, name: str, state: Reported, now: float) -> str:
        if state.pid is not None and not _pid_alive(state.pid):
            return "exited"
        if self.stale(name, state, now):
            return "stale"
        if self.silent(name, state, now):
            return "idle"
        if state.status is not None and state.status in _STATUSES:
            return state.status
        return "running"

    @staticmethod
    def _fields(state: Reported, status: str) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "status": status,
            "reported": state.status,
            "task": state.task,
            "metrics": state.metrics,
            "heartbeat": state.heartbeat,
        }
        if state.queue_depth is not None:
            fields["queue_depth"] = state.queue_depth
        if state.kind is not None:  # registered: over the rule's, the preset's or "reported"
            fields["kind"] = state.kind
        return fields
