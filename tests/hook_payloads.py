"""Hook payloads in the shapes agents post them, written here (never copied), each with the
state it must say. Shapes learned from the Claude Code hooks reference (code.claude.com/docs/
en/hooks) and its changelog, and from Codex's source (openai/codex codex-rs/hooks: generated
input schemas, legacy_notify.rs). Prompts, tool inputs and outputs and assistant messages
carry the word SECRET: none may reach a record.
"""

from __future__ import annotations

from typing import Any

SID = "5f1c2d3e-0a1b-4c5d-8e9f-101112131415"
CWD = "/home/dev/proj"

Expect = tuple[str, str | None, str | None] | None
"""(state, reason, tool) of the signal, or None: no signal (the session only)."""


def claude(event: str, **extra: Any) -> dict[str, Any]:
    """The fields every Claude Code hook input has (2.0 and 2.1)."""
    return {
        "session_id": SID,
        "transcript_path": f"/home/dev/.claude/projects/-home-dev-proj/{SID}.jsonl",
        "cwd": CWD,
        "permission_mode": "default",
        "hook_event_name": event,
        **extra,
    }


SECRET_INPUT = {"command": "echo SECRET", "description": "SECRET"}

CLAUDE: list[tuple[str, dict[str, Any], Expect]] = [
    # 2.1.x SessionStart: source and model
    (
        "start",
        claude("SessionStart", source="startup", model="claude-sonnet-4-5"),
        ("idle", None, None),
    ),
    # 1.0.x SessionStart: source only
    ("start-old", claude("SessionStart", source="resume"), ("idle", None, None)),
    ("prompt", claude("UserPromptSubmit", prompt="SECRET prompt"), ("working", None, None)),
    (
        "pre-tool",
        claude("PreToolUse", tool_name="Bash", tool_input=SECRET_INPUT, tool_use_id="toolu_01"),
        ("working", None, "Bash"),
    ),
    # 2.0.x AskUserQuestion: a question to the user, through PreToolUse
    (
        "question",
        claude(
            "PreToolUse",
            tool_name="AskUserQuestion",
            tool_input={"questions": [{"question": "SECRET?"}]},
        ),
        ("needs_input", "question", "AskUserQuestion"),
    ),
    # 2.0.45+ PermissionRequest, with suggestions
    (
        "permission",
        claude(
            "PermissionRequest",
            tool_name="Write",
            tool_input={"file_path": "/x", "content": "SECRET"},
            permission_suggestions=[{"type": "setMode", "mode": "acceptEdits"}],
        ),
        ("needs_input", "permission", "Write"),
    ),
    (
        "post-tool",
        claude(
            "PostToolUse",
            tool_name="Bash",
            tool_input=SECRET_INPUT,
            tool_response={"stdout": "SECRET", "stderr": ""},
        ),
        ("working", None, "Bash"),
    ),
    (
        "tool-failed",
        claude(
            "PostToolUseFailure",
            tool_name="Bash",
            tool_input=SECRET_INPUT,
            error="SECRET exit 1",
            is_interrupt=False,
        ),
        ("working", None, "Bash"),
    ),
    (
        "interrupted",
        claude(
            "PostToolUseFailure",
            tool_name="Bash",
            tool_input=SECRET_INPUT,
            error="SECRET",
            is_interrupt=True,
        ),
        ("idle", None, "Bash"),
    ),
    # 2.0.x+ Notification with notification_type
    (
        "notify-permission",
        claude(
            "Notification",
            message="Claude needs your permission to use Bash",
            notification_type="permission_prompt",
        ),
        ("needs_input", "permission", "Bash"),
    ),
    (
        "notify-idle",
        claude(
            "Notification",
            message="Claude is waiting for your input",
            notification_type="idle_prompt",
        ),
        ("idle", None, None),
    ),
    (
        "notify-elicitation",
        claude("Notification", message="SECRET form", notification_type="elicitation_dialog"),
        ("needs_input", "elicitation", None),
    ),
    (
        "notify-auth",
        claude("Notification", message="Logged in", notification_type="auth_success"),
        None,
    ),
    # 1.0.x Notification: the message text alone says which
    (
        "notify-permission-old",
        claude(
            "Notification",
            title="Claude Code",
            message="Claude needs your permission to use WebFetch",
        ),
        ("needs_input", "permission", "WebFetch"),
    ),
    (
        "notify-idle-old",
        claude("Notification", message="Claude is waiting for your input"),
        ("idle", None, None),
    ),
    # 2.1.7x MCP elicitation
    (
        "elicitation",
        claude(
            "Elicitation",
            mcp_server_name="github",
            message="SECRET",
            requested_schema={"type": "object"},
        ),
        ("needs_input", "elicitation", "github"),
    ),
    (
        "elicitation-result",
        claude(
            "ElicitationResult", mcp_server_name="github", action="accept", content={"x": "SECRET"}
        ),
        ("working", None, "github"),
    ),
    (
        "stop",
        claude("Stop", stop_hook_active=False, last_assistant_message="SECRET answer"),
        ("idle", None, None),
    ),
    ("stop-old", claude("Stop", stop_hook_active=False), ("idle", None, None)),
    # 2.1.78+ StopFailure: error_type, error (a status code), error_message
    (
        "failure-rate",
        claude(
            "StopFailure", error_type="rate_limit", error="429", error_message="Rate limit exceeded"
        ),
        ("error", "rate_limit", None),
    ),
    (
        "failure-auth",
        claude(
            "StopFailure", error_type="authentication_failed", error="401", error_message="SECRET"
        ),
        ("error", "authentication", None),
    ),
    (
        "failure-billing",
        claude("StopFailure", error_type="billing_error"),
        ("error", "billing", None),
    ),
    (
        "failure-code-only",
        claude("StopFailure", error="529", error_message="Overloaded"),
        ("error", "overloaded", None),
    ),
    (
        "subagent-start",
        claude("SubagentStart", agent_id="a1", agent_type="Explore"),
        ("working", None, None),
    ),
    (
        "subagent-stop",
        claude(
            "SubagentStop",
            agent_id="a1",
            agent_type="Explore",
            agent_transcript_path="/x.jsonl",
            stop_hook_active=False,
            last_assistant_message="SECRET",
        ),
        ("working", None, None),
    ),
    (
        "pre-compact",
        claude("PreCompact", trigger="auto", custom_instructions=""),
        ("working", None, None),
    ),
    (
        "post-compact-manual",
        claude("PostCompact", trigger="manual", compact_summary="SECRET"),
        ("idle", None, None),
    ),
    ("setup", claude("Setup", trigger="init"), None),
    ("end", claude("SessionEnd", reason="prompt_input_exit"), ("ended", None, None)),
]


def codex(event: str, **extra: Any) -> dict[str, Any]:
    """The fields every Codex hook input has (codex-rs/hooks schemas: turn_id and model are
    Codex's additions)."""
    return {
        "session_id": "019a1b2c-3d4e-7f00-8a9b-0c1d2e3f4a5b",
        "transcript_path": None,
        "cwd": CWD,
        "hook_event_name": event,
        "model": "gpt-5-codex",
        "permission_mode": "default",
        **extra,
    }


CODEX_SID = "019a1b2c-3d4e-7f00-8a9b-0c1d2e3f4a5b"
CODEX: list[tuple[str, dict[str, Any], Expect]] = [
    ("start", codex("SessionStart", source="startup"), ("idle", None, None)),
    ("prompt", codex("UserPromptSubmit", turn_id="t1", prompt="SECRET"), ("working", None, None)),
    (
        "pre-tool",
        codex(
            "PreToolUse",
            turn_id="t1",
            tool_name="Bash",
            tool_input=SECRET_INPUT,
            tool_use_id="call_1",
        ),
        ("working", None, "Bash"),
    ),
    (
        "permission",
        codex("PermissionRequest", turn_id="t1", tool_name="Bash", tool_input=SECRET_INPUT),
        ("needs_input", "permission", "Bash"),
    ),
    (
        "post-tool",
        codex(
            "PostToolUse",
            turn_id="t1",
            tool_name="Bash",
            tool_input=SECRET_INPUT,
            tool_response="SECRET",
        ),
        ("working", None, "Bash"),
    ),
    (
        "stop",
        codex("Stop", turn_id="t1", stop_hook_active=False, last_assistant_message="SECRET"),
        ("idle", None, None),
    ),
    (
        "failure",
        codex(
            "StopFailure",
            turn_id="t1",
            error="overloaded",
            error_details="SECRET",
            last_assistant_message=None,
        ),
        ("error", "overloaded", None),
    ),
]

NOTIFY: dict[str, Any] = {
    # Codex's legacy `notify` program argument (legacy_notify.rs, 0.2x to today)
    "type": "agent-turn-complete",
    "thread-id": CODEX_SID,
    "turn-id": "12",
    "cwd": CWD,
    "client": "codex-tui",
    "input-messages": ["SECRET prompt"],
    "last-assistant-message": "SECRET answer",
}
