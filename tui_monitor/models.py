"""Frozen data models shared by the collectors, the sampler, the store and the UI.

Every text field that came from a process or an agent has already passed through
`tui_monitor.safe` by the time it sits in one of these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

AgentStatus = Literal[
    "running", "idle", "waiting", "stopped", "zombie", "exited", "stale", "unknown"
]
"""What an agent is doing: derived from its root process state and tree CPU; `unknown`
while its CPU% is (a first sample has nothing to compare with)."""

AgentSource = Literal["config", "preset", "ingest", "session", "run"]
"""How a row was found: a `[[agents]]` rule, a built-in preset, the ingest protocol, (for
"session") a real agent's session file with no live process to join (sessions/book.py), or
(for "run") the name `tui-monitor run --name` gave the process (collect/launched.py)."""
EventLevel = Literal["debug", "info", "warning", "error", "critical"]
LifecycleKind = Literal["started", "exited", "restarted", "status_changed"]
CostSource = Literal["agent", "prices", "builtin"]
"""Where a stored cost came from: the agent's own `cost_usd`, the config's `[prices]`, or the
built-in table (genai-prices) when the usage was recorded."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HostSample(_Frozen):
    """One reading of the whole machine. Rates are None until two readings exist."""

    hostname: str
    boot_time: float
    cpu_count: int
    cpu_utilization: float | None = Field(description="percent of all cores, 0-100")
    cpu_per_core: tuple[float, ...] | None
    load_1: float | None
    load_5: float | None
    load_15: float | None
    ram_used: int
    ram_total: int
    ram_available: int
    swap_used: int
    swap_total: int
    disk_read_bps: float | None
    disk_write_bps: float | None
    net_rx_bps: float | None
    net_tx_bps: float | None


class GpuSample(_Frozen):
    """One GPU. A field the device does not support is None; `error` says why a GPU is dark."""

    index: int
    uuid: str | None = None
    name: str | None = None
    gpu_utilization: float | None = None
    memory_utilization: float | None = None
    gpu_memory_used: int | None = None
    gpu_memory_total: int | None = None
    gpu_temperature: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    error: str | None = None


class GpuStatus(_Frozen):
    """The GPU part of a snapshot: either a list of GPUs or the reason there are none."""

    available: bool
    reason: str | None = None
    driver_version: str | None = None
    gpus: tuple[GpuSample, ...] = ()
    process_memory: dict[int, int] = Field(
        default_factory=dict, description="pid -> GPU memory in bytes, summed over GPUs"
    )


class McpServer(_Frozen):
    """An MCP server in an agent's process tree: the process that starts it (the topmost one
    recognised, with the launchers above it, e.g. `npm exec` and `sh -c`) and all below it."""

    name: str = Field(description="what it serves, from its package or program name")
    pid: int = Field(description="the process that starts it")
    procs: int = 1
    cpu_utilization: float | None = Field(
        default=None, description="percent of one core, summed over its processes"
    )
    ram_used: int | None = Field(default=None, description="bytes its processes hold")
    ram_kind: Literal["pss", "rss"] | None = None


SessionFamily = Literal["claude-code", "codex", "gemini"]
"""Whose files a session was read from (sessions/records.py's `Family`)."""
InferredState = Literal["working", "idle", "quiet"]
"""What a session's files say it is doing, shown with `~`: `working` (a line written in the
last `[sessions] working_window` seconds), `idle` (its last turn finished and nothing since),
`quiet` (mid-turn, nothing written for longer than the window: a long tool, a slow answer,
or an agent gone without a word)."""
AgentState = Literal["working", "needs_input", "idle", "error", "ended", "quiet"]
"""A real agent's state on its row: the exact vocabulary hooks and OTLP say
(sessions/records.py's `LiveState`), plus the files' `quiet`."""
StateSource = Literal["hook", "otlp", "files"]
"""Who said the state: a hook or an OTLP event (exact), or its files (inferred, `~`)."""


class RateWindow(_Frozen):
    """One rate-limit window as the agent last saw it (Codex: primary and secondary)."""

    window_minutes: int | None = None
    used_percent: float | None = None
    resets_at: float | None = Field(default=None, description="epoch s")
    ts: float = Field(description="epoch s of the line that said it")


class SessionTokens(_Frozen):
    """Token counts in Anthropic's meaning (sessions/records.py): `input` excludes cache reads;
    `cache_write_1h` is the part of `cache_write` written with a one-hour TTL."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


class SessionMeta(_Frozen):
    """What the history keeps of one (root) session: the `sessions` table, written when it
    changes. Subagents, sidechains and forks are not sessions of their own here: their usage
    is recorded under their root session's id and `agent`."""

    family: SessionFamily
    session_id: str
    """As the file says it (cleaned by `safe.name`)."""
    agent: str
    """The name its usage and errors are recorded under, e.g. `claude:1a2b3c4d`."""
    cwd: str | None = None
    git_branch: str | None = None
    version: str | None = None
    """The agent program's version that wrote it (the latest seen)."""
    models: tuple[str, ...] = ()
    """Every model it used, in order of first use."""
    model: str | None = None
    """The model of its latest response (`/model` switches back and forth); live only."""
    first_ts: float | None = Field(default=None, description="epoch s of its first line")
    last_ts: float | None = Field(default=None, description="epoch s of its last line")


class SessionState(_Frozen):
    """A real agent's session as its own files tell it, on the row it is shown on."""

    meta: SessionMeta
    tokens: SessionTokens = SessionTokens()
    """Everything it used, subagents included, since the first line read (the backfill
    window bounds what a long-lived session shows after a fresh start)."""
    cost_today: float | None = Field(
        default=None, description="USD recorded under `meta.agent` today (set by the cost tick)"
    )
    cost_month: float | None = Field(default=None, description="USD this month, likewise")
    unpriced: int = Field(default=0, description="its usage records this month with no price")
    state: AgentState | None = None
    state_source: StateSource | None = Field(
        default=None, description="hook/otlp: exact; files (or None): inferred, shown with ~"
    )
    state_reason: str | None = Field(
        default=None,
        description="needs_input: permission, question or elicitation; error: its kind "
        "(rate_limit, overloaded, authentication, billing, ...)",
    )
    state_tool: str | None = Field(default=None, description="the tool a state concerns")
    state_since: float | None = Field(default=None, description="epoch s the state began")
    last_tool: str | None = None
    """The name of the last tool it called (never its input or output)."""
    last_error: str | None = None
    last_error_ts: float | None = None
    rate_limits: tuple[RateWindow, ...] = ()
    """The latest of each window (by `window_minutes`), shortest window first."""
    subagents: int = Field(default=0, description="subagent/sidechain/fork threads rolled in")
    earlier: tuple[str, ...] = ()
    """`agent` names of earlier sessions of the same process (e.g. after `/clear`): the row's
    cost sums them too; the row shows this, the newest."""

    @property
    def exact(self) -> bool:
        """Whether a hook or an OTLP event said the state (else files inferred it)."""
        return self.state_source in ("hook", "otlp")


class AgentSample(_Frozen):
    """One agent at one tick; resources are summed over its whole process tree."""

    name: str
    kind: str
    source: AgentSource
    status: AgentStatus
    pid: int | None = None
    create_time: float | None = None
    process: str = ""
    cmdline: str = ""
    cwd: str | None = None
    user: str | None = None
    pids: tuple[int, ...] = ()
    parents: tuple[int, ...] = Field(
        default=(), description="the parent pid of each of `pids`, in the same order"
    )
    procs: int = 0
    threads: int | None = None
    cpu_utilization: float | None = Field(
        default=None, description="percent of one core, summed over the tree"
    )
    ram_used: int | None = Field(
        default=None, description="bytes the tree holds: PSS where readable, else RSS (ram_kind)"
    )
    ram_kind: Literal["pss", "rss"] | None = Field(
        default=None,
        description="pss: shared pages split between the processes sharing them; rss: some "
        "process's shared pages counted in full (its PSS unreadable); None from history",
    )
    gpu_memory_used: int | None = None
    queue_depth: int | None = None
    reported: str | None = Field(
        default=None, description="the status the agent last reported in a heartbeat"
    )
    task: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    heartbeat: float | None = Field(default=None, description="epoch s of the last heartbeat")
    errors: int = Field(default=0, description="errors it reported that nobody resolved yet")
    cost: float | None = Field(default=None, description="USD spent today (local time)")
    unpriced: int = Field(
        default=0, description="usage records today with no price: `cost` counts none of them"
    )
    mcp: tuple[McpServer, ...] = Field(
        default=(), description="its MCP servers (live only: the history does not keep them)"
    )
    session: SessionState | None = Field(
        default=None,
        description="the agent's session read from its own files (Claude Code, Codex, Gemini "
        "CLI), joined to this process row; live only",
    )
    host: str | None = Field(
        default=None,
        description="the fleet host (a `[[hosts]]` name) it runs on; None: this machine",
    )

    def uptime(self, now: float) -> float | None:
        """Seconds since the root process started, or None when not running."""
        return None if self.create_time is None else max(0.0, now - self.create_time)


class AgentEvent(_Frozen):
    """Something that happened to an agent: lifecycle changes now, reported events later."""

    ts: datetime
    agent: str
    kind: str
    level: EventLevel = "info"
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    """Free-form JSON an agent sent (bounded by the ingest protocol)."""


class ErrorRecord(_Frozen):
    """An error an agent reported; stays unresolved until someone resolves it."""

    ts: datetime
    agent: str
    error_type: str
    message: str
    stack: str | None = None


class UsageRecord(_Frozen):
    """Tokens one request of an agent used, and what it cost (None: not priced).

    A NaN, negative or fractional figure would poison every running total after it, so the
    figures are checked strictly (the ingest hub builds these from already-checked messages).
    """

    ts: datetime
    agent: str
    model: str
    input_tokens: int = Field(default=0, ge=0, strict=True)
    output_tokens: int = Field(default=0, ge=0, strict=True)
    cache_read_tokens: int = Field(default=0, ge=0, strict=True)
    cache_write_tokens: int = Field(default=0, ge=0, strict=True)
    cache_write_1h_tokens: int = Field(default=0, ge=0, strict=True)
    """The part of `cache_write_tokens` written with a one-hour TTL (Anthropic prices it
    higher than the default five minutes); 0 when not known."""
    cost_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    request_id: str | None = None
    session: str | None = None
    """The session id it belongs to, for usage read from an agent's own files (subagents'
    usage carries its root session's id); None for reported usage."""
    cost_source: CostSource | None = None
    """Where `cost_usd` came from: the agent, the config's `[prices]` or the built-in table
    when it was recorded (the cost is fixed then and never re-priced); None while not priced
    (or with no price)."""

    @model_validator(mode="after")
    def _one_hour_part(self) -> UsageRecord:
        if self.cache_write_1h_tokens > self.cache_write_tokens:
            raise ValueError("cache_write_1h_tokens is a part of cache_write_tokens")
        return self


class IngestStats(_Frozen):
    """Counters of the ingest transports since the recorder started."""

    received: int = 0
    """Lines read (socket and spool files)."""
    rejected: int = 0
    stored: int = 0
    """Accepted messages folded into committed ticks."""
    refused: int = 0
    """Connections refused (another uid, too many)."""
    connections: int = 0
    last_rejection: str | None = None
    listening: str | None = None
    """The socket path, or why there is none."""


class OtlpStatus(_Frozen):
    """The OTLP/HTTP receiver's counters since the recorder started (otlp/)."""

    listening: str | None = None
    """`host:port`, or `off: <reason>` when it could not listen."""
    requests: int = 0
    records: int = 0
    """Log records and metric data points taken in (traces: spans counted, not stored)."""
    rejected: int = 0
    """Requests refused (no or wrong token, malformed, too large, busy) and records dropped."""
    last_rejection: str | None = None
    hooks: int = 0
    """Hook payloads taken (`POST /hooks/...`, otlp/hooks.py)."""
    hooks_unknown: int = 0
    """Hook payloads of events we do not map: answered, counted, ignored."""


class BudgetState(_Frozen):
    """One configured budget: how much is spent and when it runs out at the current burn."""

    name: str
    limit: float
    spent: float
    pct: float
    exceeded: bool
    runs_out_at: float | None = None
    runs_out_in_period: bool = False


class CostState(_Frozen):
    """Money: today and this month (local time), the burn over the last hour, budgets."""

    today: float
    month: float
    burn_per_hour: float
    unknown: int = Field(default=0, description="usage records this month with no price")
    unknown_today: int = Field(default=0, description="usage records today with no price")
    budgets: tuple[BudgetState, ...] = ()


TaskColumn = Literal["inbox", "assigned", "done", "archive"]
"""A task board's columns; the folder a task file sits in decides its column."""


class TaskCard(_Frozen):
    """One task file as the board shows it. Text is as written in the file (bounded), made
    safe only when shown; a file that could not be read as a task has `problem` set."""

    key: str
    """Unique in its board: the id, or `id@path` for a second file with the same id."""
    id: str
    """The `id` field, else the file name without its extension."""
    column: TaskColumn
    path: str
    """Relative to the board's root."""
    agent: str | None = None
    """The sub-folder under the state folder, else the `agent` field."""
    title: str | None = None
    status: str | None = None
    """The `status` field as written: it may disagree with the folder (shown, never fixed)."""
    priority: str | None = None
    """As written (`HIGH`); critical, high, medium, normal and low are known, in any case."""
    created: str | None = None
    created_ts: float | None = None
    """`created` as epoch seconds, when it reads as a time."""
    mtime: float = 0.0
    """The file's modification time (epoch seconds)."""
    artefacts: tuple[str, ...] = ()
    summary: str | None = None
    """`result.summary`."""
    error: str | None = None
    """`error.message`."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Every other field, for the detail view (JSON values, bounded)."""
    problem: str | None = None
    """Why the file could not be read as a task (invalid YAML, too large, a symlink out of
    the root, ...); the card stays on the board as an error card."""


class TaskBoard(_Frozen):
    """One `[[tasks]]` board at one moment: its cards in board order."""

    name: str
    root: str
    columns: tuple[TaskColumn, ...] = ("inbox", "assigned", "done")
    cards: tuple[TaskCard, ...] = ()
    problem: str | None = None
    """Why the board itself cannot be read (its root is missing, ...)."""
    version: int = Field(default=0, exclude=True)
    """Counts the watcher's updates: the newest board wins when two reach the UI."""


class TaskChange(_Frozen):
    """A card that changed in a tick, for the history: `card` None means it left the board;
    `key` "" is the board itself (its root, columns and problem), and key "\\0all" stores
    every card of the board in `meta` (a board seen for the first time)."""

    board: str
    key: str
    card: TaskCard | None = None
    meta: TaskBoard | None = None


class SessionsStatus(_Frozen):
    """The session file readers at one tick, for the header and `status`."""

    backfill: bool = Field(description="still importing the backfill window")
    backlog: int = Field(default=0, description="bytes of session files not read yet")
    sessions: int = Field(default=0, description="sessions known")
    problems: int = Field(default=0, description="unreadable files, bad or too long lines")
    last_problem: str | None = None
    """One line naming the file (and line) of the latest problem."""


HostState = Literal["connecting", "live", "slow", "stale", "unreachable", "failed"]
"""A fleet host as the viewer sees it (fleet/):
- connecting: ssh started, no snapshot yet (the first connection or a retry);
- live: its newest snapshot is fresh;
- slow: connected, but its newest snapshot is older than two of its intervals;
- stale: connected, but nothing for `stale_after` seconds (its rows are kept, greyed);
- unreachable: ssh could not connect or the connection dropped (retried with backoff);
- failed: connected, but the remote cannot stream (no history, no `tui-monitor`, an
  unknown protocol version, garbage, a line too long): retried with backoff, reason said."""


class HostStatus(_Frozen):
    """One `[[hosts]]` entry at one moment, for the Hosts card and the HOST column."""

    name: str
    """As configured (cleaned); shown in the HOST column and the Hosts card."""
    state: HostState
    reason: str | None = None
    """One line, cleaned: why it is not live (`ssh: Connection refused`, `remote has no
    history at ~/.local/share/...`, `protocol 2, this viewer speaks 1`, ...)."""
    last_ts: float | None = Field(default=None, description="epoch s of its newest tick")
    received_at: float | None = Field(
        default=None, description="local epoch s its newest snapshot arrived"
    )
    remote_version: str | None = None
    """The remote `tui-monitor --version`, from the stream's handshake."""
    snapshot: Snapshot | None = Field(default=None, exclude=True, repr=False)
    """Its newest snapshot (agents not yet tagged with `host`)."""


class Snapshot(_Frozen):
    """One tick of everything, as the sampler produced it."""

    seq: int
    ts: datetime
    interval: float
    lag: float = Field(description="seconds the tick started after its deadline")
    duration: float = Field(description="seconds spent collecting this tick")
    host: HostSample
    gpu: GpuStatus
    agents: tuple[AgentSample, ...]
    events: tuple[AgentEvent, ...] = ()
    errors: tuple[ErrorRecord, ...] = ()
    usage: tuple[UsageRecord, ...] = ()
    reported: int = Field(default=0, description="ingest messages folded into this tick")
    ingest: IngestStats | None = None
    otlp: OtlpStatus | None = None
    """The OTLP receiver (None: not enabled)."""
    cost: CostState | None = None
    tasks: tuple[TaskBoard, ...] = ()
    """The task boards at this tick (the same objects tick after tick until a file changes)."""
    task_changes: tuple[TaskChange, ...] = Field(default=(), exclude=True, repr=False)
    """What changed on the boards since the previous tick: the history stores only these."""
    sessions: SessionsStatus | None = None
    """The session file readers' progress and problems (None: not reading any)."""
    session_changes: tuple[SessionMeta, ...] = Field(default=(), exclude=True, repr=False)
    """Sessions that began or changed since the previous tick: the history stores these."""
    hosts: tuple[HostStatus, ...] = ()
    """The fleet's hosts (fleet/), when `[[hosts]]` are configured; the viewer merges their
    agents into `agents` (tagged with `host`). Never recorded: the history is this machine's."""
    event_rows: Any = Field(default=None, exclude=True, repr=False)
    """More reported events of this tick, older than those in `events`, as rows for the
    events table (a flood's thousands are written, not shown; history has them all)."""


HostStatus.model_rebuild()
