"""The fleet on the dashboard (issue 17): how the UI keys agents of several machines, what a
host's state looks like on its rows, and the event-log line each change of state makes.

Names repeat across machines (two GPU boxes each run `claude`), so every place the UI keeps
an agent (table rows, selection, tallies, chart points, toasts) uses `agent_key`: the bare
name for this machine's agents, so local-only behaviour and its keys are what they always
were, and a form no local name can take for another host's.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import fmt, safe
from ..models import AgentEvent, AgentSample, EventLevel, HostState, HostStatus, Snapshot

SEP = "\x00"
"""Separates host and name in a remote agent's key; host names (config-validated) never
hold it, and a local name starting with it is escaped, so no two agents share a key."""
STATE_STYLE: dict[HostState, str] = {
    "live": "green",
    "connecting": "cyan",
    "slow": "yellow",
    "stale": "bold magenta",
    "unreachable": "bold red",
    "failed": "bold red",
}
"""A host's state on its rows' STATUS, the Hosts card and the hosts panel."""
STATE_LEVEL: dict[HostState, EventLevel] = {
    "live": "info",
    "connecting": "info",
    "slow": "warning",
    "stale": "warning",
    "unreachable": "error",
    "failed": "error",
}
REASON_MAX = 200
"""Characters of a host's reason on one line (the remote's text: cleaned, bounded)."""


def row_key(host: str | None, name: str) -> str:
    """The key of agent `name` on `host` (None: this machine): the name itself locally."""
    if host is None:
        return SEP + SEP + name if name.startswith(SEP) else name
    return f"{SEP}{host.replace(SEP, '')}{SEP}{name}"


def agent_key(agent: AgentSample) -> str:
    """The key the UI keeps `agent` under (rows, selection, tallies, chart, toasts)."""
    return row_key(agent.host, agent.name)


def split_key(key: str) -> tuple[str | None, str]:
    """(host or None, name) of a key made by `row_key`."""
    if key.startswith(SEP + SEP):
        return None, key[2:]
    if key.startswith(SEP):
        host, _, name = key[1:].partition(SEP)
        return host, name
    return None, key


def key_label(key: str, limit: int = 40) -> str:
    """A key as a person reads it, cleaned: `claude` here, `claude@gpu1` on another host."""
    host, name = split_key(key)
    shown = safe.name(name, limit)
    return shown if host is None else f"{shown}@{safe.name(host, 64)}"


def short_hostname(hostname: str) -> str:
    """This machine in the HOST column: its hostname up to the first dot, cleaned."""
    return safe.name(hostname.split(".", 1)[0] or hostname or "local", 32)


def age(seconds: float | None) -> str:
    """How old a host's newest snapshot is: 42s, 3m, 2h05m (seconds only while they matter:
    a minute-old host's rows then change once a minute, not every tick)."""
    if seconds is None:
        return "never"
    s = int(max(0.0, seconds))
    return f"{s}s" if s < 60 else fmt.coarse_duration(s)


def snapshot_age(host: HostStatus, now: float) -> float | None:
    """Seconds since its newest snapshot arrived (our clock: immune to the remote's skew)."""
    ref = host.received_at if host.received_at is not None else host.last_ts
    return None if ref is None else max(0.0, now - ref)


def state_label(host: HostStatus, now: float) -> str:
    """`stale 42s`, `unreachable 3m`: the host's state and the age of its newest snapshot."""
    return f"{host.state} {age(snapshot_age(host, now))}"


def reason(host: HostStatus) -> str:
    """Its reason as one line of inert text (the remote's words are hostile)."""
    return safe.clean(host.reason or "", REASON_MAX)


class HostEvent(AgentEvent):
    """A host's change of state in the event log: `gpu1 unreachable: ssh: ...`. Its own
    type, so no agent's tallies or event list ever count it, whatever names agents pick."""


class HostLog:
    """Turns each tick's host states into event-log lines, one per change: a retry's
    `connecting` says nothing, and a host failing again for the same reason is no news."""

    def __init__(self) -> None:
        self._said: dict[str, tuple[str, str]] = {}

    def changes(self, snap: Snapshot) -> list[HostEvent]:
        out: list[HostEvent] = []
        for host in snap.hosts:
            if host.state == "connecting":
                continue
            why = reason(host) if host.state in ("unreachable", "failed") else ""
            said = (host.state, why)
            if self._said.get(host.name) == said:
                continue
            self._said[host.name] = said
            message = why or (reason(host) if host.state != "live" else "")
            if host.state == "live" and host.remote_version:
                message = f"tui-monitor {safe.clean(host.remote_version, 40)}"
            out.append(
                HostEvent(
                    ts=snap.ts,
                    agent=host.name,
                    kind=host.state,
                    level=STATE_LEVEL[host.state],
                    message=message,
                )
            )
        return out


def counts(agents: Iterable[AgentSample]) -> dict[str, int]:
    """Agents per host name (this machine's are not counted)."""
    out: dict[str, int] = {}
    for a in agents:
        if a.host is not None:
            out[a.host] = out.get(a.host, 0) + 1
    return out
