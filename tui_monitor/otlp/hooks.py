"""Hook payloads (`POST /hooks/<family>`) -> the session's live state, as `SessionSignal`s.

Claude Code posts its hook input as the body of an HTTP hook; Codex runs a command hook
(`tui_monitor.hookpost`) that posts its stdin, or its legacy `notify` program's argument.
Both send one JSON object per event with `hook_event_name`, `session_id` and `cwd`.
Shapes learned from the Claude Code hooks reference (code.claude.com/docs/en/hooks, 2.0 to
2.1.x) and Codex's own source (openai/codex `codex-rs/hooks`: the generated input schemas and
`legacy_notify.rs`); docs/hooks.md has the table.

Only names and kinds are taken: never the prompt, the tool's input or output, the assistant's
message or an error's text. Each payload also says the session exists (`SessionInfo` with its
cwd), so a session first seen by a hook joins its process row at once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..sessions.records import Family, LiveState, SessionInfo, SessionRecord, SessionSignal

FAMILIES: dict[str, Family] = {"claude-code": "claude-code", "codex": "codex"}
"""`/hooks/<name>` -> the family its sessions belong to."""
ID_MAX = 200
NAME_MAX = 128
PATH_MAX = 4096
DEPTH = 64
"""Nesting a payload may have (tool inputs nest; deeper is not a hook we know)."""

ERROR_KINDS = {
    "rate_limit": "rate_limit",
    "overloaded": "overloaded",
    "authentication_failed": "authentication",
    "oauth_org_not_allowed": "authentication",
    "authentication": "authentication",
    "billing_error": "billing",
    "billing": "billing",
    "invalid_request": "invalid_request",
    "model_not_found": "model_not_found",
    "server_error": "server_error",
    "max_output_tokens": "max_output_tokens",
}
"""StopFailure's `error_type` (Claude Code) or `error` (Codex) -> our error kind."""
_STATUS_KINDS = {429: "rate_limit", 529: "overloaded", 401: "authentication",
                 403: "authentication", 402: "billing", 400: "invalid_request",
                 404: "model_not_found"}  # fmt: skip
"""An HTTP status in StopFailure's `error` (Claude Code writes e.g. "429")."""
_PERMISSION_TEXT = re.compile(r"needs your permission(?: to use (?P<tool>[^\s.,]{1,128}))?", re.I)
_WAITING_TEXT = re.compile(r"waiting for your input", re.I)
QUESTION_TOOLS = frozenset({"AskUserQuestion"})
"""Tools whose use is a question to the user: the session needs input until it is answered."""


class BadHook(ValueError):
    """A body that is not a hook payload; the message is the 400's reason."""


@dataclass(slots=True)
class Mapped:
    records: list[SessionRecord] = field(default_factory=list)
    event: str = ""
    known: bool = True
    """False for an event we do not map (counted, answered 200, ignored)."""


def parse(body: bytes) -> dict[str, Any]:
    """The payload object; BadHook with the reason for anything else."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadHook(f"not JSON ({str(exc)[:100]})") from None
    if not isinstance(doc, dict):
        raise BadHook("not a JSON object")
    if _depth(doc) > DEPTH:
        raise BadHook(f"nested deeper than {DEPTH}")
    return doc


def _depth(doc: object) -> int:
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > DEPTH:
            break
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return deepest


def _text(doc: dict[str, Any], *keys: str, limit: int = NAME_MAX) -> str | None:
    for key in keys:
        value = doc.get(key)
        if isinstance(value, str) and value:
            return value[:limit]
    return None


def map_hook(family: Family, doc: dict[str, Any], now: float) -> Mapped:
    """One payload -> its records (stamped `now`: hooks carry no time)."""
    if doc.get("type") == "agent-turn-complete" and family == "codex":
        return _notify(doc, now)
    event = _text(doc, "hook_event_name")
    if event is None:
        raise BadHook("no hook_event_name")
    sid = _text(doc, "session_id", limit=ID_MAX)
    if sid is None:
        raise BadHook("no session_id")
    said = _state(event, doc)
    if said is None:
        return Mapped(event=event, known=False)
    info = SessionInfo(family, sid, cwd=_text(doc, "cwd", limit=PATH_MAX), ts=now)
    if isinstance(said, str):
        return Mapped([info], event)
    state, reason, tool = said
    signal = SessionSignal(family, sid, now, state, "hook", event, reason, tool)
    return Mapped([info, signal], event)


Said = tuple[LiveState, str | None, str | None] | str
_INFO_ONLY = frozenset({"Setup", "InstructionsLoaded", "ConfigChange", "CwdChanged"})


def _state(event: str, doc: dict[str, Any]) -> Said | None:
    """What an event says: (state, reason, tool), "info" (the session exists, no state), or
    None (an event we do not know)."""
    tool = _text(doc, "tool_name")
    if event == "SessionStart":
        return ("idle", None, None)  # opened (or resumed, cleared): waiting for a prompt
    if event in ("UserPromptSubmit", "SubagentStart", "SubagentStop", "PreCompact",
                 "PostToolUse", "PermissionDenied", "PostToolBatch"):  # fmt: skip
        return ("working", None, tool)
    if event == "PreToolUse":
        if tool in QUESTION_TOOLS:
            return ("needs_input", "question", tool)
        return ("working", None, tool)
    if event == "PermissionRequest":
        return ("needs_input", "permission", tool)
    if event == "PostToolUseFailure":
        # an interrupt (Esc) ends the turn without a Stop: the session waits for the user
        return ("idle", None, tool) if doc.get("is_interrupt") is True else ("working", None, tool)
    if event == "Notification":
        return _notification(doc)
    if event == "Elicitation":
        return ("needs_input", "elicitation", _text(doc, "mcp_server_name", "server_name"))
    if event == "ElicitationResult":
        return ("working", None, _text(doc, "mcp_server_name", "server_name"))
    if event == "PostCompact":
        manual = doc.get("trigger", doc.get("compact_trigger")) == "manual"
        return ("idle", None, None) if manual else ("working", None, None)
    if event == "Stop":
        return ("idle", None, None)
    if event == "StopFailure":
        return ("error", _error_kind(doc), None)
    if event == "SessionEnd":
        return ("ended", None, None)
    if event in _INFO_ONLY:
        return "info"
    return None


def _notification(doc: dict[str, Any]) -> Said | None:
    """Claude Code's Notification: `notification_type` since 2.0.x; before, only the text of
    `message` says which ("Claude needs your permission to use Bash", "Claude is waiting for
    your input")."""
    kind = doc.get("notification_type")
    message = doc.get("message")
    head = message[:500] if isinstance(message, str) else ""
    found = _PERMISSION_TEXT.search(head)
    if kind == "permission_prompt":
        tool = _text(doc, "tool_name") or (found.group("tool") if found else None)
        return ("needs_input", "permission", tool)
    if kind == "elicitation_dialog":
        return ("needs_input", "elicitation", _text(doc, "mcp_server_name", "server_name"))
    if kind == "idle_prompt":
        return ("idle", None, None)
    if isinstance(kind, str) and kind:
        return "info"  # auth_success and later kinds: not a state
    if found:
        return ("needs_input", "permission", found.group("tool"))
    if _WAITING_TEXT.search(head):
        return ("idle", None, None)
    return "info"


def _error_kind(doc: dict[str, Any]) -> str:
    for key in ("error_type", "error"):
        value = doc.get(key)
        if isinstance(value, str) and value in ERROR_KINDS:
            return ERROR_KINDS[value]
    code = str(doc.get("error", "")).strip()
    if code.isdigit():
        status = int(code)
        return _STATUS_KINDS.get(status, "server_error" if status >= 500 else "unknown")
    return "unknown"


def _notify(doc: dict[str, Any], now: float) -> Mapped:
    """Codex's legacy `notify` program argument: a turn finished. Its `input-messages` and
    `last-assistant-message` are the user's prompts and the answer: never read."""
    sid = _text(doc, "thread-id", "thread_id", limit=ID_MAX)
    if sid is None:
        raise BadHook("agent-turn-complete without thread-id")
    info = SessionInfo("codex", sid, cwd=_text(doc, "cwd", limit=PATH_MAX), ts=now)
    signal = SessionSignal("codex", sid, now, "idle", "hook", "agent-turn-complete")
    return Mapped([info, signal], "agent-turn-complete")
