"""Agents' OTLP log events -> the session records their files give (sessions/records.py).

The shapes, as each agent documents them (README, "OTLP"):

- Claude Code (`claude_code.*`, monitoring docs; every attribute a string): `api_request`
  (model, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd,
  duration_ms; 2.1.214+ also request_id/client_request_id), `api_error` (model, error,
  status_code, attempt), `tool_result` (tool_name, success, duration_ms, decision, source),
  `tool_decision` (tool_name, decision, source), `user_prompt` (prompt_length; prompt only
  with OTEL_LOG_USER_PROMPTS=1). `session.id` on every event; `event.sequence` orders them.
- Codex (`codex.*`, docs/config.md "otel"): `sse_event` with `event.kind` =
  `response.completed` carries input_token_count (cached included), cached_token_count,
  output_token_count (reasoning included), reasoning_token_count; `api_request` (attempt,
  duration_ms, http.response.status_code, error.message); `tool_decision`, `tool_result`,
  `user_prompt`; the session is `conversation.id`.
- Gemini CLI (`gemini_cli.*`): `api_response` (model, input_token_count with
  cached_content_token_count inside it, output_token_count, thoughts_token_count,
  tool_token_count), `api_error` (error, error_type, status_code), `tool_call`
  (function_name, success, decision, duration_ms), `user_prompt` (prompt_length).

Each event also says the session's state (states.py: `SessionSignal`s, exact, over what the
files infer). Token counts follow records.py's meaning (input excludes cache reads). Prompt
text, tool input and tool output are never kept: a prompt becomes its length.
"""

from __future__ import annotations

from typing import Any

from ..sessions.records import (
    Family,
    SessionActivity,
    SessionError,
    SessionEvent,
    SessionInfo,
    SessionRecord,
    SessionUsage,
)
from .states import state_signal
from .values import (
    Scalar,
    attributes,
    count,
    event_name,
    family_of,
    flag,
    money,
    number,
    text,
    timestamp,
)

_SESSION_KEYS = ("session.id", "conversation.id", "session_id")
SEEN = "seen"
"""Outcome of a record we read but that says nothing we keep (auth, plugin_loaded, ...)."""


class LogBatch:
    """One request's log records mapped; `rejected` counts records no session could own."""

    def __init__(self) -> None:
        self.records: list[SessionRecord] = []
        self.taken = 0
        self.ignored = 0
        self.rejected = 0
        self.reason = ""
        self._infos: set[tuple[str, str | None]] = set()


def map_logs(request: Any) -> LogBatch:
    """An ExportLogsServiceRequest -> records, in the order the agent sent them."""
    batch = LogBatch()
    for rl in request.resource_logs:
        resource = attributes(rl.resource.attributes)
        for sl in rl.scope_logs:
            fallback = family_of(resource, sl.scope.name)
            for log in sl.log_records:
                _one(batch, log, resource, fallback)
    return batch


def _one(batch: LogBatch, log: Any, resource: dict[str, Scalar], fallback: Family | None) -> None:
    attrs = {**resource, **attributes(log.attributes)}
    body = log.body.string_value if log.body.WhichOneof("value") == "string_value" else ""
    named = event_name(
        (getattr(log, "event_name", ""), body, str(attrs.get("event.name", ""))), fallback
    )
    if named is None:
        batch.ignored += 1
        return
    family, name = named
    session = next((str(attrs[k]) for k in _SESSION_KEYS if attrs.get(k)), "")
    if not session or len(session) > 200:
        batch.rejected += 1
        batch.reason = f"{family} {name} without a session id (session.id / conversation.id)"
        return
    ts = timestamp(log.time_unix_nano, log.observed_time_unix_nano)
    out: list[SessionRecord] = []
    _MAPS.get((family, name), _seen)(family, session, ts, log.time_unix_nano, attrs, out)
    signal = state_signal(family, name, session, ts, attrs)
    if signal is not None:  # the state it says (states.py), after what it says it did
        out.append(signal)
    if not out:
        batch.ignored += 1
        return
    batch.taken += 1
    version = text(attrs.get("app.version") or attrs.get("service.version"), 128)
    if (session, version) not in batch._infos:
        batch._infos.add((session, version))
        batch.records.append(SessionInfo(family, session, version=version, ts=ts))
    batch.records.extend(out)


Attrs = dict[str, Scalar]


def _seen(family: Family, sid: str, ts: float, ns: int, a: Attrs, out: list[SessionRecord]) -> None:
    """An event we do not map: nothing kept."""


def _key(ns: int, a: Attrs) -> str:
    """What makes one request's usage count once, whoever sends it again (an exporter's retry
    sends the same record): the request id when the agent gives one, else the record's own
    time and sequence number (unique within a session, stable across retries)."""
    request = text(a.get("request_id") or a.get("client_request_id"), 200)
    if request:
        return f"otlp:req:{request}"
    seq = a.get("event.sequence", a.get("prompt_id", a.get("prompt.id", "")))
    return f"otlp:{ns}:{text(seq, 200) or ''}"


def _usage(family: Family, sid: str, ts: float, ns: int, a: Attrs, *, model: str,
           input: int, output: int, cache_read: int, cache_write: int = 0,
           cost: float | None = None) -> SessionUsage:  # fmt: skip
    return SessionUsage(
        family=family,
        session_id=sid,
        ts=ts,
        model=model,
        key=_key(ns, a),
        input_tokens=input,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cost_usd=cost,
    )


def _tool_event(family: Family, sid: str, ts: float, kind: str, a: Attrs,
                tool: str | None, out: list[SessionRecord]) -> None:  # fmt: skip
    name = tool or "?"
    data: dict[str, Scalar] = {"tool": name}
    success = flag(a.get("success"))
    decision = text(a.get("decision"), 64)
    source = text(a.get("source"), 64)
    duration = number(a.get("duration_ms"))
    if success is not None:
        data["success"] = success
    if decision:
        data["decision"] = decision
    if source:
        data["source"] = source
    if duration is not None:
        data["duration_ms"] = duration
    if kind == "tool_result":
        outcome = "ok" if success else ("failed" if success is False else "done")
        out.append(SessionActivity(family, sid, ts, "tool", name))
    else:
        outcome = decision or "decided"
    out.append(SessionEvent(family, sid, ts, kind, f"{name} {outcome}", tuple(data.items())))


def _prompt(
    family: Family, sid: str, ts: float, ns: int, a: Attrs, out: list[SessionRecord]
) -> None:
    length = count(a.get("prompt_length"))
    prompt = a.get("prompt")
    if not length and isinstance(prompt, str):
        length = len(prompt)  # the text itself is never kept
    out.append(SessionActivity(family, sid, ts, "user"))
    out.append(SessionEvent(family, sid, ts, "user_prompt", f"prompt of {length} characters",
                            (("prompt_length", length),)))  # fmt: skip


def _error(family: Family, sid: str, ts: float, a: Attrs, message_key: str,
           out: list[SessionRecord]) -> None:  # fmt: skip
    status = count(a.get("status_code", a.get("http.response.status_code")))
    kind = text(a.get("error_type"), 64) or "api_error"
    error_type = f"{kind} {status}" if status else kind
    message = text(a.get(message_key)) or error_type
    out.append(SessionError(family, sid, ts, error_type, message))


# -- Claude Code -----------------------------------------------------------------------


def _claude_request(family: Family, sid: str, ts: float, ns: int, a: Attrs,
                    out: list[SessionRecord]) -> None:  # fmt: skip
    out.append(_usage(family, sid, ts, ns, a, model=text(a.get("model"), 128) or "unknown",
                      input=count(a.get("input_tokens")), output=count(a.get("output_tokens")),
                      cache_read=count(a.get("cache_read_tokens")),
                      cache_write=count(a.get("cache_creation_tokens")),
                      cost=money(a.get("cost_usd"))))  # fmt: skip
    out.append(SessionActivity(family, sid, ts, "assistant"))


def _claude_error(
    family: Family, sid: str, ts: float, ns: int, a: Attrs, out: list[SessionRecord]
) -> None:
    _error(family, sid, ts, a, "error", out)


def _tool_result(
    family: Family, sid: str, ts: float, ns: int, a: Attrs, out: list[SessionRecord]
) -> None:
    tool = text(a.get("tool_name") or a.get("function_name"), 128)
    _tool_event(family, sid, ts, "tool_result", a, tool, out)


def _tool_decision(
    family: Family, sid: str, ts: float, ns: int, a: Attrs, out: list[SessionRecord]
) -> None:
    _tool_event(family, sid, ts, "tool_decision", a, text(a.get("tool_name"), 128), out)


# -- Codex -----------------------------------------------------------------------------


def _codex_sse(
    family: Family, sid: str, ts: float, ns: int, a: Attrs, out: list[SessionRecord]
) -> None:
    if a.get("event.kind") != "response.completed":
        return
    total_in = count(a.get("input_token_count"))
    cached = min(count(a.get("cached_token_count")), total_in)
    out.append(_usage(family, sid, ts, ns, a, model=text(a.get("model"), 128) or "unknown",
                      input=total_in - cached, output=count(a.get("output_token_count")),
                      cache_read=cached))  # fmt: skip
    out.append(SessionActivity(family, sid, ts, "assistant"))


def _codex_request(
    family: Family, sid: str, ts: float, ns: int, a: Attrs, out: list[SessionRecord]
) -> None:
    status = count(a.get("http.response.status_code"))
    if status >= 400 or a.get("error.message"):
        _error(family, sid, ts, a, "error.message", out)
    else:
        out.append(SessionActivity(family, sid, ts, "assistant"))


# -- Gemini CLI ------------------------------------------------------------------------


def _gemini_response(
    family: Family, sid: str, ts: float, ns: int, a: Attrs, out: list[SessionRecord]
) -> None:
    prompt = count(a.get("input_token_count"))
    cached = min(count(a.get("cached_content_token_count")), prompt)
    out.append(_usage(family, sid, ts, ns, a, model=text(a.get("model"), 128) or "unknown",
                      input=prompt - cached + count(a.get("tool_token_count")),
                      output=count(a.get("output_token_count"))
                      + count(a.get("thoughts_token_count")),
                      cache_read=cached))  # fmt: skip
    out.append(SessionActivity(family, sid, ts, "assistant"))


Mapper = Any
_MAPS: dict[tuple[Family, str], Mapper] = {
    ("claude-code", "api_request"): _claude_request,
    ("claude-code", "api_error"): _claude_error,
    ("claude-code", "tool_result"): _tool_result,
    ("claude-code", "tool_decision"): _tool_decision,
    ("claude-code", "user_prompt"): _prompt,
    ("codex", "sse_event"): _codex_sse,
    ("codex", "api_request"): _codex_request,
    ("codex", "tool_result"): _tool_result,
    ("codex", "tool_decision"): _tool_decision,
    ("codex", "user_prompt"): _prompt,
    ("gemini", "api_response"): _gemini_response,
    ("gemini", "api_error"): _claude_error,
    ("gemini", "tool_call"): _tool_result,
    ("gemini", "user_prompt"): _prompt,
}
