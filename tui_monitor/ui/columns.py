"""The agent table's columns: how each cell is formatted, sorted, and which ones fit."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from rich.text import Text

from .. import fmt, safe
from ..models import AgentSample

STATUS_STYLE = {
    "running": "bold green",
    "idle": "cyan",
    "waiting": "yellow",
    "stopped": "bold yellow",
    "zombie": "bold red",
    "exited": "dim",
    "stale": "bold magenta",
}
STATUS_ORDER = {s: i for i, s in enumerate(STATUS_STYLE)}


def shown_status(agent: AgentSample) -> str:
    """What the agent says it is doing (e.g. "thinking"), unless the process says worse."""
    if agent.reported and agent.status in ("running", "idle", "waiting"):
        return agent.reported
    return agent.status


@dataclass(frozen=True, slots=True)
class AgentStats:
    """What the event stream says about one agent (the table's messages/errors/age columns)."""

    messages: int = 0
    errors: int = 0
    last_event: float | None = None
    tasks: int = 0
    """Tasks in an assigned folder of a task board under this agent's name."""


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    priority: int
    """0 is always shown; higher numbers are dropped first on narrow terminals."""
    right: bool
    cell: Callable[[AgentSample, AgentStats, float], str]
    sort: Callable[[AgentSample, AgentStats, float], object]


def _num(v: float | None) -> float:
    return -1.0 if v is None else float(v)


def _age(stats: AgentStats, now: float) -> float | None:
    return None if stats.last_event is None else now - stats.last_event


COLUMNS: tuple[Column, ...] = (
    Column("name", "NAME", 14, 0, False, lambda a, s, n: a.name, lambda a, s, n: a.name.lower()),
    Column("kind", "KIND", 9, 6, False, lambda a, s, n: a.kind, lambda a, s, n: a.kind),
    Column(
        "status",
        "STATUS",
        8,
        0,
        False,
        lambda a, s, n: shown_status(a),
        lambda a, s, n: STATUS_ORDER.get(a.status, 99),
    ),
    Column(
        "pid",
        "PID",
        7,
        3,
        True,
        lambda a, s, n: "-" if a.pid is None else str(a.pid),
        lambda a, s, n: _num(a.pid),
    ),
    Column(
        "cpu",
        "CPU%",
        6,
        0,
        True,
        lambda a, s, n: "-" if a.cpu_utilization is None else f"{a.cpu_utilization:.1f}",
        lambda a, s, n: _num(a.cpu_utilization),
    ),
    Column(
        "mem",
        "MEM",
        9,
        1,
        True,
        lambda a, s, n: fmt.size(a.ram_used),
        lambda a, s, n: _num(a.ram_used),
    ),
    Column(
        "gpu",
        "GPU MEM",
        9,
        4,
        True,
        lambda a, s, n: fmt.size(a.gpu_memory_used),
        lambda a, s, n: _num(a.gpu_memory_used),
    ),
    Column(
        "procs",
        "PROCS",
        5,
        5,
        True,
        lambda a, s, n: str(a.procs) if a.pid else "-",
        lambda a, s, n: a.procs,
    ),
    Column(
        "queue",
        "QUEUE",
        5,
        7,
        True,
        lambda a, s, n: "-" if a.queue_depth is None else str(a.queue_depth),
        lambda a, s, n: _num(a.queue_depth),
    ),
    Column(
        "msgs",
        "MSGS",
        5,
        7,
        True,
        lambda a, s, n: str(s.messages),
        lambda a, s, n: s.messages,
    ),
    Column(
        "errs",
        "ERRS",
        4,
        2,
        True,
        lambda a, s, n: str(a.errors) if a.errors else "-",
        lambda a, s, n: a.errors,
    ),
    Column(
        "cost",
        "COST",
        7,
        4,
        True,
        lambda a, s, n: fmt.usd(a.cost),
        lambda a, s, n: _num(a.cost),
    ),
    Column(
        "age",
        "LAST EV",
        7,
        6,
        True,
        lambda a, s, n: fmt.coarse_duration(_age(s, n)),
        lambda a, s, n: -_num(_age(s, n)) if s.last_event is not None else float("-inf"),
    ),
    Column(
        "tasks",
        "TASKS",
        5,
        4,
        True,
        lambda a, s, n: str(s.tasks) if s.tasks else "-",
        lambda a, s, n: s.tasks,
    ),
    Column(
        "uptime",
        "UPTIME",
        7,
        2,
        True,
        lambda a, s, n: fmt.coarse_duration(a.uptime(n)),
        lambda a, s, n: _num(a.uptime(n)),
    ),
)
BY_KEY = {c.key: c for c in COLUMNS}
NAME_MAX = 28


def fitting(width: int, name_width: int, skip: Collection[str] = ()) -> list[Column]:
    """The columns that fit in `width` cells, dropping the highest priority numbers first
    (`skip`: columns not wanted at all, e.g. TASKS without task boards)."""
    chosen = [c for c in COLUMNS if c.key not in skip]
    gap = 2  # DataTable's cell padding (1 each side)

    def total(cols: list[Column]) -> int:
        return sum((name_width if c.key == "name" else c.width) + gap for c in cols)

    for drop in sorted({c.priority for c in COLUMNS if c.priority > 0}, reverse=True):
        if total(chosen) <= width:
            break
        chosen = [c for c in chosen if c.priority != drop]
    return chosen


def cell(column: Column, agent: AgentSample, stats: AgentStats, now: float) -> Text:
    """One cell as a Text (never markup): untrusted values were cleaned by the collector."""
    value = column.cell(agent, stats, now)
    style = ""
    if column.key == "status":
        style = STATUS_STYLE.get(agent.status, "")
    elif column.key == "name":
        style = "bold"
    elif column.key == "errs" and agent.errors:
        style = "bold red"
    text = safe.text(value, style=style, limit=NAME_MAX if column.key == "name" else 64)
    if column.right:
        text.justify = "right"
    return text


def compile_filter(query: str) -> Callable[[AgentSample], bool] | None:
    """`/` filter: a case-insensitive regex over name, kind and status (plain text if invalid)."""
    query = query.strip()
    if not query:
        return None
    try:
        pattern = re.compile(query, re.IGNORECASE)
    except re.error:
        pattern = re.compile(re.escape(query), re.IGNORECASE)
    return lambda a: any(pattern.search(v) for v in (a.name, a.kind, a.status, a.reported or ""))
