"""`needs input` is impossible to miss (issue 15 item 4): the Waiting card counts and colours,
a toast (and the bell where `[alerts] bell` is on) as an agent enters it, and `w` walks the
selection over the waiting agents, round the table, with a notice when none waits."""

from __future__ import annotations

from typing import Any

import pytest
from factories import agent, running, snapshot, step, table, wait_until
from session_rows import session

from tui_monitor.models import AgentSample
from tui_monitor.ui.app import MonitorApp
from tui_monitor.ui.widgets.cards import Card


def claude(name: str, pid: int, state: str, tool: str | None = None,
           reason: str | None = "permission") -> AgentSample:  # fmt: skip
    """A Claude Code process row with its session in `state`, said by a hook."""
    s = session(f"claude:{pid}", state=state, state_source="hook")  # type: ignore[arg-type]
    s = s.model_copy(update={"state_reason": reason if state == "needs_input" else None,
                             "state_tool": tool})  # fmt: skip
    row = agent(name, kind="claude-code", source="preset", cpu=1.0, mem=100.0, pid=pid)
    return row.model_copy(update={"session": s})


def fleet(*waiting: str) -> list[AgentSample]:
    """Four agents, named so the table (by name) shows a, b, c, d; `waiting` need input."""
    return [
        claude(n, 5000 + i, "needs_input" if n in waiting else "working", tool="Bash")
        for i, n in enumerate("abcd")
    ]


@pytest.fixture
def told(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every toast made, (title, message, severity): toasts expire from the screen, this not."""
    made: list[tuple[str, str, str]] = []
    notify = MonitorApp.notify

    def record(self: MonitorApp, message: str, **kw: Any) -> None:
        made.append((kw.get("title", ""), message, kw.get("severity", "information")))
        notify(self, message, **kw)

    monkeypatch.setattr(MonitorApp, "notify", record)
    return made


def card_text(app: MonitorApp) -> tuple[str, str]:
    card = app.screen.query_one("#card-waiting", Card)
    return card._value.plain, str(card._value.spans[-1].style) if card._value.spans else ""


async def test_the_waiting_card_counts_and_colours_and_a_toast_comes_once_per_wait(
    told: list[tuple[str, str, str]],
) -> None:
    ticks = [snapshot(1, fleet()), snapshot(2, fleet("b", "d")), snapshot(3, fleet("b", "d")),
             snapshot(4, fleet("d")), snapshot(5, fleet("b", "d"))]  # fmt: skip
    async with running(ticks, (160, 40)) as (app, source, pilot):
        card = app.screen.query_one("#card-waiting", Card)
        await wait_until(pilot, lambda: card.display and card.region.width > 0, what="card")
        assert card_text(app)[0] == "Waiting 0"
        assert not [t for t in told if t[0] == "needs input"]
        await step(pilot, source)
        text, style = card_text(app)
        assert text == "Waiting 2" and "reverse" in style  # its own colour, while any wait
        assert app.screen.has_class("-waiting")
        waits = [t for t in told if t[0] == "needs input"]
        assert [m for _, m, _ in waits] == [
            "b needs input: Bash (w goes there)",
            "d needs input: Bash (w goes there)",
        ]
        await step(pilot, source)  # still waiting: no new toast
        assert len([t for t in told if t[0] == "needs input"]) == 2
        await step(pilot, source)  # b went on
        assert card_text(app)[0] == "Waiting 1"
        await step(pilot, source)  # b is stopped again: a new wait, a new toast
        waits = [t for t in told if t[0] == "needs input"]
        assert [m for _, m, _ in waits][2:] == ["b needs input: Bash (w goes there)"]


async def test_w_walks_the_waiting_agents_round_the_table(
    told: list[tuple[str, str, str]],
) -> None:
    async with running([snapshot(1, fleet("b", "d"))], (160, 40)) as (app, _, pilot):
        t = table(app)
        await wait_until(pilot, lambda: t.row_count == 4)
        t.set_sort("name", reverse=False)
        t.select("a")
        assert t.visible_names == ["a", "b", "c", "d"] and t.selected == "a"
        for expected in ("b", "d", "b"):  # round the table
            await pilot.press("w")
            await wait_until(pilot, lambda e=expected: t.selected == e, what=expected)
        assert t.cursor_row == t.get_row_index("b")


async def test_w_says_so_when_no_agent_waits(told: list[tuple[str, str, str]]) -> None:
    async with running([snapshot(1, fleet())], (160, 40)) as (app, _, pilot):
        await wait_until(pilot, lambda: table(app).row_count == 4)
        before = table(app).selected
        await pilot.press("w")
        await wait_until(pilot, lambda: any(m == "no agent needs input" for _, m, _ in told))
        assert table(app).selected == before


async def test_the_bell_rings_on_a_new_wait_where_the_config_asks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tui_monitor.alerts.rules import AlertSettings

    rang: list[int] = []
    monkeypatch.setattr(MonitorApp, "bell", lambda self: rang.append(1))
    ticks = [snapshot(1, fleet()), snapshot(2, fleet("c")), snapshot(3, fleet("c", "d"))]
    async with running(ticks, (160, 40)) as (app, source, pilot):
        await step(pilot, source)
        assert rang == []  # `[alerts] bell` is off by default
        app.settings = app.settings.model_copy(update={"alerts": AlertSettings(bell=True)})
        await step(pilot, source)
        await wait_until(pilot, lambda: rang == [1], what="the bell for d")


async def test_w_is_in_the_footer_and_help() -> None:
    async with running([snapshot(1, fleet())], (160, 40)) as (app, _, pilot):
        keys = {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}
        assert "w" in keys
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: "Next waiting" in _text(app), what="help lists w")


def _text(app: MonitorApp) -> str:
    from factories import screen_text

    return screen_text(app)
