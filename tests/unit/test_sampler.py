"""The sampler: frozen snapshots, subscribers, deadlines, and blocking work off the loop."""

from __future__ import annotations

import asyncio
import itertools
import time

import pydantic
import pytest

from tui_monitor.collect.host import HostCollector
from tui_monitor.config import GpuSettings, Settings
from tui_monitor.models import HostSample, Snapshot
from tui_monitor.sampler import Sampler


def settings(**kw: object) -> Settings:
    return Settings(gpu=GpuSettings(enabled=False), **kw)  # type: ignore[arg-type]


class SlowHost(HostCollector):
    """A real host collector that also blocks its thread, like a slow /proc read would."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def sample(self) -> HostSample:
        time.sleep(self.delay)
        return super().sample()


async def test_ticks_are_numbered_frozen_and_utc() -> None:
    sampler = Sampler(settings())
    first = await sampler.tick()
    second = await sampler.tick()
    assert (first.seq, second.seq) == (1, 2)
    assert second.ts >= first.ts
    assert second.ts.utcoffset() is not None and second.ts.utcoffset().total_seconds() == 0
    assert first.host.cpu_utilization is None  # rates need two readings
    assert second.gpu.available is False and second.gpu.reason == "disabled in config"
    with pytest.raises(pydantic.ValidationError):
        second.seq = 5  # type: ignore[misc]
    assert sampler.last is second


async def test_subscribers_sync_async_and_broken() -> None:
    sampler = Sampler(settings())
    got_sync: list[int] = []
    got_async: list[int] = []

    def sync(s: Snapshot) -> None:
        got_sync.append(s.seq)

    async def slow(s: Snapshot) -> None:
        await asyncio.sleep(0)
        got_async.append(s.seq)

    def broken(s: Snapshot) -> None:
        raise RuntimeError("subscriber bug")

    sampler.subscribe(broken)
    unsubscribe = sampler.subscribe(sync)
    sampler.subscribe(slow)
    await sampler.tick()
    unsubscribe()
    await sampler.tick()
    assert got_sync == [1]
    assert got_async == [1, 2]
    assert sampler.subscriber_errors == 2


async def test_blocking_collection_runs_off_the_event_loop() -> None:
    sampler = Sampler(settings(), host=SlowHost(0.5))
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            await asyncio.sleep(0.02)
            beats += 1

    task = asyncio.create_task(heartbeat())
    await sampler.tick()
    task.cancel()
    # A loop blocked for 0.5 s would have beaten at most once or twice.
    assert beats >= 10


async def test_run_keeps_deadlines_and_stops() -> None:
    sampler = Sampler(settings(interval=0.2))
    stop = asyncio.Event()
    snaps: list[Snapshot] = []

    def collect(s: Snapshot) -> None:
        snaps.append(s)
        if len(snaps) == 5:
            stop.set()

    sampler.subscribe(collect)
    await asyncio.wait_for(sampler.run(stop), timeout=10)
    assert [s.seq for s in snaps] == [1, 2, 3, 4, 5]
    assert all(s.interval == 0.2 for s in snaps)
    assert all(s.lag >= 0 for s in snaps)
    assert all(s.duration >= 0 for s in snaps)
    # ticks sit on a 0.2 s grid: four gaps of ~0.2 s, never bursts
    gaps = [(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(snaps)]
    assert all(g > 0.1 for g in gaps), gaps


async def test_overrun_skips_ticks_instead_of_bursting() -> None:
    sampler = Sampler(settings(interval=0.2), host=SlowHost(0.5))
    stop = asyncio.Event()
    snaps: list[Snapshot] = []

    def collect(s: Snapshot) -> None:
        snaps.append(s)
        if len(snaps) == 3:
            stop.set()

    sampler.subscribe(collect)
    await asyncio.wait_for(sampler.run(stop), timeout=10)
    assert sampler.ticks_skipped >= 2
    assert all(s.lag < 0.2 + 0.05 for s in snaps)


async def test_tick_error_does_not_kill_the_loop() -> None:
    class Flaky(HostCollector):
        calls = 0

        def sample(self) -> HostSample:
            Flaky.calls += 1
            if Flaky.calls == 2:
                raise OSError("transient")
            return super().sample()

    sampler = Sampler(settings(interval=0.2), host=Flaky())
    stop = asyncio.Event()
    seqs: list[int] = []

    def collect(s: Snapshot) -> None:
        seqs.append(s.seq)
        if len(seqs) == 3:
            stop.set()

    sampler.subscribe(collect)
    await asyncio.wait_for(sampler.run(stop), timeout=10)
    assert seqs == [1, 2, 3]
    assert Flaky.calls == 4
    assert sampler.tick_errors == 1
    assert sampler.last_error == "OSError: transient"


async def test_a_live_state_change_ticks_at_once_and_the_rhythm_goes_on() -> None:
    """A hook saying "needs input" wakes the sampler (sessions/book.py `on_change`): the next
    tick comes at once, not after the interval (here 60 s: without the wake the test would
    time out), never closer than WAKE_MIN to the one before, and later ticks keep the
    interval from it."""
    from tui_monitor.sampler import WAKE_MIN
    from tui_monitor.sessions.feed import SessionFeed
    from tui_monitor.sessions.records import SessionSignal

    sampler = Sampler(settings(interval=60.0))
    feed = SessionFeed(settings(interval=60.0), tuple)
    sampler.sessions = feed
    stop = asyncio.Event()
    snaps: list[Snapshot] = []
    sampler.subscribe(snaps.append)
    task = asyncio.create_task(sampler.run(stop))
    try:
        while not snaps:
            await asyncio.sleep(0.01)
        said = SessionSignal("claude-code", "s1", time.time(), "needs_input", "hook",
                             "PermissionRequest", "permission", "Bash")  # fmt: skip
        feed.book.add([said])
        await asyncio.wait_for(_ticks(snaps, 2), timeout=10)
        feed.book.add([said])  # the same state again: no tick
        feed.book.add([SessionSignal("claude-code", "s1", time.time(), "working", "hook",
                                     "PostToolUse", None, "Bash")])  # fmt: skip
        await asyncio.wait_for(_ticks(snaps, 3), timeout=10)
        gap = (snaps[2].ts - snaps[1].ts).total_seconds()
        assert gap >= WAKE_MIN - 0.01, gap
        # nothing woke it again (the same state said twice was no change): the next tick is
        # the interval's, 60 s on
        assert not sampler._woken.is_set() and len(snaps) == 3
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        sampler.close()


async def _ticks(snaps: list[Snapshot], n: int) -> None:
    while len(snaps) < n:
        await asyncio.sleep(0.01)
