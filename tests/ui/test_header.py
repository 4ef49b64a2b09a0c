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


class Crowded(App[None]):
    """Every counter at once, one receiver off with asyncio's long reason, on a narrow screen."""

    def compose(self) -> ComposeResult:
        yield HeaderBar()

    def on_mount(self) -> None:
        from tui_monitor.models import OtlpStatus

        off = OtlpStatus(listening="off: error while attempting to bind on address "
                         "('127.0.0.1', 4318): address already in use")  # fmt: skip
        idle = IngestStats(listening="/run/user/0/tui-monitor.sock")
        self.query_one(HeaderBar).show("vm", "live", "took over from pid 4242", "21:57:53",
                                       ingest=idle, otlp=off)  # fmt: skip


@pytest.mark.parametrize("width", [120, 100, 80])
async def test_the_mode_is_never_crowded_out_by_the_counters(width: int) -> None:
    """Too narrow for the mode and every counter: a receiver that took nothing says nothing,
    and one that is off says only `otlp off` (the reason is in `status`)."""
    app = Crowded()
    async with app.run_test(size=(width, 3)) as pilot:
        await pilot.pause()
        line = str(app.screen.query_one(HeaderBar).render_line(0).text)
        assert " LIVE " in line and line.rstrip().endswith("otlp off  21:57:53"), line
        assert "ingest" not in line, line  # nothing in, nothing refused: no room spent
        if width >= 100:
            assert "took over from pid 4242" in line, line
