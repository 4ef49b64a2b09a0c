"""Agents' OTLP log events -> the exact state they say (`SessionSignal(source="otlp")`).

An event says the agent is in a turn: Claude Code `user_prompt`, `api_request`,
`tool_decision`, `tool_result`; Codex `user_prompt`, `sse_event`, `api_request`,
`tool_decision`, `tool_result`; Gemini CLI `user_prompt`, `api_response`, `tool_call`. All
`working`, but:

- a decision that stops the turn: Claude Code `tool_decision` rejected by the user
  (`source` `user_reject` / `user_abort`: the turn is interrupted and waits for them) and
  Codex's `abort` are `idle`; a rejection by config (a deny rule) is told to the model, which
  goes on: `working`;
- an API error is `error` only where the agent will not retry it: 400-404 and 413 (the
  request, the key or the bill is refused; retrying cannot help). A 408, 409, 429 or 5xx (or
  no status) is retried by the agent's own client (Claude Code retries up to ten times with
  backoff; its `attempt` attribute counts them), so it is not the turn failing: it says
  nothing, and the turn's last `working` stands until it ages out (sessions/live.py). That a
  turn finally failed on a rate limit is the `StopFailure` hook's to say.

OTLP has no event for "waiting for permission": `needs_input` comes from hooks only.
"""

from __future__ import annotations

from ..sessions.records import Family, LiveState, SessionSignal
from .values import Scalar, count, text

_WORKING: frozenset[tuple[Family, str]] = frozenset({
    ("claude-code", "user_prompt"), ("claude-code", "api_request"),
    ("claude-code", "tool_result"), ("claude-code", "tool_decision"),
    ("codex", "user_prompt"), ("codex", "sse_event"), ("codex", "api_request"),
    ("codex", "tool_result"), ("codex", "tool_decision"),
    ("gemini", "user_prompt"), ("gemini", "api_response"), ("gemini", "tool_call"),
})  # fmt: skip
_ERRORS: frozenset[tuple[Family, str]] = frozenset(
    {("claude-code", "api_error"), ("gemini", "api_error"), ("codex", "api_request")}
)
_STOPPED = frozenset({"user_reject", "user_abort", "abort"})
"""A decision (or its source) by which the user stopped the turn."""
_FINAL: dict[int, str] = {
    400: "invalid_request",
    401: "authentication",
    402: "billing",
    403: "permission",
    404: "not_found",
    413: "request_too_large",
}
"""Statuses no retry can fix, and the kind of failure each is (Anthropic's error types)."""


def state_signal(
    family: Family, name: str, session: str, ts: float, attrs: dict[str, Scalar]
) -> SessionSignal | None:
    """The state one event says, if it says one (see the module's docstring)."""
    key = (family, name)
    tool = text(attrs.get("tool_name") or attrs.get("function_name"), 128) or None
    if key in _ERRORS:
        status = count(attrs.get("status_code", attrs.get("http.response.status_code")))
        if status in _FINAL:
            return SessionSignal(family, session, ts, "error", "otlp", name, _FINAL[status])
        if name == "api_error" or status >= 400 or attrs.get("error.message"):
            return None  # retried by the agent: not the turn failing
    elif key not in _WORKING:
        return None
    state: LiveState = "working"
    if name == "tool_decision":
        decision = (text(attrs.get("decision"), 64) or "").lower()
        source = (text(attrs.get("source"), 64) or "").lower()
        if decision in _STOPPED or source in _STOPPED:
            state = "idle"
    return SessionSignal(family, session, ts, state, "otlp", name, None, tool)
