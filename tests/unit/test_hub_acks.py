"""The hub's bookkeeping of `"ack": "stored"`: which commit settles which message."""

from __future__ import annotations

import asyncio
import json

from tui_monitor.ingest.hub import IngestHub


def line(n: int, ack: str | None = "stored") -> bytes:
    message: dict[str, object] = {"v": 1, "type": "event", "agent": "a", "message": str(n)}
    if ack is not None:
        message["ack"] = ack
    return json.dumps(message).encode()


def take(hub: IngestHub, n: int) -> asyncio.Future[str | None]:
    reason, waiter = hub.take(line(n))
    assert reason is None and waiter is not None
    return waiter


async def test_a_commit_settles_exactly_the_ticks_it_holds() -> None:
    hub = IngestHub()
    first, second = take(hub, 1), take(hub, 2)
    assert hub.take(line(3, ack=None)) == (None, None)  # the default: answered at once
    hub.drain(seq=10)
    third = take(hub, 4)
    hub.drain(seq=11)
    hub.drain(seq=12)  # nothing in it
    later = take(hub, 5)  # not taken by any tick yet
    hub.committed(3, through_seq=10)
    assert first.result() is None and second.result() is None
    assert not third.done() and not later.done()
    hub.committed(1, through_seq=12)
    assert third.result() is None and not later.done()
    assert hub.stored == 4


async def test_lost_ticks_forgotten_ticks_and_a_stop_are_errors() -> None:
    hub = IngestHub()
    a = take(hub, 1)
    hub.drain(seq=1)
    b = take(hub, 2)
    hub.drain(seq=2)
    c = take(hub, 3)
    hub.drain(seq=3)
    d = take(hub, 4)
    hub.forget(3, "tick 3 failed: ValueError")  # out of order: the newest tick broke
    assert c.result() == "not stored: tick 3 failed: ValueError"
    hub.lost(1, "disk full")
    assert a.result() == "not stored: disk full" and not b.done()
    hub.committed(1, through_seq=2)
    assert b.result() is None
    hub.abandon("not stored: the recorder stopped before writing it")
    assert d.result() == "not stored: the recorder stopped before writing it"


async def test_history_off_answers_at_once_and_keeps_no_books() -> None:
    hub = IngestHub()
    hub.not_storing = "not stored: history is off (Read-only file system)"
    waiter = take(hub, 1)
    assert waiter.result() == hub.not_storing
    for seq in range(100):
        hub.take(line(seq, ack=None))
        hub.drain(seq=seq)
    assert not hub._drains and not hub._waiters


async def test_an_unknown_ack_is_refused() -> None:
    hub = IngestHub()
    reason, waiter = hub.take(line(1, ack="eventually"))
    assert waiter is None and reason is not None and reason.startswith("ack:")
