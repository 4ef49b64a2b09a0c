"""The dashboard under Pilot: keys, sorting, filtering, the cursor across ticks, screens."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from factories import (
    agent,
    at,
    build_app,
    event,
    fleet,
    fleet_events,
    ready,
    running,
    screen_text,
    snapshot,
    step,
    table,
    wait_until,
)
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input
from textual.widgets._footer import FooterKey
from textual.widgets.data_table import ColumnKey

from tui_monitor.models import AgentSample
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.screens.dashboard import DashboardScreen
from tui_monitor.ui.screens.help import HelpScreen
from tui_monitor.ui.widgets import agent_table
from tui_monitor.ui.widgets.agent_table import AgentTable
from tui_monitor.ui.widgets.chart import MetricChart
from tui_monitor.ui.widgets.event_log import EventLog
from tui_monitor.ui.widgets.footer import KeyFooter

BY_CPU = ["vllm", "coder#1", "planner", "reviewer", "coder#2", "scraper", "indexer", "summarizer"]
"""The fleet sorted the default way: CPU% descending (exited, with no CPU, last)."""


def rows(t: AgentTable) -> list[str]:
    """Row keys in the order the DataTable really shows them."""
    return [str(r.key.value) for r in t.ordered_rows]


async def selected(pilot: Pilot[None], name: str | None) -> None:
    await wait_until(pilot, lambda: table(pilot.app).selected == name, what=f"{name} selected")


async def select(pilot: Pilot[None], name: str) -> None:
    """Move the cursor down with `j` until `name` is selected."""
    t = table(pilot.app)
    for _ in range(t.get_row_index(name) - t.cursor_row):
        await pilot.press("j")
    await selected(pilot, name)


def label(t: AgentTable, key: str) -> str:
    """A column header as shown (with its sort arrow)."""
    return t.columns[ColumnKey(key)].label.plain


def log_text(log: EventLog) -> str:
    return "\n".join(strip.text for strip in log.lines)


# -- cursor -----------------------------------------------------------------------------


async def test_first_row_selected_and_sorted_by_cpu() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        t = table(app)
        await selected(pilot, "vllm")
        assert t.visible_names == BY_CPU == rows(t)
        assert t.cursor_row == 0


async def test_j_k_and_arrows_move_the_cursor() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        t = table(app)
        await selected(pilot, "vllm")
        for key, want in [
            ("j", "coder#1"),
            ("down", "planner"),
            ("j", "reviewer"),
            ("k", "planner"),
            ("up", "coder#1"),
            ("k", "vllm"),
            ("k", "vllm"),  # stays on the first row
        ]:
            await pilot.press(key)
            await selected(pilot, want)
            assert t.cursor_row == BY_CPU.index(want)
        for _ in range(len(BY_CPU) + 2):
            await pilot.press("j")
        await selected(pilot, "summarizer")  # and on the last
        assert t.cursor_row == len(BY_CPU) - 1


# -- sorting ----------------------------------------------------------------------------


async def test_sort_keys_cycle_columns_and_invert() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        t = table(app)
        assert (t.sort_key, t.sort_reverse) == ("cpu", True)
        assert label(t, "cpu") == "CPU% ▼"

        await pilot.press("greater_than_sign")  # CPU% -> MEM, still descending
        await wait_until(pilot, lambda: t.sort_key == "mem")
        want = ["vllm", "coder#1", "planner", "coder#2", "reviewer", "indexer", "scraper"]
        assert t.visible_names == [*want, "summarizer"] == rows(t)
        assert label(t, "mem") == "MEM ▼"
        assert label(t, "cpu") == "CPU%"

        await pilot.press("less_than_sign", "less_than_sign")  # MEM -> CPU% -> PID
        await wait_until(pilot, lambda: t.sort_key == "pid")
        by_pid = ["scraper", "indexer", "reviewer", "vllm", "coder#2", "coder#1", "planner"]
        assert t.visible_names == [*by_pid, "summarizer"] == rows(t)

        await pilot.press("I")
        await wait_until(pilot, lambda: not t.sort_reverse)
        assert t.visible_names == ["summarizer", *reversed(by_pid)] == rows(t)
        assert label(t, "pid") == "PID ▲"


async def test_clicking_a_header_sorts_by_it_and_again_reverses() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        t = table(app)
        await selected(pilot, "vllm")

        def header_x(key: str) -> int:
            x = 0
            for column in t.ordered_columns:
                if column.key.value == key:
                    return x + 2
                x += column.get_render_width(t)
            raise AssertionError(key)

        assert t.header_height == 1
        await pilot.click(AgentTable, offset=(header_x("name"), 0))
        await wait_until(pilot, lambda: t.sort_key == "name")
        assert not t.sort_reverse
        assert t.visible_names == sorted(BY_CPU) == rows(t)

        await pilot.click(AgentTable, offset=(header_x("name"), 0))
        await wait_until(pilot, lambda: t.sort_reverse)
        assert rows(t) == sorted(BY_CPU, reverse=True)

        await pilot.click(AgentTable, offset=(header_x("status"), 0))
        await wait_until(pilot, lambda: t.sort_key == "status")
        assert rows(t)[:5] == ["summarizer", "scraper", "indexer", "reviewer", "coder#2"]
        # Sorting never loses the selected agent.
        assert t.selected == "vllm"
        assert t.cursor_row == rows(t).index("vllm")
        assert isinstance(app.screen, DashboardScreen)  # a header click opens nothing


# -- filter -----------------------------------------------------------------------------


async def _filter(pilot: Pilot[None], text: str) -> None:
    box = pilot.app.screen.query_one("#filter", Input)
    if not box.has_focus:
        await pilot.press("slash")
        await wait_until(pilot, lambda: box.has_focus, what="filter focused")
    box.value = ""
    await pilot.press(*text)
    await wait_until(pilot, lambda: box.value == text, what=f"filter {text!r}")
    await pilot.pause()


FILTERS = [
    ("CODER", ["coder#1", "coder#2"]),  # substring, case-insensitive
    ("ZOMB", ["scraper"]),  # status is searched too
    ("infer", ["vllm"]),  # and kind
    ("^(vl|pl)", ["vllm", "planner"]),  # a regex
    (r"r#\d$", ["coder#1", "coder#2"]),
    ("tool[1", ["tool[1]"]),  # an invalid regex is plain text
    ("(", ["fix(parser"]),
]


async def test_filter_by_substring_and_regex_and_escape_clears() -> None:
    agents = [*fleet(), agent("tool[1]", cpu=2.0), agent("fix(parser", cpu=3.0)]
    async with running([snapshot(1, agents)]) as (app, _, pilot):
        t = table(app)
        for query, want in FILTERS:
            await _filter(pilot, query)
            assert (query, t.visible_names) == (query, want)
            assert rows(t) == want
            assert t.selected in want
            assert app.is_running

            await pilot.press("escape")
            await wait_until(pilot, lambda: len(t.visible_names) == len(agents), what="all rows")
            assert not app.screen.query_one("#filter", Input).display
            assert t.has_focus


async def test_filter_survives_ticks_and_enter_returns_to_the_table() -> None:
    async with running([snapshot(1, fleet()), snapshot(2, fleet())]) as (app, source, pilot):
        t = table(app)
        await _filter(pilot, "coder")
        await pilot.press("enter")
        await wait_until(pilot, lambda: t.has_focus, what="table focused")
        assert app.screen.query_one("#filter", Input).display  # the filter stays visible
        await step(pilot, source)
        assert t.visible_names == ["coder#1", "coder#2"]
        await pilot.press("j")
        await selected(pilot, "coder#2")


async def test_a_filter_matching_nothing_empties_the_table_without_crashing() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        t = table(app)
        await _filter(pilot, "nomatch")
        assert t.row_count == 0 and t.visible_names == []
        await selected(pilot, None)
        await pilot.press("escape")
        await wait_until(pilot, lambda: t.row_count == len(BY_CPU))
        await selected(pilot, "vllm")


# -- the agent screen --------------------------------------------------------------------


async def test_enter_opens_the_selected_agent_and_escape_returns_to_it() -> None:
    async with running([snapshot(1, fleet(), fleet_events())]) as (app, _, pilot):
        await select(pilot, "planner")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent screen")
        screen = app.screen
        assert isinstance(screen, AgentScreen) and screen.agent_name == "planner"
        assert len(app.screen_stack) == 3  # one agent screen, not two (table and screen keys)
        await wait_until(pilot, lambda: "planner" in screen_text(app))
        text = screen_text(app)
        assert "812.0 MiB" in text and "pid 4101" in text  # its details and its own events
        assert "kv cache" not in text  # not other agents' events

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="back")
        t = table(app)
        assert t.selected == "planner"
        assert t.cursor_row == BY_CPU.index("planner")
        assert t.has_focus


async def test_the_agent_screen_follows_ticks_and_the_dashboard_catches_up() -> None:
    later = [
        a.model_copy(update={"cpu_utilization": 150.0}) if a.name == "planner" else a
        for a in fleet()
    ]
    snaps = [
        snapshot(1, fleet()),
        snapshot(2, later, [event("planner", "tool_call", "while you were away", ts=2)]),
    ]
    async with running(snaps) as (app, source, pilot):
        await select(pilot, "planner")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen))
        await step(pilot, source)
        await wait_until(pilot, lambda: "150.0%" in screen_text(app), what="agent screen tick")
        assert "while you were away" in screen_text(app)

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        t = table(app)
        await wait_until(pilot, lambda: rows(t)[0] == "planner", what="dashboard caught up")
        assert t.selected == "planner" and t.cursor_row == 0
        assert "while you were away" in log_text(app.screen.query_one(EventLog))


async def test_the_agent_screen_says_whether_memory_is_pss_or_rss() -> None:
    def tick(kind: str) -> list[AgentSample]:
        return [a.model_copy(update={"ram_kind": kind}) for a in fleet()]

    async with running([snapshot(1, tick("pss")), snapshot(2, tick("rss"))]) as (
        app,
        source,
        pilot,
    ):
        await select(pilot, "planner")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "812.0 MiB PSS" in screen_text(app), what="PSS")
        await step(pilot, source)
        await wait_until(pilot, lambda: "812.0 MiB RSS" in screen_text(app), what="RSS")


async def test_the_agent_screen_of_an_agent_that_vanished() -> None:
    snaps = [snapshot(1, fleet()), snapshot(2, [a for a in fleet() if a.name != "vllm"])]
    async with running(snaps) as (app, source, pilot):
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen))
        await step(pilot, source)
        await wait_until(pilot, lambda: "not in the current snapshot" in screen_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await selected(pilot, "coder#1")


async def test_the_agent_chart_says_when_there_is_no_history() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen))
        chart = app.screen.query_one("#agent-chart")
        await wait_until(pilot, lambda: "last 5m" in str(chart.border_title), what="chart")
        await pilot.pause()
        assert "no history" in screen_text(app)


# -- ticks ------------------------------------------------------------------------------


def with_cpu(name: str, cpu: float) -> list[Any]:
    return [a.model_copy(update={"cpu_utilization": cpu}) if a.name == name else a for a in fleet()]


@pytest.mark.parametrize(("cpu", "index"), [(500.0, 0), (1.0, BY_CPU.index("reviewer")), (-0.5, 6)])
async def test_the_cursor_follows_its_agent_when_the_order_changes(cpu: float, index: int) -> None:
    snaps = [snapshot(1, fleet()), snapshot(2, with_cpu("planner", cpu))]
    async with running(snaps) as (app, source, pilot):
        t = table(app)
        await select(pilot, "planner")
        before = t.cursor_row
        await step(pilot, source)
        await wait_until(pilot, lambda: rows(t).index("planner") == index, what="resorted")
        await pilot.pause()
        assert t.selected == "planner"
        assert t.cursor_row == index != before
        assert t.visible_names == rows(t)


async def test_the_cursor_stays_when_another_agent_moves_past_it() -> None:
    snaps = [snapshot(1, fleet()), snapshot(2, with_cpu("coder#2", 999.0))]
    async with running(snaps) as (app, source, pilot):
        t = table(app)
        await select(pilot, "reviewer")
        await step(pilot, source)
        await wait_until(pilot, lambda: rows(t)[0] == "coder#2")
        await pilot.pause()
        assert t.selected == "reviewer"
        assert t.cursor_row == rows(t).index("reviewer") == 4


LONGEST = "orchestrator-main"
"""An extra agent whose name is the longest: its going changes the NAME column's width."""


def long_fleet() -> list[Any]:
    return [*fleet(), agent(LONGEST, kind="worker", cpu=5.0, pid=4600)]


@pytest.mark.parametrize(
    ("gone", "neighbours"),
    [
        ("planner", {"coder#1", LONGEST}),
        ("summarizer", {"indexer"}),  # the last row
        ("vllm", {"coder#1"}),  # the first row
        (LONGEST, {"planner", "reviewer"}),  # the longest name: no rebuild, no jump
    ],
)
async def test_a_vanished_agent_moves_the_selection_to_a_neighbour(
    gone: str, neighbours: set[str]
) -> None:
    snaps = [
        snapshot(1, long_fleet()),
        snapshot(2, [a for a in long_fleet() if a.name != gone]),
        snapshot(3, []),
        snapshot(4, long_fleet()),
    ]
    async with running(snaps) as (app, source, pilot):
        t = table(app)
        await select(pilot, gone)
        await step(pilot, source)
        await wait_until(pilot, lambda: t.row_count == len(snaps[1].agents))
        await pilot.pause()
        assert t.selected in neighbours
        assert t.selected is not None and t.cursor_row == rows(t).index(t.selected)

        await step(pilot, source)  # everything gone: the empty state, no selection
        await selected(pilot, None)
        assert app.screen.query_one("#empty").display
        await pilot.press("j", "k", "enter")
        assert isinstance(app.screen, DashboardScreen)

        await step(pilot, source)  # and back
        await wait_until(pilot, lambda: t.row_count == len(snaps[0].agents))
        assert t.selected is not None
        assert not app.screen.query_one("#empty").display
        assert app.is_running


class Spy:
    """Counts calls of some methods of one object (delegating to the real ones)."""

    def __init__(self, obj: object, monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
        self.calls: dict[str, list[tuple[Any, ...]]] = {n: [] for n in names}
        for name in names:
            real: Callable[..., Any] = getattr(obj, name)

            def spy(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
                self.calls[_name].append(args)
                return _real(*args, **kw)

            monkeypatch.setattr(obj, name, spy)

    def counts(self) -> dict[str, int]:
        return {n: len(c) for n, c in self.calls.items()}

    def reset(self) -> None:
        for c in self.calls.values():
            c.clear()


async def test_rows_are_keyed_by_name_and_updated_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    snaps = [
        snapshot(1, fleet()),
        snapshot(2, fleet(), ts=at(1)),  # identical content, same clock
        snapshot(3, with_cpu("coder#2", 0.7), ts=at(1)),  # one cell, no reordering
        snapshot(4, with_cpu("coder#2", 99.0), ts=at(1)),  # one cell, new order
    ]
    async with running(snaps) as (app, source, pilot):
        t = table(app)
        assert rows(t) == BY_CPU
        assert all(t.get_row(name) for name in BY_CPU)  # row keys are the agent names
        spy = Spy(t, monkeypatch, "update_cell", "add_row", "remove_row", "clear", "sort")

        await step(pilot, source)
        assert spy.counts() == {
            "update_cell": 0,
            "add_row": 0,
            "remove_row": 0,
            "clear": 0,
            "sort": 0,
        }

        await step(pilot, source)
        assert spy.calls["update_cell"] == [("coder#2", "cpu", spy.calls["update_cell"][0][2])]
        assert str(spy.calls["update_cell"][0][2]) == "0.7"
        assert spy.counts() | {"update_cell": 0} == dict.fromkeys(spy.calls, 0)

        spy.reset()
        await step(pilot, source)
        assert [c[:2] for c in spy.calls["update_cell"]] == [("coder#2", "cpu")]
        assert spy.counts()["sort"] == 1
        assert spy.counts()["clear"] == spy.counts()["add_row"] == 0
        assert rows(t)[1] == "coder#2"


async def test_a_changed_cell_repaints_that_cell_not_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AgentTable's own update_cell (DataTable internals, textual 8.2): one changed figure
    asks for a repaint of one cell's region; stock DataTable repaints the whole table."""
    snaps = [snapshot(1, fleet()), snapshot(2, with_cpu("coder#2", 0.7), ts=at(1))]
    async with running(snaps) as (app, source, pilot):
        t = table(app)
        spy = Spy(t, monkeypatch, "refresh")
        await step(pilot, source)
        regions = [c[0] for c in spy.calls["refresh"] if c]
        assert len(regions) == 1 and not [c for c in spy.calls["refresh"] if not c]
        [region] = regions
        assert region.height == 1 and region.width < t.size.width


def test_a_textual_without_the_internals_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """No silent fallback to the slow path: a renamed internal is an error at construction."""
    monkeypatch.setattr(agent_table, "INTERNALS", (*agent_table.INTERNALS, "_renamed_in_9"))
    with pytest.raises(RuntimeError, match="_renamed_in_9"):
        AgentTable()


# -- screens, keys, panels ---------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [
        (120, 40),
        (80, 24),
    ],
)
async def test_empty_state_shows_the_config_path_and_the_demo(
    size: tuple[int, int], tmp_path: Any
) -> None:
    config = tmp_path / "config.toml"
    async with running([snapshot(1)], size, config=config) as (app, _, pilot):
        await wait_until(pilot, lambda: app.screen.query_one("#empty").display)
        assert not table(app).display
        text = screen_text(app)
        assert "No agents yet" in text
        assert str(config) in text.replace("\n", "")  # the path may wrap, but is all there
        assert "tui-monitor demo" in text


async def test_help_lists_the_keys_and_escape_closes_it() -> None:
    # 50 rows: the list (with t and K) is taller than 40; it scrolls there.
    async with running([snapshot(1, fleet())], size=(120, 50)) as (app, _, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = screen_text(app)
        for words in ("Filter", "Quit", "Open", "Invert sort", "Log level", "Help", "ctrl+p"):
            assert words in text, words
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="closed")
        assert table(app).has_focus
        assert app.is_running


async def test_help_shows_the_keys_the_keymap_bound() -> None:
    """Help reads the bindings in force (Screen.active_bindings), so [keymap] shows there."""
    app, _ = build_app([snapshot(1, fleet())])
    app.settings = app.settings.model_copy(update={"keymap": {"dashboard.chart_metric": "M"}})
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = screen_text(app)
        assert re.search(r"│\s+M\s+Chart metric", text), text


async def test_q_quits() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="exit")
    assert app.return_code == 0


async def test_the_event_log_shows_events_and_l_cycles_its_level() -> None:
    # Wide enough for whole lines: the log cuts them at its width (`…`).
    async with running([snapshot(1, fleet(), fleet_events())], (200, 40)) as (app, _, pilot):
        log = app.screen.query_one(EventLog)
        await wait_until(pilot, lambda: len(log.lines) == len(fleet_events()), what="events")
        text = log_text(log)
        assert "11:55:00 INFO planner started: pid 4101" in text
        assert "DEBU coder#1 tool_call" in text and "CRIT summarizer exited" in text

        shown = {"info": 7, "warning": 5, "error": 3, "debug": 9}
        for level, count in shown.items():
            await pilot.press("l")
            await pilot.pause()
            assert log.min_level == level
            assert log.border_subtitle is not None and level in log.border_subtitle
            assert len(log.lines) == count, level
            text = log_text(log)
            assert ("tool_call" in text) is (level == "debug")
            assert ("status_changed: running -> waiting" in text) is (level in ("debug", "info"))
            assert "exit code 137" in text


async def test_narrow_terminals_drop_columns_but_keep_name_status_and_cpu() -> None:
    async with running([snapshot(1, fleet())], (160, 40)) as (app, _, pilot):
        t = table(app)
        wide = [str(k.value) for k in t.columns]
        assert len(wide) == 14  # every column at 160 wide
        await select(pilot, "planner")
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: len(t.columns) < len(wide), what="columns dropped")
        narrow = [str(k.value) for k in t.columns]
        assert {"name", "status", "cpu"} <= set(narrow)
        assert sum(c.get_render_width(t) for c in t.ordered_columns) <= t.size.width
        assert t.selected == "planner" and rows(t) == BY_CPU  # the rows survive the relayout
        header = screen_text(app).splitlines()[4]
        assert header.split()[:2] == ["NAME", "STATUS"] and "CPU%" in header


async def test_events_of_coalesced_snapshots_are_not_lost() -> None:
    snaps = [
        snapshot(1, fleet()),
        snapshot(2, fleet(), [event("planner", "step", "first of two", ts=2)]),
        snapshot(3, fleet(), [event("planner", "step", "second of two", ts=3)]),
    ]
    async with running(snaps) as (app, source, pilot):
        source.step()
        source.step()  # both queued before the app handles either: the UI coalesces them
        await ready(pilot, 3)
        text = log_text(app.screen.query_one(EventLog))
        assert "second of two" in text
        assert "first of two" in text
        assert app.stats["planner"].messages == 2


async def test_the_table_has_focus_from_the_start_and_the_footer_is_built_once() -> None:
    """The footer is rebuilt only when the keys it shows change (Textual's rebuilds its keys
    on every bindings update, ~10 ms each at start-up)."""
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        await selected(pilot, "vllm")
        assert table(app).has_focus
        footer = app.screen.query_one(KeyFooter)
        await wait_until(pilot, lambda: bool(footer.query(FooterKey)), what="footer keys")
        keys = list(footer.query(FooterKey))
        assert {k.key for k in keys} >= {"slash", "m", "q", "question_mark"}

        app.screen.refresh_bindings()  # same keys on screen: nothing rebuilt
        await pilot.pause()
        await pilot.pause()
        assert list(footer.query(FooterKey)) == keys

        await pilot.press("slash")  # the filter box has other keys: rebuilt
        await wait_until(
            pilot, lambda: list(footer.query(FooterKey)) != keys, what="footer rebuilt"
        )


async def test_chart_history_per_agent_and_bounded_table_caches() -> None:
    """The chart's in-memory points give each agent its own values (None where it had none
    or was absent); the table's render caches stay capped (they grew ~11 MB otherwise)."""
    ticks = [
        snapshot(1, [agent("a", cpu=1.0, gpu_mem=2.0), agent("b", cpu=5.0)]),
        snapshot(2, [agent("a", cpu=2.0, gpu_mem=None), agent("b", cpu=6.0)]),
        snapshot(3, [agent("b", cpu=7.0)]),
    ]
    async with running(ticks) as (app, source, pilot):
        await step(pilot, source)
        await step(pilot, source)
        _, xs, lines, _, _ = app.chart_data("a", "cpu")
        assert xs == [2.0, 1.0, 0.0] and lines == {"cpu": [1.0, 2.0, None]}
        _, _, lines, _, _ = app.chart_data("a", "gpu")
        assert lines == {"gpu": [2.0, None, None]}
        _, _, lines, _, _ = app.chart_data("b", "cpu")
        assert lines == {"cpu": [5.0, 6.0, 7.0]}
        assert app.trend("agents").values[-1] == 2.0
        t = table(app)
        assert t._cell_render_cache.maxsize <= 1000 and t._line_cache.maxsize <= 100


async def test_the_chart_loads_plotext_only_once_it_is_shown() -> None:
    """The plot widget (and plotext) comes with the first chart drawn, after the first
    screen; at 80 columns the chart is hidden and never loads it."""
    ticks = [snapshot(n, fleet()) for n in (1, 2, 3)]
    async with running(ticks, (80, 24)) as (app, source, pilot):
        await step(pilot, source)
        chart = app.screen.query_one(MetricChart)
        assert not chart.display and chart._plot is None
        await pilot.resize_terminal(120, 40)
        await step(pilot, source)  # the chart is drawn with the next tick
        await wait_until(pilot, lambda: chart._plot is not None, what="the plot mounted")
        await wait_until(pilot, lambda: chart._plot is not None and chart._plot.is_mounted)
        assert "cpu" in screen_text(app)  # the legend of the plotted line


async def test_keys_typed_right_after_slash_reach_the_filter() -> None:
    """`/coder` in one burst (fast typing, or one packet over SSH): every key after `/` is
    the filter's, none goes to the table; a `/` typed in the filter is text."""
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        box = app.screen.query_one("#filter", Input)
        for char in "/coder":
            app.post_message(events.Key("slash" if char == "/" else char, char))  # no pause
        await wait_until(pilot, lambda: box.value == "coder", what="'coder' in the filter")
        assert table(app).visible_names == ["coder#1", "coder#2"]
        await pilot.press("slash")
        await wait_until(pilot, lambda: box.value == "coder/", what="'/' typed as text")
        assert box.has_focus
