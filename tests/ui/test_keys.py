"""Ctrl+C: one behaviour everywhere (it quits), and help says so (issue 13 item 25)."""

from __future__ import annotations

import re

from factories import fleet, running, screen_text, snapshot, wait_until
from textual.widgets import Input

from tui_monitor.ui.screens.help import HelpScreen


async def test_ctrl_c_quits() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.is_running, what="exit")
    assert app.return_code == 0


async def test_ctrl_c_copies_selected_filter_text_and_quits_without_a_selection() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        await pilot.press("slash", *"coder")
        box = app.screen.query_one("#filter", Input)
        await wait_until(pilot, lambda: box.value == "coder", what="typed")
        box.select_all()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.is_running
        assert app.clipboard == "coder"
        box.action_end()
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.is_running, what="exit")


async def test_help_lists_ctrl_c_with_quit() -> None:
    async with running([snapshot(1, fleet())]) as (app, _, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = screen_text(app)
        assert re.search(r"q, \^c\b.*Quit", text), text
