"""Agent rows -> per-agent figures for /metrics: instances folded, names capped, summed.

Only names and numbers leave here: never a command line, a cwd, a task or a message."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import get_args

from ..models import AgentSample, AgentState, AgentStatus
from .labels import AgentSlots, fold_instance, label

STATUSES: tuple[str, ...] = get_args(AgentStatus)
STATES: tuple[str, ...] = get_args(AgentState)
STATUS_ORDER = ("running", "waiting", "idle", "stale", "zombie", "stopped", "unknown", "exited")
"""A folded agent shows the first of its instances' statuses in this order: the most active."""
STATE_ORDER = ("needs_input", "error", "working", "quiet", "idle", "ended")
"""Likewise for live states: one that needs a person first."""


@dataclass
class AgentFigures:
    """One `agent` label value: the sums over the rows folded into it."""

    instances: int = 0
    cpu: float | None = None
    """Percent of one core."""
    memory: dict[str, int] = field(default_factory=dict)
    """"pss"/"rss" -> bytes."""
    gpu_memory: int | None = None
    procs: int = 0
    threads: int | None = None
    errors: int = 0
    cost_today: float | None = None
    status: str = "unknown"
    state: str | None = None


def _first(order: tuple[str, ...], a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a if b is None else b
    return a if order.index(a) <= order.index(b) else b


def _plus(a: float | None, b: float | None) -> float | None:
    return a if b is None else b if a is None else a + b


def _add(f: AgentFigures, a: AgentSample) -> None:
    f.instances += 1
    f.cpu = _plus(f.cpu, a.cpu_utilization)
    if a.ram_used is not None:
        kind = a.ram_kind or "rss"
        f.memory[kind] = f.memory.get(kind, 0) + a.ram_used
    if a.gpu_memory_used is not None:
        f.gpu_memory = (f.gpu_memory or 0) + a.gpu_memory_used
    f.procs += a.procs
    if a.threads is not None:
        f.threads = (f.threads or 0) + a.threads
    f.errors += a.errors
    f.cost_today = _plus(f.cost_today, a.cost)
    status = a.status if a.status in STATUS_ORDER else "unknown"
    f.status = _first(STATUS_ORDER, f.status if f.instances > 1 else None, status) or status
    state = a.session.state if a.session is not None else None
    f.state = _first(STATE_ORDER, f.state, state if state in STATE_ORDER else None)


@dataclass
class Fleet:
    """This tick's agents as /metrics shows them."""

    agents: dict[str, AgentFigures]
    folded: int
    """Agent names summed into OTHER (past `max_agents`)."""
    by_status: Counter[str]
    """Rows (not labels) in each status."""
    by_state: Counter[str]


def fleet(rows: Iterable[AgentSample], slots: AgentSlots, fold: bool) -> Fleet:
    rows = [a for a in rows if a.host is None]  # this machine's: another host has its own
    names = [label(fold_instance(a.name) if fold else a.name) for a in rows]
    assigned, folded = slots.assign(names)
    agents: dict[str, AgentFigures] = {}
    by_status: Counter[str] = Counter(dict.fromkeys(STATUSES, 0))
    by_state: Counter[str] = Counter(dict.fromkeys(STATES, 0))
    for a, name in zip(rows, names, strict=True):
        _add(agents.setdefault(assigned[name], AgentFigures()), a)
        by_status[a.status] += 1
        if a.session is not None and a.session.state is not None:
            by_state[a.session.state] += 1
    return Fleet(agents, folded, by_status, by_state)
