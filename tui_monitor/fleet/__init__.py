"""The fleet: agents of other machines on this dashboard, over SSH (issue 17).

Each `[[hosts]]` entry (or `tui-monitor --host NAME`) runs `ssh -T HOST tui-monitor stream`
through the system ssh; `tui-monitor stream` prints that host's recorder as newline-delimited
JSON (a handshake line with the protocol version, then one snapshot a tick). The viewer keeps
each host's newest snapshot and state (`models.HostStatus`) and merges their agents into the
local snapshot it shows; the local history never records them.

- protocol.py: the stream's lines (handshake, snapshot, error), bounded and versioned;
- settings.py: `[fleet]` and `[[hosts]]`;
- link.py: one host's ssh process, its state, timeout and backoff; `SshFleet` runs them all;
- ../fleet_source.py: `FleetSource`, a snapshot source that wraps the local one and adds
  the hosts (outside this package: config.py imports settings.py, the sources import config).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from ..models import HostStatus


class Fleet(Protocol):
    """What the viewer needs of the fleet (fleet/link.py's `SshFleet`; tests' fakes)."""

    def statuses(self) -> tuple[HostStatus, ...]:
        """Every configured host, in config order, with its newest snapshot."""
        ...

    async def run(self, on_change: Callable[[], None], stop: asyncio.Event) -> None:
        """Keep every host's link going until `stop`; `on_change` after any host's state or
        snapshot changed (called on the event loop)."""
        ...
