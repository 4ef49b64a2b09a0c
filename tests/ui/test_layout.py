"""The space goes to what has content (issue 13 item 21): the table is as tall as its rows,
the chart and the log take the rest; narrow terminals fit as many columns as they can; the
alerts count on narrow terminals is not cut."""

from __future__ import annotations

import pytest
from factories import agent, at, fleet, running, screen_text, snapshot, table, wait_until

from tui_monitor.models import AgentEvent, AgentSample
from tui_monitor.ui.columns import COLUMNS, fitting
from tui_monitor.ui.screens.dashboard import BOTTOM_MIN


def priced(agents: list[AgentSample]) -> list[AgentSample]:
    """With a cost each, and no GPU memory (the GPU MEM column is then empty)."""
    return [
        a.model_copy(update={"cost": 0.25 + i, "gpu_memory_used": None})
        for i, a in enumerate(agents)
    ]


@pytest.mark.parametrize("size", [(200, 60), (120, 40), (80, 24)])
async def test_no_blank_rows_between_the_table_and_the_panels(size: tuple[int, int]) -> None:
    agents = fleet()[:6]
    async with running([snapshot(1, agents)], size) as (app, _, pilot):
        t = table(app)
        bottom = app.screen.query_one("#bottom")
        await wait_until(pilot, lambda: t.row_count == 6)
        await wait_until(pilot, lambda: t.size.height == 7, what="a table of 6 rows + header")
        assert bottom.region.y == t.region.bottom  # the panels start right below it
        footer = app.screen.query_one("Footer")
        assert bottom.region.bottom == footer.region.y  # ... and reach the footer
        assert bottom.size.height == size[1] - 5 - 7


async def test_many_agents_leave_the_panels_their_rows() -> None:
    agents = [agent(f"worker-{i:02d}", cpu=float(i), pid=5000 + i) for i in range(40)]
    async with running([snapshot(1, agents)], (80, 24)) as (app, _, pilot):
        t = table(app)
        await wait_until(pilot, lambda: t.row_count == 40)
        bottom = app.screen.query_one("#bottom")
        await wait_until(pilot, lambda: bottom.size.height >= BOTTOM_MIN, what="panel rows")
        assert t.size.height > 4  # the table scrolls, but shows a good part of them


async def test_80_columns_fit_the_columns_that_fit() -> None:
    async with running([snapshot(1, priced(fleet()))], (80, 24)) as (app, _, pilot):
        t = table(app)
        await wait_until(pilot, lambda: t.row_count == 8)
        shown = [str(k.value) for k in t.columns]
        assert "cost" in shown and "gpu" not in shown  # the empty column gave way
        used = sum(c.get_render_width(t) for c in t.ordered_columns)
        assert used <= t.size.width
        missing = [c for c in COLUMNS if c.key not in shown]
        assert all(used + c.width + 2 > t.size.width - 2 for c in missing)  # none would fit


def test_fitting_takes_narrower_columns_a_wider_one_left_room_for() -> None:
    keys = [c.key for c in fitting(78, 8, frozenset({"gpu", "queue"}), {"model", "tokens"})]
    # Greedy by priority: PROCS (5) does not fit after PID (3), KIND (6) neither, but the
    # narrow MCP (5) still does; GPU MEM and QUEUE are empty and last (no sessions: no MODEL
    # or TOKENS columns at all).
    assert keys == ["name", "status", "pid", "cpu", "mem", "mcp", "errs", "cost", "uptime"]
    everything = fitting(1000, 8)
    assert [c.key for c in everything] == [c.key for c in COLUMNS]
    empty_last = [c.key for c in fitting(90, 8, frozenset({"cost"}), {"model", "tokens"})]
    assert "cost" not in empty_last and "gpu" in empty_last


async def test_the_alerts_count_on_a_narrow_screen_is_not_cut() -> None:
    firing = [
        AgentEvent(
            ts=at(0.5),
            agent=f"a{i}",
            kind="alert",
            level="warning",
            message=f"a{i} cpu above 90%",
            data={"rule": "cpu", "subject": f"a{i}", "state": "firing"},
        )
        for i in range(3)
    ]
    agents = [a.model_copy(update={"errors": 10}) if a.name == "planner" else a for a in fleet()]
    async with running([snapshot(1, agents, firing)], (80, 24)) as (app, _, pilot):
        await wait_until(pilot, lambda: len(app.alerts) == 3)
        await wait_until(pilot, lambda: "⚠3" in screen_text(app), what="the alerts count")
        lines = screen_text(app).splitlines()
        assert "Errors 10" in lines[1] and "…" not in lines[1].split("Errors 10")[1][:3]
        assert "⚠3 a0 cpu" in lines[2]  # below the count, where there is room
