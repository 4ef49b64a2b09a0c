"""What the dashboard shows, as state: one for live ticks, one rebuilt for a replayed moment.

A `View` is fed snapshots (live: every tick) or built from the history (`replay.frame_at`);
the screens render whichever the app shows, through the same code.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from math import isnan, nan

from ..models import AgentEvent, Snapshot, TaskBoard
from .columns import AgentStats
from .fleet import HostEvent, agent_key, key_label, row_key

TREND_STEP = 5.0
TREND_BUCKETS = 60
"""Sparklines: the last 5 minutes as 60 buckets of 5 s (aligned to the clock), each the
largest value recorded in it; a card folds them into its width."""
EVENTS_KEPT = 1000
CHART_SECONDS = 600.0
"""The dashboard chart shows the last ten minutes (kept in memory, no store reads)."""
MESSAGE_MINUTES = 60
"""The MSGS column counts an agent's events in the current minute and the 59 before it."""


def message_cutoff(now: float) -> float:
    """Epoch seconds from which an event counts in MSGS at `now` (whole minutes, so live
    tallies and the history's count agree)."""
    return (now // 60 - (MESSAGE_MINUTES - 1)) * 60


@dataclass(frozen=True, slots=True)
class Trend:
    """One overview figure over the last minutes, with the range its bars are drawn in."""

    values: tuple[float | None, ...]
    """TREND_BUCKETS values, oldest first; None where nothing was recorded."""
    low: float
    high: float


@dataclass
class Point:
    ts: float
    cpu: float | None
    mem: float
    gpu: float | None
    errors: float
    names: tuple[str, ...]
    """The agents of this tick (their `fleet.agent_key`s); the same tuple object as the
    previous point's when unchanged."""
    values: array[float]
    """CPU %, RAM and GPU memory of each agent in `names`, flat, NaN for None: 600 points of
    50 agents take 0.8 MiB this way, 4.2 MiB as a dict of tuples of floats."""

    def agent(self, name: str, index: int) -> float | None:
        try:
            v = self.values[self.names.index(name) * 3 + index]
        except ValueError:
            return None
        return None if isnan(v) else v


def point_of(snap: Snapshot, previous: Point | None = None) -> Point:
    h = snap.host
    util = [g.gpu_utilization for g in snap.gpu.gpus if g.gpu_utilization is not None]
    names = tuple(agent_key(a) for a in snap.agents)
    if previous is not None and previous.names == names:
        names = previous.names  # one tuple shared by all the points
    values = array(
        "d",
        [
            nan if v is None else float(v)
            for a in snap.agents
            for v in (a.cpu_utilization, a.ram_used, a.gpu_memory_used)
        ],
    )
    return Point(
        ts=snap.ts.timestamp(),
        cpu=h.cpu_utilization,
        mem=float(h.ram_used),
        gpu=sum(util) / len(util) if util else None,
        errors=float(sum(a.errors for a in snap.agents)),
        names=names,
        values=values,
    )


def assigned_counts(boards: Iterable[TaskBoard]) -> dict[str, int]:
    """Tasks in an assigned column per agent name, over every board (the TASKS column)."""
    counts: dict[str, int] = {}
    for board in boards:
        for card in board.cards:
            if card.column == "assigned" and card.agent:
                counts[card.agent] = counts.get(card.agent, 0) + 1
    return counts


@dataclass
class _Tally:
    minutes: deque[list[int]] = field(default_factory=deque)
    """[minute number, events, error events], oldest first."""
    last: float | None = None


class View:
    """The latest snapshot, the recent events, per-agent tallies, alerts and chart points."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.events: deque[tuple[int, AgentEvent]] = deque(maxlen=EVENTS_KEPT)
        """Recent events, numbered, so a screen that was covered can catch up."""
        self.event_no = 0
        self.alerts: dict[tuple[str, str], AgentEvent] = {}
        """Firing alerts by (rule, subject), from the alert events."""
        self.points: deque[Point] = deque()
        self._tallies: dict[str, _Tally] = {}
        self._stats: dict[str, AgentStats] | None = None
        self._pushed_tasks: tuple[TaskBoard, ...] = ()
        """Boards the watcher pushed between ticks (newer than the snapshot's, or not)."""

    # -- feeding ------------------------------------------------------------------------

    def feed(self, snap: Snapshot) -> list[AgentEvent]:
        """Take one tick; returns its alert events (the app toasts them)."""
        alerts = self.add_events(snap.events)
        self.snapshot = snap
        self.add_point(point_of(snap, self.points[-1] if self.points else None))
        self._stats = None
        return alerts

    def add_events(self, events: Iterable[AgentEvent], alerts: bool = True) -> list[AgentEvent]:
        """Number, tally and keep events; fold the alert changes among them unless told not
        to (a replayed moment folds the whole day's)."""
        changes: list[AgentEvent] = []
        for e in events:
            if alerts and e.kind == "alert":
                self.fold_alert(e)
                changes.append(e)
            self.event_no += 1
            self.events.append((self.event_no, e))
            self._tally(e)
        self._stats = None
        return changes

    def fold_alert(self, e: AgentEvent) -> None:
        key = (str(e.data.get("rule", "")), str(e.data.get("subject", "")))
        if e.data.get("state") == "firing":
            self.alerts[key] = e
        else:
            self.alerts.pop(key, None)

    def _tally(self, e: AgentEvent) -> None:
        if isinstance(e, HostEvent):  # a fleet host's change of state: no agent's message
            return
        ts = e.ts.timestamp()
        t = self._tallies.get(e.agent)
        if t is None:
            t = self._tallies[e.agent] = _Tally()
        minute = int(ts // 60)
        error = 1 if e.level in ("error", "critical") else 0
        if t.minutes and t.minutes[-1][0] == minute:
            t.minutes[-1][1] += 1
            t.minutes[-1][2] += error
        else:
            t.minutes.append([minute, 1, error])
            while len(t.minutes) > MESSAGE_MINUTES * 2:  # stamps out of order: stay bounded
                t.minutes.popleft()
        t.last = ts if t.last is None else max(t.last, ts)

    def set_stats(self, counts: Mapping[str, tuple[int, int, float | None]], now: float) -> None:
        """Tallies from the history: agent -> (events since `message_cutoff(now)`, error
        events among them, last event's epoch s)."""
        minute = int(now // 60)
        self._tallies = {
            name: _Tally(deque([[minute, n, errors]]) if n else deque(), last)
            for name, (n, errors, last) in counts.items()
        }
        self._stats = None

    def add_point(self, point: Point) -> None:
        self.points.append(point)
        while self.points and point.ts - self.points[0].ts > CHART_SECONDS:
            self.points.popleft()

    def push_tasks(self, boards: tuple[TaskBoard, ...]) -> None:
        """Boards that changed between ticks (the live watcher): shown at once."""
        self._pushed_tasks = boards
        self._stats = None

    # -- reading ------------------------------------------------------------------------

    @property
    def tasks(self) -> tuple[TaskBoard, ...]:
        """The task boards: the snapshot's, or the watcher's when they are newer."""
        snap = () if self.snapshot is None else self.snapshot.tasks
        pushed = self._pushed_tasks
        if pushed and max(b.version for b in pushed) > max((b.version for b in snap), default=-1):
            return pushed
        return snap

    @property
    def stats(self) -> dict[str, AgentStats]:
        """Per agent key (this machine's agents: the events and task boards are ours):
        events in the last hour (whole minutes), error events, last event."""
        if self._stats is None:
            now = self.snapshot.ts.timestamp() if self.snapshot is not None else 0.0
            first = int(message_cutoff(now) // 60)
            stats: dict[str, AgentStats] = {}
            working = assigned_counts(self.tasks)
            for name, t in self._tallies.items():
                while t.minutes and t.minutes[0][0] < first:
                    t.minutes.popleft()
                counted = [m for m in t.minutes if m[0] >= first]
                stats[row_key(None, name)] = AgentStats(
                    messages=sum(m[1] for m in counted),
                    errors=sum(m[2] for m in counted),
                    last_event=t.last,
                    tasks=working.pop(name, 0),
                )
            for name, n in working.items():  # agents with work and no events
                stats[row_key(None, name)] = AgentStats(tasks=n)
            self._stats = stats
        return self._stats

    def trend(self, what: str) -> Trend:
        """The last 5 minutes of one overview figure, for a card's sparkline, in a range that
        means something: CPU and GPU 0-100 %, memory 0-total, counts from 0."""
        buckets: list[float | None] = [None] * TREND_BUCKETS
        if self.points:
            last = int(self.points[-1].ts // TREND_STEP)
            for p in reversed(self.points):
                i = TREND_BUCKETS - 1 - (last - int(p.ts // TREND_STEP))
                if i < 0:
                    break
                value = float(len(p.names)) if what == "agents" else getattr(p, what)
                if value is not None:
                    old = buckets[i]
                    buckets[i] = value if old is None else max(old, value)
        values = tuple(buckets)
        if what in ("cpu", "gpu"):
            return Trend(values, 0.0, 100.0)
        if what == "mem" and self.snapshot is not None:
            return Trend(values, 0.0, float(self.snapshot.host.ram_total) or 1.0)
        return Trend(values, 0.0, max([1.0, *(v for v in values if v is not None)]))

    def chart_data(
        self, agent: str | None, metric: str
    ) -> tuple[str, list[float], dict[str, list[float | None]], str, float | None]:
        """(title, seconds ago, lines, unit, y max) for the dashboard chart."""
        points = list(self.points)
        now = points[-1].ts if points else 0.0
        xs = [now - p.ts for p in points]
        index = {"cpu": 0, "mem": 1, "gpu": 2}[metric]
        if agent is None:
            values = [(p.cpu, p.mem, p.gpu)[index] for p in points]
            subject = "host"
        else:
            values = [p.agent(agent, index) for p in points]
            subject = key_label(agent, 128)
        if metric == "cpu":
            unit, ymax = "%", None if agent is not None else 100.0
            title = f"{subject} CPU %"
        elif metric == "gpu" and agent is None:  # the host's GPU figure is utilisation
            unit, ymax = "%", 100.0
            title = "host GPU %"
        else:
            values = [None if v is None else v / 2**20 for v in values]
            unit, ymax = "MiB", None
            if agent is None and self.snapshot is not None:  # the host's: out of all it has
                ymax = self.snapshot.host.ram_total / 2**20
            title = f"{subject} {'memory' if metric == 'mem' else 'GPU memory'} MiB"
        return title, xs, {metric: values}, unit, ymax
