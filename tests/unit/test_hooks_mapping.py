"""Hook payloads -> records (otlp/hooks.py): every event in its documented shapes, several
versions (tests/hook_payloads.py), names and kinds only."""

from __future__ import annotations

import pytest

from tests.hook_payloads import CLAUDE, CODEX, CODEX_SID, CWD, NOTIFY, SID, Expect, claude
from tui_monitor.otlp.hooks import BadHook, map_hook, parse
from tui_monitor.sessions.records import SessionInfo, SessionSignal


def _check(family: str, doc: dict[str, object], expect: Expect, sid: str) -> None:
    mapped = map_hook(family, doc, 1000.0)  # type: ignore[arg-type]
    assert mapped.known
    info = mapped.records[0]
    assert info == SessionInfo(family, sid, cwd=CWD, ts=1000.0)  # type: ignore[arg-type]
    signals = [r for r in mapped.records if isinstance(r, SessionSignal)]
    if expect is None:
        assert signals == []
    else:
        (signal,) = signals
        assert (signal.state, signal.reason, signal.tool) == expect
        assert (signal.source, signal.event, signal.ts) == ("hook", doc["hook_event_name"], 1000.0)
    assert "SECRET" not in repr(mapped.records)


@pytest.mark.parametrize(("name", "doc", "expect"), CLAUDE, ids=[c[0] for c in CLAUDE])
def test_claude_code_events(name: str, doc: dict[str, object], expect: Expect) -> None:
    _check("claude-code", doc, expect, SID)


@pytest.mark.parametrize(("name", "doc", "expect"), CODEX, ids=[c[0] for c in CODEX])
def test_codex_events(name: str, doc: dict[str, object], expect: Expect) -> None:
    _check("codex", doc, expect, CODEX_SID)


def test_codex_notify_turn_complete_is_idle_and_keeps_no_messages() -> None:
    mapped = map_hook("codex", NOTIFY, 5.0)
    assert mapped.records == [
        SessionInfo("codex", CODEX_SID, cwd=CWD, ts=5.0),
        SessionSignal("codex", CODEX_SID, 5.0, "idle", "hook", "agent-turn-complete"),
    ]


def test_unknown_event_is_not_mapped() -> None:
    mapped = map_hook("claude-code", claude("TeleportRequest"), 1.0)
    assert not mapped.known and mapped.records == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"[" * 100_000, "not JSON"),
        (b'{"a": ' + b"[" * 70 + b"]" * 70 + b"}", "nested"),
    ],
)
def test_garbage_is_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(BadHook, match=reason):
        parse(body)


@pytest.mark.parametrize(
    "doc",
    [
        {"session_id": SID},
        {"hook_event_name": "Stop"},
        {"hook_event_name": "Stop", "session_id": 12},
        {"type": "agent-turn-complete"},
    ],
)
def test_payload_without_event_or_session_is_refused(doc: dict[str, object]) -> None:
    with pytest.raises(BadHook):
        map_hook("codex", doc, 1.0)


def test_hostile_names_are_bounded_not_trusted() -> None:
    doc = claude("PreToolUse", tool_name="\x1b[31m" + "x" * 10_000, cwd="/" + "d" * 10_000)
    mapped = map_hook("claude-code", doc, 1.0)
    info, signal = mapped.records
    assert isinstance(signal, SessionSignal) and signal.tool is not None
    assert len(signal.tool) <= 128
    assert isinstance(info, SessionInfo) and info.cwd is not None and len(info.cwd) <= 4096
