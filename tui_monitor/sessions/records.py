"""What a family reader makes of its agent's files, one kind of record per fact.

Every family module (claude.py, codex.py, ...) yields only these, so the recorder, the join to
process rows and `tui-monitor sessions` never need to know whose files they came from. Token
counts follow one meaning for every family (Anthropic's): `input_tokens` excludes tokens read
from the prompt cache, which are `cache_read_tokens`; `cache_write_tokens` are all tokens
written to the cache, `cache_write_1h_tokens` the part of them written with a one-hour TTL.
Text fields hold what the file said, uncleaned: it is hostile, and `safe.py` cleans it where it
is shown or stored as a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Family = Literal["claude-code", "codex", "gemini"]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a file says about its session (repeated as it learns more; the latest wins)."""

    family: Family
    session_id: str
    parent_id: str | None = None
    """The session a subagent, sidechain or fork belongs to: its usage rolls up there."""
    cwd: str | None = None
    git_branch: str | None = None
    version: str | None = None
    """The agent program's version that wrote the file."""
    ts: float | None = None
    """Epoch seconds of the line that said it."""


@dataclass(frozen=True, slots=True)
class SessionUsage:
    """Tokens one model response used; `key` is what makes it count once across lines and
    files (Claude Code: message id + request id; Codex: thread + cumulative total)."""

    family: Family
    session_id: str
    ts: float
    model: str
    key: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cost_usd: float | None = None
    """Only when the file itself states a cost; else priced from the price table."""
    web_search_requests: int = 0
    """Server-side web searches the response made (Anthropic bills them per search)."""

    @property
    def rank(self) -> tuple[int, int]:
        """How far along a copy of a response is: its output tokens, then all its tokens."""
        total = self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
        return (self.output_tokens, total + self.web_search_requests)


@dataclass(frozen=True, slots=True)
class SessionActivity:
    """A turn's step, for the state inferred from files: working, waiting for the user."""

    family: Family
    session_id: str
    ts: float
    kind: Literal["user", "assistant", "tool", "turn_end"]
    tool: str | None = None
    """The tool's name for kind "tool" (never its input or output)."""


@dataclass(frozen=True, slots=True)
class SessionError:
    """An API or agent error the file recorded (e.g. a `<synthetic>` error message)."""

    family: Family
    session_id: str
    ts: float
    error_type: str
    message: str


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One rate-limit window as the agent last saw it (Codex: primary and secondary)."""

    family: Family
    session_id: str
    ts: float
    window_minutes: int | None
    used_percent: float | None
    resets_at: float | None
    """Epoch seconds, when the file says."""


@dataclass(frozen=True, slots=True)
class SessionMetric:
    """One data point of an agent's own metric (OTLP: Claude Code's `claude_code.cost.usage`,
    ...), shown on the session's row as `AgentSample.metrics[name]` (the sum of its series)."""

    family: Family
    session_id: str
    ts: float
    name: str
    series: str
    """The data point's other attributes, so cumulative series of one name add up."""
    value: float
    delta: bool
    """A delta point adds to its series (once per end time); a cumulative one replaces it."""


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """Something the agent did that the history keeps as an event (a tool's result or the
    user's decision on it, a prompt's length): names and outcomes only, never content."""

    family: Family
    session_id: str
    ts: float
    kind: str
    message: str
    data: tuple[tuple[str, str | int | float | bool], ...] = ()


LiveState = Literal["working", "needs_input", "idle", "error", "ended"]
"""The one status vocabulary for real agents, said live by hooks or OTLP: `working` (a prompt
submitted, a tool used, an API request), `needs_input` (blocked on the user: a permission
request, a question, an elicitation dialog), `idle` (the turn finished), `error` (the turn
failed: rate limit, overload, auth, billing...), `ended` (the session ended)."""


@dataclass(frozen=True, slots=True)
class SessionSignal:
    """A live, exact statement of what a session is doing, from a hook or an OTLP event.

    The book keeps the newest signal per session (by `ts`; an older one arriving late changes
    nothing); it outranks what files infer until it ages out (sessions/book.py)."""

    family: Family
    session_id: str
    ts: float
    """Epoch seconds: when the agent said it (hooks carry no time: when we received it)."""
    state: LiveState
    source: Literal["hook", "otlp"]
    event: str
    """The agent's own name for what happened (`PermissionRequest`, `Stop`, `api_request`)."""
    reason: str | None = None
    """Why, in a word: for needs_input `permission`, `question` or `elicitation`; for error
    the failure's kind (`rate_limit`, `overloaded`, `authentication`, `billing`, ...)."""
    tool: str | None = None
    """The tool (or MCP server) it concerns, by name only."""


def supersedes(new: SessionUsage, old: SessionUsage) -> bool:
    """Whether `new` replaces `old`, a record with the same key: a reader may hand out a
    response again as it learns more (Claude Code writes one response as several lines whose
    output tokens grow), so the consumer keeps one record per key, the furthest along. Order
    of arrival does not matter, so neither do restarts, re-reads or which file came first.
    """
    return new.rank > old.rank


SessionRecord = (
    SessionInfo
    | SessionUsage
    | SessionActivity
    | SessionError
    | RateLimit
    | SessionMetric
    | SessionEvent
    | SessionSignal
)
