"""Waiting with a timeout inside loops that get cancelled.

On Python 3.11 `asyncio.wait_for` swallows a cancellation that arrives just as the awaited
thing completes (CPython gh-86296, fixed in 3.12): the cancelled loop then runs on, and
whoever gathers it at shutdown waits for ever (seen: the recorder's open-errors loop, whose
event a final commit sets while it is being cancelled). `asyncio.timeout` has no such race.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_set(event: asyncio.Event, timeout: float) -> bool:
    """Whether `event` was set within `timeout` seconds; a cancel is never lost."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def within(aw: Awaitable[T], timeout: float) -> T:
    """`aw`'s result, or TimeoutError after `timeout` seconds; a cancel is never lost."""
    async with asyncio.timeout(timeout):
        return await aw
