"""Waits that never lose a cancel (tui_monitor/aio.py): the recorder's loops end at shutdown."""

from __future__ import annotations

import asyncio

import pytest

from tui_monitor.aio import wait_set, within


async def test_a_cancel_that_meets_the_event_is_not_lost() -> None:
    """The race that hung the recorder's shutdown on 3.11: the event is set and the task is
    cancelled in the same loop turn. `asyncio.wait_for` there returned normally and the loop
    went round again; `wait_set` ends the task."""
    event = asyncio.Event()
    rounds = 0

    async def loop() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            await wait_set(event, 30)
            event.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # the loop is now waiting on the event
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), 5)
    assert task.cancelled() and rounds == 1


async def test_wait_set_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    event.set()
    assert await wait_set(event, 5) is True


async def test_within_returns_the_result_or_times_out() -> None:
    assert await within(asyncio.sleep(0, "done"), 5) == "done"
    with pytest.raises(TimeoutError):
        await within(asyncio.sleep(5), 0.01)
