"""Hostile text (escape sequences, markup, actions, bidi overrides) stays inert on screen.

Agent names, kinds and event texts arrive raw, as a config, a process or an ingest client
gave them, and the UI cleans them itself (names strictly, with `safe.name`).
"""

from __future__ import annotations

import pytest
from factories import agent, event, host, running, screen_text, snapshot, step, table, wait_until
from textual.pilot import Pilot

from tui_monitor import safe
from tui_monitor.models import AgentEvent, AgentSample, Snapshot
from tui_monitor.ui.app import MonitorApp
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.screens.dashboard import DashboardScreen

CLICK = "[@click=app.quit]"
RAW_NAMES = [
    CLICK,
    "evil\x1b[31mred\x1b[0m",
    "[bold]x[/bold]",
    "\u202egnp.exe",
    "bell\x07\x9b2J",
]
"""Names an attacker could give an agent."""
RAW_EVENTS = [
    ("\x1b[2J\x1b[31mscreen wiped", "kind\x1b]0;title\x07"),
    (f"{CLICK}click me", "click"),
    ("[/] unbalanced [bold]x[/bold]", "markup"),
    ("\u202eoverride\u2066isolate\u2069", "bidi"),
    ("line\nbreak\ttab\x00nul\x7fdel", "controls"),
]
SHOWN = [CLICK, "[bold]x[/bold]", "evil\\x1b[31mred", "\\u202egnp.exe", "[/] unbalanced"]
"""What must be visible, literally, once the hostile text is rendered."""


def hostile() -> Snapshot:
    agents: list[AgentSample] = [agent("planner", cpu=99.0)]  # on top: the chart is its
    for i, raw in enumerate(RAW_NAMES):
        agents.append(agent(raw, kind=f"[/]{raw}", cpu=50.0 - i, pid=5000 + i))
    events: list[AgentEvent] = [
        event(CLICK, kind, message, level="warning", ts=-10 + i)
        for i, (message, kind) in enumerate(RAW_EVENTS)
    ]
    # The host name passes safe.text in the header, even where a collector forgot it.
    return snapshot(1, agents, events, host_sample=host(hostname="testhost\x1b[5m[/]"))


def assert_inert(app: MonitorApp) -> None:
    text = screen_text(app)
    assert app.is_running
    for bad in ("\x1b", "\x07", "\x9b", "\x00", "\x7f", "\u202e", "\u2066"):
        assert bad not in text, repr(bad)
        assert bad not in app.export_screenshot(), repr(bad)


def find(text: str, needle: str) -> list[tuple[int, int]]:
    """(x, y) of each occurrence of `needle` in the screen text."""
    return [(line.index(needle), y) for y, line in enumerate(text.splitlines()) if needle in line]


async def test_hostile_text_is_shown_literally_and_never_reaches_the_terminal() -> None:
    async with running([hostile()]) as (app, _, pilot):
        await wait_until(pilot, lambda: table(app).row_count == 1 + len(RAW_NAMES))
        await pilot.pause()
        assert_inert(app)
        text = screen_text(app)
        for literal in SHOWN:
            assert literal in text, literal
        assert "testhost\\x1b[5m[/]" in text
        # In the table and in the event log (the agent column of each event line).
        assert len(find(text, CLICK)) >= 2


async def test_clicking_action_markup_does_nothing() -> None:
    async with running([hostile()]) as (app, _, pilot):
        await wait_until(pilot, lambda: table(app).row_count == 1 + len(RAW_NAMES))
        await pilot.pause()
        spots = find(screen_text(app), CLICK)
        assert spots
        for x, y in spots:
            for dx in (1, len(CLICK) - 2):
                await pilot.click(offset=(x + dx, y))
                await pilot.pause()
                assert app.is_running, (x + dx, y)
                if isinstance(app.screen, AgentScreen):  # a second click on a row opens it
                    await pilot.press("escape")
                    await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.return_code is None
        assert_inert(app)


async def test_the_agent_screen_of_a_hostile_agent() -> None:
    async with running([hostile(), hostile().model_copy(update={"seq": 2})]) as (
        app,
        source,
        pilot,
    ):
        t = table(app)
        await wait_until(pilot, lambda: t.row_count == 1 + len(RAW_NAMES))
        await pilot.press("j")
        await wait_until(pilot, lambda: t.selected == CLICK)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen))
        await step(pilot, source)
        await wait_until(pilot, lambda: "click me" in screen_text(app))
        text = screen_text(app)
        assert f"agent   {CLICK}" in text
        assert "\\x1b[2J\\x1b[31mscreen wiped" in text  # the event, escaped
        assert_inert(app)
        for x, y in find(text, CLICK):
            await pilot.click(offset=(x + 1, y))
            assert app.is_running
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert t.selected == CLICK


async def test_typing_markup_into_the_filter() -> None:
    async with running([hostile()]) as (app, _, pilot):
        await pilot.press("slash", *"x[/")  # invalid regexes: plain text
        await wait_until(pilot, lambda: table(app).visible_names == ["[bold]x[/bold]"])
        await pilot.press("escape", "slash", *"[@click")
        await wait_until(pilot, lambda: table(app).visible_names == [CLICK])
        assert_inert(app)


async def _select(pilot: Pilot[None], name: str) -> None:
    app = pilot.app
    assert isinstance(app, MonitorApp)
    t = table(app)
    for _ in range(t.get_row_index(name)):
        await pilot.press("j")
    await wait_until(pilot, lambda: t.selected == name, what=name)
    await pilot.pause()


BORDER_TITLE = (
    "the chart's border_title is set from an f-string holding the agent name "
    "(DashboardScreen._chart, AgentScreen.load_history); Textual parses a str border_title "
    "as markup"
)


async def test_selecting_an_agent_named_like_a_closing_tag_does_not_crash() -> None:
    snap = snapshot(1, [agent("planner", cpu=9.0), agent(safe.name("[/]"), cpu=1.0)])
    async with running([snap]) as (app, _, pilot):
        await _select(pilot, "[/]")
        assert app.is_running
        assert "[/] CPU %" in screen_text(app)


@pytest.mark.parametrize("name", [CLICK, "[bold]x[/bold]"])
async def test_chart_titles_show_the_agent_name_literally(name: str) -> None:
    snap = snapshot(1, [agent("planner", cpu=9.0), agent(name, cpu=1.0)])
    async with running([snap]) as (app, _, pilot):
        await _select(pilot, name)
        assert f"{name} CPU %" in screen_text(app)  # the dashboard chart
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen))
        chart = app.screen.query_one("#agent-chart")
        await wait_until(pilot, lambda: chart.border_title is not None, timeout=2)
        assert f"{name} CPU %" in screen_text(app)  # the agent screen's chart
