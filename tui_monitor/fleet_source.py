"""`FleetSource`: the local snapshot source with the fleet's hosts and agents added.

It sits beside source.py, not in fleet/: config.py imports fleet/settings.py, so nothing in
fleet/ may import the sources (which import the config) without a cycle.

What the viewer gets is the local snapshot, with `hosts` (every configured host's
`HostStatus`, in config order) and the remote hosts' agents appended after the local ones,
each tagged `host=<its host's name>` (local agents keep `host=None`). Names are kept as the
remote said them (cleaned), so two hosts may both have a `claude#1`: a row is keyed by
`(agent.host, agent.name)`, never by name alone. A host that is not `live` or `slow` keeps its
last agents on screen with status `stale` (their figures are its last known ones).

It emits on each local tick, and at once when a host's state changes; a remote snapshot alone
waits for the next local tick (ten hosts must not redraw the screen ten times a second). The
local history never sees any of this: the recorder writes what its own sampler produced, and
only the snapshots handed to the screen are merged.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from .config import Settings
from .errors import AlreadyRecording
from .fleet import Fleet
from .models import AgentSample, HostStatus, Snapshot
from .source import AttachedSource, Emit, LiveSource, Mode, SnapshotSource, TasksChanged
from .store.queries import History

STOP_GRACE = 5.0
"""Seconds the links have, once stopped, to end their ssh processes before being cancelled."""
_SHOWN_AS_IS = ("live", "slow")
"""Host states whose agents are shown with their own status (else: `stale`)."""


class FleetSource(SnapshotSource):
    """A SnapshotSource wrapping the local one: mode, detail, warning, notices and history
    are the local source's."""

    def __init__(self, local: SnapshotSource, fleet: Fleet) -> None:
        self.local = local
        self.fleet = fleet
        self._last: Snapshot | None = None
        self._states: tuple[tuple[str, str], ...] = ()
        self._tagged: dict[str, tuple[Snapshot, bool, tuple[AgentSample, ...]]] = {}
        """Per host: the snapshot and staleness its tagged agents were made from."""

    @property
    def mode(self) -> Mode:
        return self.local.mode

    @mode.setter
    def mode(self, value: Mode) -> None:
        self.local.mode = value

    @property
    def db(self) -> Path | None:
        return self.local.db

    @db.setter
    def db(self, value: Path | None) -> None:
        self.local.db = value

    @property
    def notice(self) -> str | None:
        return self.local.notice

    @notice.setter
    def notice(self, value: str | None) -> None:
        self.local.notice = value

    @property
    def detail(self) -> str:
        return self.local.detail

    @property
    def warning(self) -> str:
        return self.local.warning

    def history(self) -> History | None:
        return self.local.history()

    def follow_tasks(self, fn: TasksChanged) -> None:
        self.local.follow_tasks(fn)

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        def local_tick(snap: Snapshot) -> None:
            self._last = snap
            merged = self.merged(snap)
            self._states = _states(merged.hosts)
            emit(merged)

        def host_changed() -> None:
            if self._last is None:
                return
            hosts = self.fleet.statuses()
            if _states(hosts) != self._states:
                self._states = _states(hosts)
                emit(self.merged(_again(self._last), hosts))

        fleet = asyncio.create_task(self.fleet.run(host_changed, stop))
        try:
            await self._run_local(local_tick, stop)
        finally:
            if stop.is_set():  # the links stop their ssh themselves, promptly
                await asyncio.wait({fleet}, timeout=STOP_GRACE)
            fleet.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fleet

    async def _run_local(self, emit: Emit, stop: asyncio.Event) -> None:
        """The local source; one that finds a recorder already running (started between
        our check and our lock) follows it instead, as the app does for a bare source."""
        while True:
            try:
                await self.local.run(emit, stop)
                return
            except AlreadyRecording as exc:
                local = self.local
                if not isinstance(local, LiveSource):
                    raise
                settings: Settings = local.settings
                self.local = AttachedSource(local.path, settings.interval, exc.pid, settings)

    def merged(self, snap: Snapshot, hosts: tuple[HostStatus, ...] | None = None) -> Snapshot:
        """`snap` with the fleet's hosts and their agents (see the module's note)."""
        hosts = self.fleet.statuses() if hosts is None else hosts
        agents = list(snap.agents)
        for status in hosts:
            agents += self._agents_of(status)
        return snap.model_copy(update={"agents": tuple(agents), "hosts": hosts})

    def _agents_of(self, status: HostStatus) -> tuple[AgentSample, ...]:
        remote = status.snapshot
        if remote is None:
            return ()
        stale = status.state not in _SHOWN_AS_IS
        cached = self._tagged.get(status.name)
        if cached is not None and cached[0] is remote and cached[1] == stale:
            return cached[2]
        update: dict[str, object] = {"host": status.name}
        if stale:
            update["status"] = "stale"
        tagged = tuple(a.model_copy(update=update) for a in remote.agents)
        self._tagged[status.name] = (remote, stale, tagged)
        return tagged


def _again(snap: Snapshot) -> Snapshot:
    """A local tick shown a second time (a host changed state): its events, errors and usage
    were shown the first time and must not be counted twice."""
    return snap.model_copy(update={"events": (), "errors": (), "usage": (), "event_rows": None})


def _states(hosts: tuple[HostStatus, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((h.name, h.state) for h in hosts)


def with_fleet(settings: Settings, local: SnapshotSource) -> SnapshotSource:
    """`local` wrapped in a FleetSource over ssh when `[[hosts]]` (or `--host`) name any;
    else `local` itself."""
    if not settings.hosts:
        return local
    from .fleet.link import SshFleet, control_dir

    return FleetSource(local, SshFleet(settings.hosts, settings.fleet, control_dir()))
