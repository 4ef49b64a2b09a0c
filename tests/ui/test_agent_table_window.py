"""The agent table brings only the rows on screen up to date each tick (a fleet of 500 agents
costs a tick its visible rows): a row off screen shows the newest figures the moment it
scrolls into view, and every inspection of the table sees them too."""

from __future__ import annotations

from factories import agent, running, snapshot, step, table, wait_until
from rich.text import Text

from tui_monitor.models import AgentSample
from tui_monitor.ui.widgets.agent_table import AgentTable

NAMES = [f"a{i:03d}" for i in range(200)]


def tick(cpu_of_last: float) -> list[AgentSample]:
    """200 agents; the last by name uses the least CPU (last in either default order) and
    only its CPU changes between ticks."""
    return [agent(n, cpu=cpu_of_last if n == NAMES[-1] else 50.0) for n in NAMES]


def cpu_cell(t: AgentTable, name: str) -> str:
    value = t.get_cell(name, "cpu")
    return value.plain if isinstance(value, Text) else str(value)


async def test_an_off_screen_row_is_current_when_it_scrolls_into_view() -> None:
    snaps = [snapshot(1, tick(1.0)), snapshot(2, tick(7.0))]
    async with running(snaps, size=(120, 30)) as (app, source, pilot):
        t = table(app)
        await step(pilot, source)
        # Off screen: its cell still holds the first tick's figure (not redrawn this tick).
        assert cpu_cell(t, NAMES[-1]) == "1.0"
        while t.cursor_row < len(NAMES) - 1:  # page down to the last row, as a person does
            before = t.cursor_row
            await pilot.press("pagedown")
            await wait_until(pilot, lambda b=before: t.cursor_row > b, what="a page down")
        await wait_until(pilot, lambda: t.selected == NAMES[-1], what="the last row selected")
        await wait_until(pilot, lambda: cpu_cell(t, NAMES[-1]) == "7.0", what="7.0 shown")


async def test_rendered_rows_sees_every_row_current() -> None:
    snaps = [snapshot(1, tick(1.0)), snapshot(2, tick(5.5))]
    async with running(snaps, size=(120, 30)) as (app, source, pilot):
        t = table(app)
        await step(pilot, source)
        last = t.rendered_rows()[-1]
        assert last[0] == NAMES[-1] and "5.5" in last
