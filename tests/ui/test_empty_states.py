"""An empty table or chart says why (issue 13 item 23)."""

from __future__ import annotations

from pathlib import Path

from factories import (
    agent,
    fleet,
    history,
    ready,
    running,
    screen_text,
    settings,
    snapshot,
    table,
    wait_until,
)
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tui_monitor.source import ScriptedSource
from tui_monitor.store.queries import History
from tui_monitor.store.writer import Writer
from tui_monitor.ui.app import MonitorApp, make_app
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.widgets.chart import MetricChart


async def typed(pilot: Pilot[None], app: MonitorApp, query: str) -> Input:
    await pilot.press("slash", *query)
    box = app.screen.query_one("#filter", Input)
    await wait_until(pilot, lambda: box.value == query, what=f"typed {query!r}")
    return box


async def test_a_bad_regex_says_it_is_matched_as_text() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        box = await typed(pilot, app, "(bad[")
        await wait_until(pilot, lambda: "not a regex" in str(box.border_subtitle))
        assert "matching the text as typed" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: table(app).row_count == 8)
        box = await typed(pilot, app, "^coder")  # a good one: nothing to say
        await wait_until(pilot, lambda: table(app).row_count == 2)
        assert not box.border_subtitle


async def test_a_filter_matching_nothing_says_so_and_how_to_clear_it() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        await typed(pilot, app, "nomatch")
        empty = app.screen.query_one("#empty", Static)
        await wait_until(pilot, lambda: empty.display, what="the empty state")
        text = screen_text(app)
        assert "No agent matches nomatch (8 hidden). esc clears the filter." in text
        assert app.screen.query_one("#bottom").display  # the chart and log stay
        await pilot.press("escape")
        await wait_until(pilot, lambda: not empty.display, what="gone with the filter")
        assert table(app).row_count == 8


async def test_the_gpu_chart_without_a_gpu_says_why() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        chart = app.screen.query_one("#chart", MetricChart)
        await pilot.press("c", "m", "m")  # the host, GPU
        await wait_until(pilot, lambda: chart.saying is not None, what="a reason")
        assert chart.saying == "No GPU to chart: disabled in config"
        assert "No GPU to chart: disabled in config" in screen_text(app)
        await pilot.press("m")  # back to CPU: a plot again
        await wait_until(pilot, lambda: chart.saying is None, what="the plot")


async def test_charts_of_an_agent_known_only_from_reports_say_why(tmp_path: Path) -> None:
    reporter = agent("reporter", source="ingest", pid=None, cpu=None, mem=None, uptime=None)
    snaps = [snapshot(n, [reporter]) for n in (1, 2)]
    db = tmp_path / "history.db"
    writer = Writer(db)
    writer.write_batch(snaps)
    writer.close()
    app = make_app(settings(), ScriptedSource(snaps, db=db), History(db), utc=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        chart = app.screen.query_one("#chart", MetricChart)
        await wait_until(pilot, lambda: chart.saying is not None, what="a reason")
        assert "reporter has no process of its own (it only reports)" in str(chart.saying)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent")
        agent_chart = app.screen.query_one("#agent-chart", MetricChart)
        await wait_until(pilot, lambda: agent_chart.saying is not None, what="its reason")
        assert "no process of its own (it only reports)" in str(agent_chart.saying)


async def test_the_agent_chart_without_a_history_says_so() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent")
        agent_chart = app.screen.query_one("#agent-chart", MetricChart)
        await wait_until(pilot, lambda: agent_chart.saying is not None, what="its reason")
        assert "No history database" in str(agent_chart.saying)


async def test_an_agent_chart_with_data_plots() -> None:
    async with running(history()) as (app, _, pilot):
        chart = app.screen.query_one("#chart", MetricChart)
        await wait_until(pilot, lambda: chart._plot is not None, what="a plot")
        assert chart.saying is None


def test_a_chart_asked_to_draw_before_it_is_mounted_waits() -> None:
    """On a busy box a tick could render before the chart was mounted: `show` mounted its
    plot into an unmounted widget and raised MountError (seen once in a clean-clone run)."""
    chart = MetricChart(id="chart")
    assert chart.show("cpu", [-1.0, 0.0], {"cpu": [1.0, 2.0]}) is False
    chart.say("nothing yet")  # nor NoMatches from `say`
