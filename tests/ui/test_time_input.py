"""A time asked for and not recorded is said, the same way everywhere (`g`, `--at`); back
from replay the header shows the live tick at once (issue 13 item 24)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from factories import BASE, history, ready, screen_text, settings, step, wait_until
from textual.pilot import Pilot

from tui_monitor.source import ScriptedSource
from tui_monitor.store.writer import Writer
from tui_monitor.ui.app import MonitorApp, make_app
from tui_monitor.ui.screens.goto import GotoScreen

OLDEST = "2025-01-15 12:00:01Z"
"""The first recorded tick of `history()`."""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    writer = Writer(path)
    try:
        writer.write_batch(history())
    finally:
        writer.close()
    return path


@asynccontextmanager
async def replaying(
    db: Path, start_at: float | None = None
) -> AsyncIterator[tuple[MonitorApp, ScriptedSource, Pilot[None]]]:
    source = ScriptedSource(history(), db=db)
    app = make_app(settings(), source, None, utc=True, start_at=start_at)
    async with app.run_test(size=(160, 40)) as pilot:
        await ready(pilot, 1)
        yield app, source, pilot


def notices(app: MonitorApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def header(app: MonitorApp) -> str:
    return screen_text(app).splitlines()[0]


async def test_g_before_the_history_shows_the_oldest_tick_and_says_so(db: Path) -> None:
    async with replaying(db) as (app, _, pilot):
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, GotoScreen), what="prompt")
        await pilot.press(*"@0", "enter")
        await wait_until(pilot, lambda: app.replaying, what="replay")
        assert app.snapshot is not None and app.snapshot.seq == 1
        said = (
            f"nothing recorded at 1970-01-01 00:00:00Z: showing the oldest tick, {OLDEST} "
            "(20103d12h later)"
        )
        await wait_until(pilot, lambda: said in notices(app), what=said)
        await wait_until(
            pilot, lambda: "asked 01-01 00:00:00, none recorded" in header(app), what="header"
        )


async def test_at_before_the_history_says_so_the_same_way(db: Path) -> None:
    """`tui-monitor --at 3d` on a younger history."""
    three_days = BASE.timestamp() - 3 * 86400
    async with replaying(db, start_at=three_days) as (app, _, pilot):
        await wait_until(pilot, lambda: app.replaying, what="replay")
        said = (
            f"nothing recorded at 2025-01-12 12:00:00Z: showing the oldest tick, {OLDEST} "
            "(3d00h later)"
        )
        await wait_until(pilot, lambda: said in notices(app), what=said)
        assert "asked 01-12 12:00:00, none recorded" in header(app)


async def test_a_recorded_time_is_shown_without_a_word(db: Path) -> None:
    async with replaying(db) as (app, _, pilot):
        assert await app.replay_at(BASE.timestamp() + 4.5)
        await pilot.pause()
        assert app.snapshot is not None and app.snapshot.seq == 4
        assert not any("nothing recorded" in n for n in notices(app))
        assert "none recorded" not in header(app)


async def test_escape_from_replay_shows_the_live_tick_at_once(db: Path) -> None:
    async with replaying(db) as (app, source, pilot):
        await step(pilot, source)  # tick 2 live
        await pilot.press("h")
        await wait_until(pilot, lambda: app.replaying, what="replay")
        for _ in range(3):  # ticks 3-5 arrive behind the replayed moment
            source.step()
        await wait_until(
            pilot, lambda: app.live.snapshot is not None and app.live.snapshot.seq == 5
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.replaying, what="live again")
        # No new tick needed: the header's mode and clock are the newest live tick's.
        assert app.snapshot is not None and app.snapshot.seq == 5
        await wait_until(pilot, lambda: "LIVE" in header(app) or "SCRIPTED" in header(app))
        await wait_until(pilot, lambda: "12:00:05Z" in header(app), what="the live clock")
