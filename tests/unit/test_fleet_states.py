"""Fleet links without ssh: backoff, the flood bound, stale marking on an injected clock, and
the merge of hosts into the local snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from factories import agent, event, snapshot
from recorders import eventually

from tui_monitor.fleet import protocol
from tui_monitor.fleet.link import FLOOD_LINES, SLOW_MIN, Backoff, Flood, HostLink
from tui_monitor.fleet.settings import FleetSettings, HostConfig
from tui_monitor.fleet_source import FleetSource
from tui_monitor.models import HostState, HostStatus, Snapshot
from tui_monitor.source import ScriptedSource


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_to_its_maximum_and_resets() -> None:
    b = Backoff(maximum=10.0)
    assert [b.failed() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    b.reset()
    assert b.failed() == 1.0


def test_flood_counts_lines_and_bytes_a_second() -> None:
    clock = Clock()
    flood = Flood(clock)
    assert all(flood.over(10) is None for _ in range(FLOOD_LINES))
    assert flood.over(10) == f"flooding: over {FLOOD_LINES} lines a second"
    clock.now += 1.0
    assert flood.over(10) is None
    assert flood.over(3 * protocol.MAX_LINE) is not None


async def _connected(link: HostLink, changes: list[HostState]) -> asyncio.StreamReader:
    """A link reading a stream fed by the test (as ssh's stdout would be)."""
    out = asyncio.StreamReader()
    out.feed_data(protocol.encode_handshake("9.9", "far", 1.0))
    asyncio.get_running_loop().create_task(link._read(out, lambda: changes.append(link.state)))
    await eventually(lambda: link.remote_version == "9.9")
    return out


async def test_live_slow_stale_by_the_age_of_the_newest_snapshot() -> None:
    clock = Clock()
    link = HostLink(
        HostConfig(name="far"), FleetSettings(stale_after=10.0), monotonic=clock, wall=clock
    )
    changes: list[HostState] = []
    out = await _connected(link, changes)
    assert link.state == "connecting"
    out.feed_data(protocol.encode_snapshot(snapshot(1, [agent("a")])))
    await eventually(lambda: link.snapshot is not None)
    assert link.status.state == "live" and link.status.received_at == clock.now
    clock.now += 2.5  # over two intervals
    assert link.refresh() and link.state == "slow"
    assert not link.refresh()  # no change, no report
    clock.now += 8.0
    assert link.refresh() and link.state == "stale"
    assert link.reason == "no snapshot for over 10s"
    out.feed_data(protocol.encode_heartbeat("recorder stopped 3m ago"))
    await eventually(lambda: link.reason == "recorder stopped 3m ago")
    assert link.state == "stale"
    out.feed_data(protocol.encode_snapshot(snapshot(2, [agent("a")])))
    await eventually(lambda: link.state == "live")
    assert changes[0] == "connecting" and "live" in changes


async def test_a_fast_remote_is_slow_only_when_seconds_late() -> None:
    """Two of a 0.2 s remote's intervals are a hiccup of our own loop, not a slow host."""
    clock = Clock()
    link = HostLink(HostConfig(name="far"), FleetSettings(), monotonic=clock, wall=clock)
    out = await _connected(link, [])
    snap = snapshot(1, [agent("a")]).model_copy(update={"interval": 0.2})
    out.feed_data(protocol.encode_snapshot(snap))
    await eventually(lambda: link.state == "live")
    clock.now += 1.0
    assert not link.refresh() and link.state == "live"
    clock.now += 1.5
    assert link.refresh() and link.state == "slow"
    assert link.reason == f"no snapshot for over {SLOW_MIN:g}s"


async def test_connected_without_a_snapshot_turns_stale() -> None:
    clock = Clock()
    link = HostLink(HostConfig(name="far"), FleetSettings(stale_after=5.0), monotonic=clock)
    await _connected(link, [])
    clock.now += 4.0
    assert not link.refresh() and link.state == "connecting"
    clock.now += 2.0
    assert link.refresh() and link.state == "stale"


class FakeFleet:
    def __init__(self, hosts: list[HostStatus]) -> None:
        self.hosts = hosts
        self.on_change: Callable[[], None] | None = None

    def statuses(self) -> tuple[HostStatus, ...]:
        return tuple(self.hosts)

    async def run(self, on_change: Callable[[], None], stop: asyncio.Event) -> None:
        self.on_change = on_change
        await stop.wait()


def host(name: str, state: HostState, agents: list[str]) -> HostStatus:
    snap = snapshot(50, [agent(n) for n in agents]) if agents else None
    return HostStatus(name=name, state=state, snapshot=snap)


async def test_merge_tags_remote_agents_and_emits_on_state_changes_only() -> None:
    ticks = [snapshot(1, [agent("claude#1")]), snapshot(2, [agent("claude#1")], [event("x")])]
    local = ScriptedSource(ticks)
    fleet = FakeFleet([host("gpu1", "live", ["claude#1", "codex"]), host("gpu2", "connecting", [])])
    source = FleetSource(local, fleet)
    seen: list[Snapshot] = []
    stop = asyncio.Event()
    task = asyncio.create_task(source.run(seen.append, stop))
    await eventually(lambda: seen and fleet.on_change)
    first = seen[-1]
    assert [(a.host, a.name) for a in first.agents] == [
        (None, "claude#1"),
        ("gpu1", "claude#1"),
        ("gpu1", "codex"),
    ]
    assert [h.name for h in first.hosts] == ["gpu1", "gpu2"] and first.seq == 1
    assert source.mode == "scripted" and source.history() is None

    # A new remote snapshot alone: no emit until the next local tick.
    fleet.hosts[0] = host("gpu1", "live", ["codex"])
    assert fleet.on_change is not None
    fleet.on_change()
    assert len(seen) == 1
    local.step()
    assert len(seen) == 2 and [a.name for a in seen[-1].agents] == ["claude#1", "codex"]

    # A state change: at once, with the last local snapshot.
    fleet.hosts[0] = host("gpu1", "unreachable", ["codex"])
    fleet.on_change()
    assert len(seen) == 3 and seen[-1].seq == 2
    assert seen[1].events and not seen[2].events  # the tick's events are shown once
    assert seen[-1].agents[1].status == "stale"  # its last known rows, honestly stale
    assert seen[-1].hosts[0].state == "unreachable"
    stop.set()
    await task


@pytest.mark.parametrize("state", ["live", "slow"])
def test_live_hosts_keep_their_agents_status(state: HostState) -> None:
    source = FleetSource(ScriptedSource([]), FakeFleet([host("gpu1", state, ["a"])]))
    merged = source.merged(snapshot(1, []))
    assert merged.agents[0].status == "running" and merged.agents[0].host == "gpu1"


def test_the_local_snapshot_is_left_alone() -> None:
    """The recorder writes its own snapshot: merging never changes it (history is local)."""
    local_snap = snapshot(1, [agent("a")])
    source = FleetSource(ScriptedSource([]), FakeFleet([host("gpu1", "live", ["b"])]))
    merged = source.merged(local_snap)
    assert len(merged.agents) == 2 and local_snap.agents == (agent("a"),)
    assert local_snap.hosts == ()
