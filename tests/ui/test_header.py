"""The header line: its left part (mode, replay time) never runs into the counters."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from tui_monitor.models import IngestStats
from tui_monitor.ui.widgets.header import HeaderBar

LABEL = "18s ago · 2026-11-21 · esc: live"
STATS = IngestStats(received=45, stored=44, listening="/run/user/0/tui-monitor.sock")


class OneHeader(App[None]):
    def compose(self) -> ComposeResult:
        yield HeaderBar()

    def on_mount(self) -> None:
        self.query_one(HeaderBar).show("vm", "replay", LABEL, "21:57:53", ingest=STATS)


@pytest.mark.parametrize("width", [100, 98, 90, 80])
async def test_a_long_left_part_is_cut_before_the_counters(width: int) -> None:
    app = OneHeader()
    async with app.run_test(size=(width, 3)) as pilot:
        await pilot.pause()
        line = str(app.screen.query_one(HeaderBar).render_line(0).text)
        left, sep, right = line.partition(" ingest ")
        assert sep, line  # a space before the counters, whatever the width
        assert right.endswith("21:57:53")
        assert left.startswith("tui-monitor  vm")
        assert left.endswith(("esc: live", "…")), line
