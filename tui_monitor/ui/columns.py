"""The agent table's columns: how each cell is formatted, sorted, and which ones fit."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from rich.text import Text

from .. import fmt, safe
from ..models import AgentSample, AgentState, HostStatus, SessionState
from . import fleet
from .model_names import newest_model

STATUS_STYLE = {
    "running": "bold green",
    "idle": "cyan",
    "waiting": "yellow",
    "unknown": "dim",
    "stopped": "bold yellow",
    "zombie": "bold red",
    "exited": "dim",
    "stale": "bold magenta",
}
STATUS_ORDER = {s: i for i, s in enumerate(STATUS_STYLE)}
INFERRED = "~"
"""Marks a state inferred from a real agent's session files (`~idle`), not said by a hook or
an OTLP event nor reported by the agent."""
STATE_STYLE: dict[AgentState, str] = {
    "needs_input": "bold reverse yellow",  # blocked on its user: impossible to miss
    "error": "bold red",
    "working": "green",
    "idle": "cyan",
    "quiet": "dim",
    "ended": "dim",
}
"""A real agent's state (sessions/live.py); inferred ones are italic (`INFERRED_STYLE`)."""
INFERRED_STYLE: dict[AgentState, str] = {k: f"italic {v}" for k, v in STATE_STYLE.items()}
STATE_ORDER = {s: i for i, s in enumerate(STATE_STYLE)}
STATUS_MAX = 24
"""The widest the STATUS column grows for `needs input: <tool>` and `error: <kind>`."""
_ALIVE = ("running", "idle", "waiting", "unknown")
"""Process states that a reported or session state may stand in for; the others (stopped,
zombie, exited, stale) say worse and are shown as they are."""


def session_state(agent: AgentSample) -> SessionState | None:
    """Its session, where the session's state is what the row shows: said exactly (a hook,
    OTLP), or inferred from files when the agent reports no status; never over a process
    that says worse."""
    session = agent.session
    if session is None or session.state is None or agent.status not in _ALIVE:
        return None
    return session if session.exact or not agent.reported else None


def inferred_state(agent: AgentSample) -> AgentState | None:
    """The session's state shown on the row (exact or inferred), if any."""
    session = session_state(agent)
    return None if session is None else session.state


def needs_input(agent: AgentSample) -> bool:
    """Blocked on its user, as a hook said (a permission, a question, a dialog)."""
    return inferred_state(agent) == "needs_input"


def state_label(s: SessionState) -> str:
    """`needs input: Bash`, `needs input: question`, `error: rate_limit`, `idle`, `~quiet`:
    what the state is, what it waits on, `~` when only the files said it."""
    state = s.state or "unknown"
    text = state.replace("_", " ")
    if state == "needs_input":
        what = s.state_tool if s.state_reason in (None, "permission") else s.state_reason
        text += f": {what}" if what else ""
    elif state == "error" and s.state_reason:
        text += f": {s.state_reason}"
    return text if s.exact else INFERRED + text


def shown_status(agent: AgentSample) -> str:
    """What a hook or OTLP says the agent is doing, else what it reports (e.g. "thinking"),
    else what its session files say (`~idle`), unless the process says worse."""
    session = session_state(agent)
    if session is not None:
        return state_label(session)
    if agent.reported and agent.status in _ALIVE:
        return agent.reported
    return agent.status


def status_style(agent: AgentSample) -> str:
    session = session_state(agent)
    if session is None or session.state is None:
        return STATUS_STYLE.get(agent.status, "")
    styles = STATE_STYLE if session.exact else INFERRED_STYLE
    return styles[session.state]


def _status_rank(agent: AgentSample) -> tuple[int, int]:
    state = inferred_state(agent)
    if state == "needs_input":  # above every process state: first in the STATUS column's
        return 100, 0  # own order (largest first, as `>` picks it), the agents waiting for you
    return STATUS_ORDER.get(agent.status, 99), -1 if state is None else STATE_ORDER[state]


def _tokens(agent: AgentSample) -> int | None:
    return None if agent.session is None else agent.session.tokens.total


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


HOST = Column(
    "host",
    "HOST",
    8,
    0,
    False,
    lambda a, s, n: a.host or "",  # this machine's rows: `cell` writes its short hostname
    lambda a, s, n: (a.host is not None, (a.host or "").lower()),
)
"""Only with fleet hosts (`fitting`'s host_width), first: this machine's rows sort first."""

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
        lambda a, s, n: _status_rank(a),
    ),
    Column(
        "model",
        "MODEL",
        11,
        1,
        False,
        lambda a, s, n: newest_model(a) or "-",
        lambda a, s, n: (newest_model(a) or "").lower(),
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
        "mcp",
        "MCP",
        3,
        5,
        True,
        lambda a, s, n: str(len(a.mcp)) if a.mcp else "-",
        lambda a, s, n: len(a.mcp),
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
        # Another host's events stay there: its count here would be a false 0.
        lambda a, s, n: "-" if a.host is not None else str(s.messages),
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
        "tokens",
        "TOKENS",
        6,
        1,
        True,
        lambda a, s, n: "-" if a.session is None else fmt.count(a.session.tokens.total),
        lambda a, s, n: _num(_tokens(a)),
    ),
    Column(
        "cost",
        "COST",
        7,
        1,
        True,
        lambda a, s, n: fmt.cost(a.cost, a.unpriced),
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
BY_KEY = {c.key: c for c in (HOST, *COLUMNS)}
NAME_MAX = 28


OPTIONAL: dict[str, Callable[[AgentSample], bool]] = {
    "gpu": lambda a: a.gpu_memory_used is not None,
    "queue": lambda a: a.queue_depth is not None,
    "cost": lambda a: a.cost is not None,
    "mcp": lambda a: bool(a.mcp),
    "model": lambda a: a.session is not None,
    "tokens": lambda a: a.session is not None,
}
"""Columns that are all `-` until some agent has the figure: they give way to any other."""
UNSEEN_HIDDEN = frozenset({"mcp", "model", "tokens"})
"""Of those, the ones not shown at all until some agent has the figure: a column of `-` for
MCP would say "no servers", for MODEL and TOKENS "no session", where the history (attached,
replaying) does not keep them."""


def fitting(
    width: int,
    name_width: int,
    empty: frozenset[str] = frozenset(),
    skip: Collection[str] = (),
    status_width: int | None = None,
    host_width: int | None = None,
) -> list[Column]:
    """The columns that fit in `width` cells, in table order: the always-shown ones, then
    each other column by priority (lowest number first, empty ones last) while it fits, so
    a narrow column of lower priority still takes room a wide one left (`skip`: columns not
    wanted at all, e.g. TASKS without task boards; `host_width`: HOST first, that wide)."""
    gap = 2  # DataTable's cell padding (1 each side)
    chosen: set[str] = set()
    used = 0
    table = (HOST, *COLUMNS) if host_width else COLUMNS
    wanted = [c for c in table if c.key not in skip]
    for c in sorted(wanted, key=lambda c: (c.priority > 0, c.key in empty, c.priority)):
        need = (name_width if c.key == "name" else column_width(c, status_width, host_width)) + gap
        if c.priority == 0 or used + need <= width:
            chosen.add(c.key)
            used += need
    return [c for c in table if c.key in chosen]


def column_width(c: Column, status_width: int | None = None, host_width: int | None = None) -> int:
    """A column's width: its own, or for STATUS (HOST) the width its longest state (host)
    needs."""
    if c.key == "host" and host_width:
        return host_width
    return status_width if c.key == "status" and status_width else c.width


def status_width(agents: Iterable[AgentSample]) -> int:
    """What STATUS needs for these agents' states (`needs input: Bash`), within STATUS_MAX."""
    states = (s for a in agents if (s := session_state(a)) is not None)
    longest = max((len(state_label(s)) for s in states), default=0)
    return max(BY_KEY["status"].width, min(STATUS_MAX, longest))


def cell(
    column: Column,
    agent: AgentSample,
    stats: AgentStats,
    now: float,
    models: Mapping[str, str] | None = None,
    host: HostStatus | None = None,
    local: str = "",
) -> Text:
    """One cell as a Text (never markup), every value shown strictly as a name (`models`:
    the short name of each model, see `model_names.short_models`; `host`: the remote
    agent's host, whose state a row that is not live shows; `local`: this machine in HOST)."""
    value = column.cell(agent, stats, now)
    style = ""
    if column.key == "status":
        style = status_style(agent)
    elif column.key == "name":
        style = "bold"
    elif column.key == "errs" and agent.errors:
        style = "bold red"
    elif column.key == "model" and models is not None:
        value = models.get(value, value)
    elif column.key == "cost" and agent.unpriced:
        style = "yellow"
    elif column.key == "host" and agent.host is None:
        value, style = local, "dim"
    if host is not None and host.state != "live":
        # Honest staleness: the figures are the host's last word, greyed; STATUS says why.
        if column.key == "status":
            value, style = fleet.state_label(host, now), fleet.STATE_STYLE[host.state]
        else:
            style = "dim"
    # Every cell is a name, a status or a figure: shown strictly, so no two look alike.
    text = safe.name_text(value, style=style, limit=NAME_MAX if column.key == "name" else 64)
    text.overflow = "ellipsis"  # a cell cut at its column's width says so
    if column.right:
        text.justify = "right"
    return text


def reports_only(agent: AgentSample) -> bool:
    """An agent known only from what it reports: no process, so no CPU or memory figures."""
    return agent.pid is None and not agent.pids and agent.source == "ingest"


def session_only(agent: AgentSample) -> bool:
    """A real agent's session with no live process to join (its process ended, or is not
    ours to see): no CPU or memory figures either."""
    return agent.pid is None and not agent.pids and agent.source == "session"


def filter_problem(query: str) -> str | None:
    """Why `query` is not used as a regex (it is then matched as plain text), if it is not."""
    try:
        re.compile(query.strip(), re.IGNORECASE)
    except re.error as exc:
        return f"not a regex ({exc.msg}): matching the text as typed"
    return None


def _haystack(a: AgentSample) -> tuple[str, ...]:
    models = () if a.session is None else a.session.meta.models
    return (a.name, a.kind, a.status, a.reported or "", shown_status(a), a.host or "", *models)


def compile_filter(query: str) -> Callable[[AgentSample], bool] | None:
    """`/` filter: a case-insensitive regex over name, kind, status (the process's and the
    one shown), its fleet host and its session's models (plain text if invalid)."""
    query = query.strip()
    if not query:
        return None
    try:
        pattern = re.compile(query, re.IGNORECASE)
    except re.error:
        pattern = re.compile(re.escape(query), re.IGNORECASE)
    return lambda a: any(pattern.search(v) for v in _haystack(a))
