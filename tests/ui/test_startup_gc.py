"""The dashboard calls its builder back once its first screen is up; the CLI passes
`startup.resume`, which turns the garbage collector back on (cli/startup.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from factories import build_app, history, ready, step, table, wait_until

from tui_monitor.cli import startup
from tui_monitor.ui import app as app_module


@pytest.fixture
def paused(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As `startup.main` leaves it; the test process gets its collector back afterwards."""
    gc.disable()
    monkeypatch.setattr(startup, "_paused", True)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()


async def test_collector_resumes_after_the_first_screen(paused: None) -> None:
    app, _ = build_app(history(), on_first_screen=startup.resume)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert table(app).row_count > 0  # the first screen is up ...
        await wait_until(pilot, gc.isenabled, what="the collector back on")  # ... then GC
        assert gc.get_freeze_count() > 0, "start-up's objects are frozen out of its sight"
        assert not startup._paused


async def test_collector_resumes_when_no_snapshot_comes(
    paused: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "FIRST_SCREEN_LATEST", 0.2)
    app, _ = build_app([], on_first_screen=startup.resume)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, gc.isenabled, what="the collector back on")
        assert app.snapshot is None


async def test_the_callback_runs_once_after_the_first_paint() -> None:
    calls: list[int] = []
    app, source = build_app(history(), on_first_screen=lambda: calls.append(table(app).row_count))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: calls, what="the callback")
        await step(pilot, source)  # later ticks paint again: no second call
        await step(pilot, source)
        assert len(calls) == 1 and calls[0] > 0, "called once, with the table already filled"
