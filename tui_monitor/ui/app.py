"""The Textual app, built from explicit parts by `make_app(settings, source, store)`."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.worker import Worker, WorkerState

from ..config import Settings, config_path
from ..errors import AlreadyRecording
from ..models import AgentEvent, Snapshot, TaskBoard
from ..source import AttachedSource, SnapshotSource
from ..store.queries import History
from .columns import AgentStats, needs_input, shown_status
from .commands import MonitorCommands
from .fleet import HostLog, agent_key
from .messages import SnapshotReady, TasksReady
from .monitor import ChartData, Monitor
from .toasts import AlertToasts, Toast, WaitingToasts
from .travel import TimeTravel
from .view import Trend, View

EXPORT_EVENTS = 200
"""Recent events in an `x` export (the event log keeps more; `export events` has them all)."""
FIRST_SCREEN_AFTER = 0.2
"""Seconds after the first screen's paint before `on_first_screen` runs (the console script
turns the garbage collector back on there, and its first collection holds the GIL for tens of
ms: not while the frame is being written)."""
FIRST_SCREEN_LATEST = 3.0
"""... or this long after start, when no snapshot comes (a stuck source)."""
QUIT_WAIT = 5.0
"""Seconds `q` waits for the source to finish (the recorder writes what it holds and closes
the database, so SQLite removes its -wal and -shm, and the socket goes)."""
SOURCE_EVERY = 1.0
"""Seconds between looks at the source's own state (mode, detail, warning) for the header."""


def _css_path() -> Path:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "styles.tcss", here.parent / "styles.tcss"):
        if candidate.exists():
            return candidate
    return here / "styles.tcss"


class MonitorApp(TimeTravel):
    """Owns the source, the latest snapshot and the short in-memory history for sparklines."""

    TITLE = "tui-monitor"
    CSS_PATH = str(_css_path())
    COMMANDS = App.COMMANDS | {MonitorCommands}
    BINDINGS = [
        # Ctrl+C quits, as in htop and k9s (Textual's default only says "press ctrl+q"); in
        # the filter box, with text selected, it copies first (the Input's own binding).
        Binding("q,ctrl+c", "quit", "Quit", id="app.quit", tooltip="Quit tui-monitor"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="List every key"),
        Binding(
            "x", "export", "Export", id="app.export", show=False,
            tooltip="Save the snapshot on screen (live or replayed) as JSON",
        ),
        Binding(
            "ctrl+s", "save_svg", "Screenshot", id="app.screenshot", show=False,
            tooltip="Save an SVG screenshot",
        ),
    ]  # fmt: skip

    def __init__(
        self,
        settings: Settings,
        source: SnapshotSource,
        history: History | None = None,
        *,
        config: Path | None = None,
        utc: bool = False,
        start_at: float | None = None,
        on_first_screen: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.start_at = start_at
        """Epoch seconds to replay from the start (`tui-monitor --at TIME`)."""
        self.settings = settings
        self.source = source
        self.history = history
        """Recorded ticks for the agent screen's lists and time travel (None: no history)."""
        self._on_first_screen = on_first_screen
        self.config_path = config or config_path()
        self.utc = utc
        self.problem: str | None = None
        self._stop = asyncio.Event()
        self.live = View()
        self.replay = None  # time travel's state: travel.py
        self.replay_tick = None
        self.replay_note = None
        self._replay_lock = asyncio.Lock()
        self._shown: Snapshot | None = None
        self._toasts = AlertToasts()
        self._waiting = WaitingToasts()
        self._host_log = HostLog()
        self.away = False
        """Suspended for another host's dashboard (ui/remote.py): no bell meanwhile."""
        self._painted = False
        self._source_worker: Worker[None] | None = None
        self._source_state: tuple[str, str, str] | None = None
        self._noticed: str | None = None

    # What the screens show: the replayed moment while there is one (travel.py), else live.

    @property
    def stats(self) -> dict[str, AgentStats]:
        return self.view.stats

    @property
    def events(self) -> deque[tuple[int, AgentEvent]]:
        return self.view.events

    @property
    def alerts(self) -> dict[tuple[str, str], AgentEvent]:
        return self.view.alerts

    @property
    def tasks(self) -> tuple[TaskBoard, ...]:
        """The task boards on screen: the replayed moment's, or the newest live ones."""
        return self.view.tasks

    def trend(self, what: str) -> Trend:
        return self.view.trend(what)

    def chart_data(self, agent: str | None, metric: str) -> ChartData:
        return self.view.chart_data(agent, metric)

    def clock(self, snap: Snapshot) -> str:
        """The snapshot's time for headers: local time, or UTC when asked (tests, servers)."""
        return f"{snap.ts:%H:%M:%S}Z" if self.utc else f"{snap.ts.astimezone():%H:%M:%S}"

    def on_mount(self) -> None:
        from .screens.dashboard import DashboardScreen

        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))
        self._start_source()  # first: its first tick runs while the screen is composed
        self.push_screen(DashboardScreen())
        self.set_timer(FIRST_SCREEN_LATEST, self._first_screen)
        self.set_interval(SOURCE_EVERY, self._watch_source)

    def _start_source(self) -> None:
        self.source.follow_tasks(self._tasks_changed)
        self._source_worker = self.run_worker(
            self.source.run(self._emit, self._stop),
            name="source",
            group="source",
            exclusive=True,
            exit_on_error=False,
        )

    def _emit(self, snapshot: Snapshot) -> None:
        """Runs on the app's loop for every snapshot, so events and trends miss none of them
        even when the message queue coalesces snapshots for a busy screen."""
        changes = self.live.feed(snapshot)
        if snapshot.hosts:  # a fleet host's change of state: one line in the event log
            self.live.add_events(self._host_log.changes(snapshot), alerts=False)
        now = snapshot.ts.timestamp()
        for toast in [*self._toasts.offer(changes, now), *self._toasts.due(now)]:
            self._alert(toast)
        waiting = {agent_key(a): shown_status(a) for a in snapshot.agents if needs_input(a)}
        for toast in self._waiting.offer(waiting):
            self._alert(toast, "needs input")
        self.post_message(SnapshotReady(snapshot))
        if self.start_at is not None:  # the history is open now: go to the moment asked for
            at, self.start_at = self.start_at, None
            self.run_worker(self.replay_at(at), group="replay", exit_on_error=False)

    def _tasks_changed(self, boards: tuple[TaskBoard, ...]) -> None:
        """A task file moved: the live boards change now, not at the next tick."""
        self.live.push_tasks(boards)
        self.post_message(TasksReady(boards))

    def on_tasks_ready(self, message: TasksReady) -> None:
        if self.replay is None:
            render = getattr(self.screen, "render_tasks", None)
            if render is not None:
                render()

    def _watch_source(self) -> None:
        """What the source says of itself (a recorder stopped or taken over) reaches the
        header even while no snapshot comes, and its notices a toast, once each."""
        source = self.source
        notice = source.notice
        if notice and notice != self._noticed:
            self._noticed = notice
            self.notify(notice, severity="warning", timeout=10, markup=False)
        state = (source.mode, source.detail, source.warning)
        # No screen at all while the app closes (a clean-clone run under load hit it).
        if state != self._source_state and self.screen_stack:
            self._source_state = state
            refresh = getattr(self.screen, "refresh_header", None)
            if refresh is not None:
                # A source's state changes at any moment: the screen may be composing or
                # closing, its header not there (clean-clone runs under load raised
                # NoMatches); the next snapshot's header says it then.
                with contextlib.suppress(NoMatches):
                    refresh()

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
        """Stop the source and let it finish before the app goes: workers still running at
        exit are cancelled mid-cleanup, leaving the socket and the -wal/-shm behind."""
        self._stop.set()
        worker = self._source_worker
        if worker is not None and worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.wait(), QUIT_WAIT)
        self.exit()

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_agent(self, name: str) -> None:
        from .screens.agent import AgentScreen

        self.push_screen(AgentScreen(name))

    def open_remote(self, key: str) -> None:
        """`enter` on another host's agent: that host's dashboard over ssh (ui/remote.py)."""
        from .remote import open_remote

        self.run_worker(open_remote(self, key), group="remote", exclusive=True, exit_on_error=False)

    def open_tasks(self, agent: str | None = None) -> None:
        from .screens.tasks import TasksScreen

        self.push_screen(TasksScreen(agent))

    # -- snapshots ----------------------------------------------------------------------

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        if self.replay is not None:
            # Live ticks keep arriving (into self.live) behind a replayed moment; only the
            # header's "how long ago" moves.
            refresh = getattr(self.screen, "refresh_header", None)
            if refresh is not None:
                # A source's state changes at any moment: the screen may be composing or
                # closing, its header not there (clean-clone runs under load raised
                # NoMatches); the next snapshot's header says it then.
                with contextlib.suppress(NoMatches):
                    refresh()
            return
        self._shown = self.live.snapshot
        # Only the screen on top renders; the others read self.snapshot when they return.
        render = getattr(self.screen, "render_snapshot", None)
        if render is not None and self._shown is not None:
            render(self._shown)
            if not self._painted:
                self._painted = True
                self.call_after_refresh(self.set_timer, FIRST_SCREEN_AFTER, self._first_screen)

    def _first_screen(self) -> None:
        """Run the builder's `on_first_screen` once: after the first paint, or at the latest."""
        callback, self._on_first_screen = self._on_first_screen, None
        if callback is not None:
            callback()

    def _alert(self, toast: Toast, title: str = "alert") -> None:
        cfg = self.settings.alerts
        if cfg.toast:
            self.notify(
                toast.message, title=title, severity=toast.severity, timeout=8, markup=False
            )
        if cfg.bell and toast.firing and not self.away:  # suspended: the terminal is ssh's
            self.bell()

    # -- export -------------------------------------------------------------------------

    def action_export(self) -> None:
        """`x`: the snapshot on screen, with its recent events, firing alerts and open errors,
        as JSON in the working directory."""
        snap = self.snapshot
        if snap is None:
            self.notify("nothing on screen to export yet", timeout=3)
            return
        events = [e for _, e in self.events][-EXPORT_EVENTS:]
        alerts = list(self.alerts.values())
        mode = "replay" if self.replaying else self.source.mode

        db = self._history_path()

        def write(name: str) -> Path:
            from .. import export
            from ..store.rows import to_ms

            errors = []  # open at the moment shown, with their stacks, when there is a history
            if db is not None:
                with export.read_transaction(db) as conn:
                    errors = export.open_errors(conn, to_ms(snap.ts))
            doc = export.snapshot_document(
                snap, events=events, alerts=alerts, errors=errors, source=mode
            )
            return export.write_json(Path.cwd() / name, doc)  # taken: NAME-2.json, ...

        self._save(write, "snapshot", snap.ts, ".json")

    def action_save_svg(self) -> None:
        """`ctrl+s`: the screen as SVG, in the working directory."""
        svg = self.export_screenshot()

        def write(name: str) -> Path:
            from ..export import outfile

            return outfile.write_atomic(Path.cwd() / name, [svg], unique=True)

        self._save(write, "screenshot", self.snapshot.ts if self.snapshot else None, ".svg")

    def _save(
        self, write: Callable[[str], Path], what: str, at: datetime | None, suffix: str
    ) -> None:
        async def save() -> None:
            from ..export import outfile

            name = outfile.default_name(what, at=at, suffix=suffix)
            try:
                path = await asyncio.to_thread(write, name)
            except (OSError, ValueError) as exc:
                message = f"{what} not saved: {exc}"
                self.notify(message, severity="error", timeout=10, markup=False)
                return
            self.notify(f"{what} saved to {path}", title="export", timeout=8, markup=False)

        self.run_worker(save(), group="export", exit_on_error=False)


def _conforms(app: MonitorApp) -> Monitor:
    return app  # mypy checks here that the app gives screens all that `Monitor` promises


def make_app(
    settings: Settings,
    source: SnapshotSource,
    history: History | None = None,
    *,
    config: Path | None = None,
    utc: bool = False,
    start_at: float | None = None,
    on_first_screen: Callable[[], None] | None = None,
) -> MonitorApp:
    """The one way the CLI, the tests and the benchmarks build the app.

    Args:
        settings: the effective configuration.
        source: where snapshots come from (live, attached or scripted).
        history: the database to read for time travel and the agent screen's lists.
        config: the config file's path, shown in help and errors.
        utc: show times in UTC (tests, servers) instead of local time.
        start_at: epoch seconds to open replaying (`--at`).
        on_first_screen: called once, just after the first screen is painted (or after
            FIRST_SCREEN_LATEST seconds with no snapshot).

    Raises:
        ConfigError: the settings' `[keymap]` names an unknown binding, a key no terminal
            sends, or a key another binding of the same screen has.
    """
    if settings.keymap:
        from .keymap import check_keymap

        check_keymap(settings.keymap, config or config_path())
    return MonitorApp(
        settings,
        source,
        history,
        config=config,
        utc=utc,
        start_at=start_at,
        on_first_screen=on_first_screen,
    )
