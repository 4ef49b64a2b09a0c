"""Every long text is readable in full by keyboard (issue 13 items 19 and 20): cut cells and
log lines say so with `…`, detail panes wrap, `enter` shows an event or an error in full."""

from __future__ import annotations

from factories import agent, event, fleet, running, screen_text, snapshot, table, wait_until
from textual.pilot import Pilot

from tui_monitor.models import AgentEvent
from tui_monitor.ui.app import MonitorApp
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.screens.dashboard import DashboardScreen
from tui_monitor.ui.screens.events import EventsScreen
from tui_monitor.ui.widgets.event_log import EventLog

LONG = " ".join(f"word{i:03d}" for i in range(60))  # 479 characters, no two alike
COMMAND = "python -m planner --config /srv/planner/config.toml " + LONG
STACK = 'Traceback (most recent call last):\n  File "planner.py", line 9\nKeyError: "plan"'


def unboxed(app: MonitorApp) -> str:
    """The screen's text with borders and line breaks gone, so wrapped text reads as one."""
    lines = screen_text(app).splitlines()
    return "".join(line.strip("│╭╮╰╯─ ").strip() + " " for line in lines)


async def open_log(pilot: Pilot[None], app: MonitorApp) -> EventsScreen:
    log = app.screen.query_one(EventLog)
    log.focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen), what="events")
    assert isinstance(app.screen, EventsScreen)
    return app.screen


async def test_log_lines_are_cut_with_an_ellipsis_and_enter_shows_them_in_full() -> None:
    events = [
        event("planner", "note", "short one", ts=-2),
        event("planner", "plan", LONG, level="warning", ts=-1),
    ]
    async with running([snapshot(1, fleet(), events)]) as (app, _, pilot):
        log = app.screen.query_one(EventLog)
        await wait_until(pilot, lambda: len(log.lines) == 2, what="two lines")
        width = log.scrollable_content_region.width
        last = log.lines[-1].text.rstrip()
        assert last.endswith("…") and len(last) <= width
        assert log.virtual_size.width <= width  # nothing to scroll sideways
        screen = await open_log(pilot, app)
        assert [e.message for e in screen.events] == ["short one", LONG]
        await wait_until(pilot, lambda: LONG in unboxed(app), what="the whole message")
        await pilot.press("up")  # the list: the other event's detail
        await wait_until(pilot, lambda: LONG not in unboxed(app), what="the first event")
        assert "short one" in unboxed(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="back")


async def test_a_log_line_follows_the_width() -> None:
    async with running([snapshot(1, fleet(), [event("planner", "plan", LONG)])]) as (
        app,
        _,
        pilot,
    ):
        log = app.screen.query_one(EventLog)
        await wait_until(pilot, lambda: len(log.lines) == 1)
        before = len(log.lines[0].text.rstrip())
        await pilot.resize_terminal(200, 40)
        await wait_until(
            pilot, lambda: len(log.lines[0].text.rstrip()) > before, what="a longer line"
        )
        assert log.lines[0].text.rstrip().endswith("…")


async def test_the_event_view_shows_an_error_events_stack() -> None:
    error = AgentEvent(
        ts=event("planner").ts,
        agent="planner",
        kind="error",
        level="error",
        message="KeyError: plan",
        data={"error_type": "KeyError", "stack": STACK},
    )
    async with running([snapshot(1, fleet(), [error])]) as (app, _, pilot):
        await wait_until(pilot, lambda: len(app.screen.query_one(EventLog).lines) == 1)
        await open_log(pilot, app)
        text = screen_text(app)
        await wait_until(pilot, lambda: 'KeyError: "plan"' in screen_text(app), what="stack")
        text = screen_text(app)
        assert 'File "planner.py", line 9' in text and "error_type" in text


async def test_agent_details_wrap_the_command_and_the_task() -> None:
    planner = agent("planner", cmdline=COMMAND).model_copy(update={"task": "task: " + LONG})
    async with running([snapshot(1, [planner])]) as (app, _, pilot):
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent")
        await wait_until(pilot, lambda: "word059" in unboxed(app), what="the end of the task")
        text = unboxed(app)
        for i in range(0, 60, 7):  # folded at the pane's edge: every word is there
            assert f"word{i:03d}" in text
        # The rest by keyboard: tab to the details pane, then scroll it.
        pane = app.screen.query_one("#agent-left")
        for _ in range(5):
            if app.focused is pane:
                break
            await pilot.press("tab")
        assert app.focused is pane
        await pilot.press("end")
        await wait_until(pilot, lambda: "config.toml word000" in unboxed(app), what="the command")
        assert "word059" in unboxed(app).split("config.toml word000", 1)[1]


async def test_a_status_cut_by_its_column_says_so() -> None:
    reported = agent("planner").model_copy(update={"reported": "waiting for sign-in"})
    async with running([snapshot(1, [reported])], (80, 24)) as (app, _, pilot):
        await wait_until(pilot, lambda: table(app).row_count == 1)
        row = next(line for line in screen_text(app).splitlines() if "planner" in line)
        assert "waiting…" in row
