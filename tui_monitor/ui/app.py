"""The Textual app, built from explicit parts by `make_app(settings, source, store)`."""

from __future__ import annotations

import asyncio
from array import array
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from math import isnan, nan
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from .. import safe
from ..config import Settings, config_path
from ..models import AgentEvent, Snapshot
from ..recorder import AlreadyRecording
from ..source import AttachedSource, SnapshotSource
from ..store.queries import History
from .columns import AgentStats
from .commands import MonitorCommands
from .messages import SnapshotReady

TREND_POINTS = 60
TREND_EVERY = 5
"""Sparklines: one point per 5 ticks, so they move (and rewrite their line) every 5 s,
and 60 points cover the last 5 minutes at 1 s ticks."""
EVENTS_KEPT = 1000
CHART_SECONDS = 600.0
"""The dashboard chart shows the last ten minutes (kept in memory, no store reads)."""


def _css_path() -> Path:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "styles.tcss", here.parent / "styles.tcss"):
        if candidate.exists():
            return candidate
    return here / "styles.tcss"


@dataclass
class _Point:
    ts: float
    cpu: float | None
    mem: float
    gpu: float | None
    errors: float
    names: tuple[str, ...]
    """The agents of this tick; the same tuple object as the previous point's when unchanged."""
    values: array[float]
    """CPU %, RAM and GPU memory of each agent in `names`, flat, NaN for None: 600 points of
    50 agents take 0.8 MiB this way, 4.2 MiB as a dict of tuples of floats."""

    def agent(self, name: str, index: int) -> float | None:
        try:
            v = self.values[self.names.index(name) * 3 + index]
        except ValueError:
            return None
        return None if isnan(v) else v


class MonitorApp(App[None]):
    """Owns the source, the latest snapshot and the short in-memory history for sparklines."""

    TITLE = "tui-monitor"
    CSS_PATH = str(_css_path())
    COMMANDS = App.COMMANDS | {MonitorCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit tui-monitor"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="List every key"),
    ]

    def __init__(
        self,
        settings: Settings,
        source: SnapshotSource,
        store: History | None = None,
        *,
        config: Path | None = None,
        utc: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.source = source
        self.store = store
        self.config_path = config or config_path()
        self.utc = utc
        self.snapshot: Snapshot | None = None
        self.stats: dict[str, AgentStats] = {}
        self.events: deque[tuple[int, AgentEvent]] = deque(maxlen=EVENTS_KEPT)
        """Recent events, numbered, so a screen that was covered can catch up."""
        self._event_no = 0
        self.problem: str | None = None
        self._points: deque[_Point] = deque()
        self._trend: deque[_Point] = deque(maxlen=TREND_POINTS)
        self._received = 0
        self._stop = asyncio.Event()
        self.alerts: dict[tuple[str, str], AgentEvent] = {}
        """Firing alerts by (rule, subject), from the alert events: the same in every mode."""

    def clock(self, snap: Snapshot) -> str:
        """The snapshot's time for headers: local time, or UTC when asked (tests, servers)."""
        return f"{snap.ts:%H:%M:%S}Z" if self.utc else f"{snap.ts.astimezone():%H:%M:%S}"

    def on_mount(self) -> None:
        from .screens.dashboard import DashboardScreen

        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))
        self._start_source()  # first: its first tick runs while the screen is composed
        self.push_screen(DashboardScreen())

    def _start_source(self) -> None:
        self.run_worker(
            self.source.run(self._emit, self._stop),
            name="source",
            group="source",
            exclusive=True,
            exit_on_error=False,
        )

    def _emit(self, snapshot: Snapshot) -> None:
        """Runs on the app's loop for every snapshot, so events and trends miss none of them
        even when the message queue coalesces snapshots for a busy screen."""
        self._count_events(snapshot)
        self._remember(snapshot)
        self.post_message(SnapshotReady(snapshot))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failing source becomes a visible state, never a traceback."""
        if event.worker.group != "source" or event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, AlreadyRecording) and self.source.db is not None:
            # A recorder started between our check and our lock: follow it instead.
            self.source = AttachedSource(
                self.source.db, self.settings.interval, error.pid, self.settings
            )
            self._start_source()
            return
        self.problem = f"source stopped: {type(error).__name__}: {error}"
        self.notify(self.problem, severity="error", timeout=30, markup=False)

    async def action_quit(self) -> None:
        self._stop.set()
        self.exit()

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_agent(self, name: str) -> None:
        from .screens.agent import AgentScreen

        self.push_screen(AgentScreen(name))

    # -- snapshots ----------------------------------------------------------------------

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        snap = message.snapshot
        self.snapshot = snap
        # Only the screen on top renders; the others read self.snapshot when they return.
        render = getattr(self.screen, "render_snapshot", None)
        if render is not None:
            render(snap)

    def _count_events(self, snap: Snapshot) -> None:
        for e in snap.events:
            if e.kind == "alert":
                self._alert(e)
            self._event_no += 1
            self.events.append((self._event_no, e))
            old = self.stats.get(e.agent, AgentStats())
            self.stats[e.agent] = AgentStats(
                messages=old.messages + 1,
                errors=old.errors + (1 if e.level in ("error", "critical") else 0),
                last_event=e.ts.timestamp(),
            )

    def _alert(self, e: AgentEvent) -> None:
        key = (str(e.data.get("rule", "")), str(e.data.get("subject", "")))
        firing = e.data.get("state") == "firing"
        if firing:
            self.alerts[key] = e
        else:
            self.alerts.pop(key, None)
        cfg = self.settings.alerts
        if cfg.toast:
            severity: SeverityLevel = "information"
            if firing:
                severity = "error" if e.level == "critical" else "warning"
            message = safe.clean(e.message, 300)
            self.notify(message, title="alert", severity=severity, timeout=8, markup=False)
        if cfg.bell and firing:
            self.bell()

    def _remember(self, snap: Snapshot) -> None:
        h = snap.host
        util = [g.gpu_utilization for g in snap.gpu.gpus if g.gpu_utilization is not None]
        names = tuple(a.name for a in snap.agents)
        if self._points and self._points[-1].names == names:
            names = self._points[-1].names  # one tuple shared by all the points
        values = array(
            "d",
            [
                nan if v is None else float(v)
                for a in snap.agents
                for v in (a.cpu_utilization, a.ram_used, a.gpu_memory_used)
            ],
        )
        point = _Point(
            ts=snap.ts.timestamp(),
            cpu=h.cpu_utilization,
            mem=float(h.ram_used),
            gpu=sum(util) / len(util) if util else None,
            errors=float(sum(a.errors for a in snap.agents)),
            names=names,
            values=values,
        )
        self._points.append(point)
        if self._received % TREND_EVERY == 0:
            self._trend.append(point)
        self._received += 1
        while self._points and point.ts - self._points[0].ts > CHART_SECONDS:
            self._points.popleft()

    def trend(self, what: str) -> list[float]:
        """The last minutes of one overview figure, for a card's sparkline."""
        recent = list(self._trend)
        if what == "agents":
            return [float(len(p.names)) for p in recent]
        values: Sequence[float | None] = [getattr(p, what) for p in recent]
        return [v for v in values if v is not None]

    def chart_data(
        self, agent: str | None, metric: str
    ) -> tuple[str, list[float], dict[str, list[float | None]], str, float | None]:
        """(title, seconds ago, lines, unit, y max) for the dashboard chart."""
        points = list(self._points)
        now = points[-1].ts if points else 0.0
        xs = [now - p.ts for p in points]
        index = {"cpu": 0, "mem": 1, "gpu": 2}[metric]
        if agent is None:
            values = [(p.cpu, p.mem, p.gpu)[index] for p in points]
            subject = "host"
        else:
            values = [p.agent(agent, index) for p in points]
            subject = agent
        if metric == "cpu":
            unit, ymax = "%", None if agent is not None else 100.0
            title = f"{subject} CPU %"
        else:
            values = [None if v is None else v / 2**20 for v in values]
            unit, ymax = "MiB", None
            title = f"{subject} {'memory' if metric == 'mem' else 'GPU memory'} MiB"
        return title, xs, {metric: values}, unit, ymax


def make_app(
    settings: Settings,
    source: SnapshotSource,
    store: History | None = None,
    *,
    config: Path | None = None,
    utc: bool = False,
) -> MonitorApp:
    """The one way the CLI, the tests and the benchmarks build the app."""
    return MonitorApp(settings, source, store, config=config, utc=utc)
