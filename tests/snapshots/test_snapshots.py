"""SVG snapshots of every screen at 80x24 (SSH) and 120x40, from scripted snapshots only.

The header clock is the snapshot's (UTC), the host is `testhost`, uptimes and event ages are
relative to the snapshot time, the agent screen has no store and no real pids: nothing on
screen depends on the machine or the wall clock. Update with `pytest --snapshot-update`.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Awaitable, Callable

import pytest
from factories import (
    build_app,
    event,
    history,
    ready,
    screen_text,
    snapshot,
    step,
    table,
    wait_until,
)
from session_rows import sessions_snapshot
from textual.pilot import Pilot

from tui_monitor.models import SessionsStatus
from tui_monitor.source import ScriptedSource
from tui_monitor.ui.app import MonitorApp
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.screens.help import HelpScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
SnapCompare = Callable[..., bool]
RunBefore = Callable[[Pilot[None]], Awaitable[None]]


def _machine_free(app: MonitorApp) -> None:
    """Nothing of this machine or of today's clock is on the screen."""
    text = screen_text(app)
    real = socket.gethostname()
    if real and real != "testhost":
        assert not re.search(rf"(?<![\w-]){re.escape(real)}(?![\w-])", text), real
    assert "testhost" in text
    assert app.snapshot is not None
    assert app.clock(app.snapshot) in text


def _dashboard(source: ScriptedSource, then: RunBefore | None = None) -> RunBefore:
    """Ten ticks on the dashboard, then the chart redrawn once with all of them."""

    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, MonitorApp)
        await ready(pilot, 1)
        while source.snapshots[-1] is not app.snapshot:
            await step(pilot, source)
        await wait_until(pilot, lambda: table(app).row_count == 8, what="eight rows")
        # The chart redraws at most every few (monotonic) seconds while ticks arrive; cycling
        # its metric all the way round forces one redraw now, with all ten ticks in it.
        await pilot.press("m", "m", "m")
        await pilot.wait_for_scheduled_animations()
        if then is not None:
            await then(pilot)
        _machine_free(app)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Eight agents (running, idle, waiting, stopped, zombie, exited), events of every level."""
    app, source = build_app(history())
    assert snap_compare(app, terminal_size=size, run_before=_dashboard(source))


@pytest.mark.parametrize("size", SIZES)
def test_agent_screen(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """`enter` on the top row (vllm): details, empty tree, chart with no history, its events."""
    app, source = build_app(history())

    async def open_agent(pilot: Pilot[None]) -> None:
        assert table(app).selected == "vllm"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent screen")
        chart = app.screen.query_one("#agent-chart")
        await wait_until(pilot, lambda: "last 5m" in str(chart.border_title), what="chart")
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(app, terminal_size=size, run_before=_dashboard(source, open_agent))


def test_help(snap_compare: SnapCompare) -> None:
    """`?` over the dashboard: every key of the dashboard and of the app."""
    app, source = build_app(history())

    async def open_help(pilot: Pilot[None]) -> None:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(app, terminal_size=(120, 40), run_before=_dashboard(source, open_help))


@pytest.mark.parametrize("size", SIZES)
def test_empty_state(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """No agents: the config path to edit and `tui-monitor demo`."""
    app, _ = build_app([snapshot(1)])

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot, 1)
        await wait_until(pilot, lambda: app.screen.query_one("#empty").display, what="empty")
        await pilot.wait_for_scheduled_animations()
        _machine_free(app)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def _sessions_app() -> tuple[MonitorApp, ScriptedSource]:
    """Two plain agents, Claude Code and Codex processes joined to their sessions (working,
    idle: its turn finished), a session whose process is gone; the header says the readers
    have problems."""
    status = SessionsStatus(backfill=False, sessions=3, problems=2, last_problem="x")
    events = [
        event("claude", "tool_call", "Bash", level="debug", ts=-40),
        event("codex", "turn_ended", "waiting for the user", level="info", ts=-30),
        event("claude:9f8e7d6c", "api_error", "overloaded_error", level="error", ts=-20),
    ]
    snap = sessions_snapshot(1, status=status).model_copy(update={"events": tuple(events)})
    return build_app([snap])


async def _sessions_ready(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, MonitorApp)
    await ready(pilot, 1)
    await wait_until(pilot, lambda: table(app).row_count == 5, what="five rows")
    await pilot.press("m", "m", "m")
    await pilot.wait_for_scheduled_animations()


def test_dashboard_with_sessions(snap_compare: SnapCompare) -> None:
    """MODEL and TOKENS on the joined rows, `~working` and `~idle` (inferred), a cost with
    no price `unknown`, a row with no process in dashes, `sessions: 2 problems` in the header."""
    app, _ = _sessions_app()

    async def run_before(pilot: Pilot[None]) -> None:
        await _sessions_ready(pilot)
        _machine_free(app)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_agent_screen_session(snap_compare: SnapCompare) -> None:
    """`enter` on the Codex row: its session's rows above its process's."""
    app, _ = _sessions_app()

    async def run_before(pilot: Pilot[None]) -> None:
        await _sessions_ready(pilot)
        t = table(app)
        for _ in range(t.get_row_index("codex") - t.cursor_row):
            await pilot.press("j")
        await wait_until(pilot, lambda: t.selected == "codex", what="codex selected")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent screen")
        chart = app.screen.query_one("#agent-chart")
        await wait_until(pilot, lambda: "last 5m" in str(chart.border_title), what="chart")
        await wait_until(pilot, lambda: "gpt-5-codex" in screen_text(app), what="session")
        await pilot.wait_for_scheduled_animations()
        _machine_free(app)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
