"""The OTLP decoder and mapping, on hand-written payloads of several agents' versions, and
the book's one-source-per-session rule with a transcript and OTLP feeding one session."""

from __future__ import annotations

import gzip
import json
import os
import stat
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from pydantic import ValidationError

from tui_monitor.config import OtlpSettings
from tui_monitor.errors import ServerError
from tui_monitor.httpd import Body, TooLarge
from tui_monitor.otlp import wire
from tui_monitor.otlp.receiver import decode
from tui_monitor.otlp.token import load_token
from tui_monitor.sessions.book import SessionBook
from tui_monitor.sessions.records import SessionEvent, SessionUsage

SID = "0b6a3d1e-9f1c-4c55-8a77-3f2e1d0c9b8a"


def kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def logs(service: str, *records: tuple[str, dict[str, object], int]) -> bytes:
    """(body, attributes, time ns) records under one resource."""
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", service))
    sl = rl.scope_logs.add()
    for body, attrs, ns in records:
        rec = sl.log_records.add(time_unix_nano=ns)
        if body:
            rec.body.string_value = body
        rec.attributes.extend(kv(k, v) for k, v in attrs.items())
    return req.SerializeToString()


def test_claude_api_request_every_shape_one_meaning() -> None:
    # 1.0.x: body names the event, figures as strings (Claude Code's monitoring docs)
    # 2.1.x: also `event.name` and `event.sequence`; an int attribute from another exporter
    # an exporter that leaves the body empty: only `event.name`, unprefixed
    body = logs(
        "claude-code",
        (
            "claude_code.api_request",
            {
                "session.id": SID,
                "model": "claude-opus-4-1",
                "input_tokens": "12",
                "output_tokens": "340",
                "cache_read_tokens": "5000",
                "cache_creation_tokens": "700",
                "cost_usd": "0.0931",
            },
            1_000,
        ),
        (
            "claude_code.api_request",
            {
                "session.id": SID,
                "event.name": "api_request",
                "event.sequence": 7,
                "model": "claude-sonnet-4-5",
                "input_tokens": 3,
                "output_tokens": 9.0,
                "cost_usd": 0.5,
            },
            2_000,
        ),
        (
            "",
            {
                "session.id": SID,
                "event.name": "api_request",
                "model": "m",
                "input_tokens": "1",
                "output_tokens": "2",
                "request_id": "req_011",
            },
            3_000,
        ),
    )
    mapped = decode("logs", body, False)
    usage = [r for r in mapped.records if isinstance(r, SessionUsage)]
    assert [
        (
            u.model,
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens,
            u.cost_usd,
        )
        for u in usage
    ] == [
        ("claude-opus-4-1", 12, 340, 5000, 700, 0.0931),
        ("claude-sonnet-4-5", 3, 9, 0, 0, 0.5),
        ("m", 1, 2, 0, 0, None),
    ]
    assert [u.key for u in usage] == ["otlp:1000:", "otlp:2000:7", "otlp:req:req_011"]
    assert {u.session_id for u in usage} == {SID} and mapped.taken == 3


def test_json_with_hex_ids_string_int64s_and_enum_names() -> None:
    doc = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "scope": {"name": "com.anthropic.claude_code.events"},
                        "logRecords": [
                            {
                                "timeUnixNano": "1700000000123456789",
                                "severityNumber": "SEVERITY_NUMBER_INFO",
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "zz-not-hex",
                                "body": {"stringValue": "claude_code.api_error"},
                                "attributes": [
                                    {"key": "session.id", "value": {"stringValue": SID}},
                                    {"key": "status_code", "value": {"intValue": "429"}},
                                    {"key": "error", "value": {"stringValue": "rate limited"}},
                                ],
                            }
                        ],
                    }
                ]
            }
        ]
    }
    mapped = decode("logs", json.dumps(doc).encode(), True)
    (err,) = [r for r in mapped.records if type(r).__name__ == "SessionError"]
    assert (err.error_type, err.message, err.ts) == (
        "api_error 429",
        "rate limited",
        1700000000.1234567,
    )


def test_prompt_text_and_tool_input_never_kept() -> None:
    body = logs(
        "claude-code",
        ("claude_code.user_prompt", {"session.id": SID, "prompt": "my secret plan"}, 1),
        (
            "claude_code.tool_result",
            {
                "session.id": SID,
                "tool_name": "Bash",
                "success": "false",
                "tool_parameters": '{"command": "rm -rf secret"}',
                "decision": "accept",
            },
            2,
        ),
        (
            "claude_code.tool_decision",
            {"session.id": SID, "tool_name": "Edit", "decision": "reject", "source": "user_reject"},
            3,
        ),
    )
    mapped = decode("logs", body, False)
    events = [r for r in mapped.records if isinstance(r, SessionEvent)]
    assert [(e.kind, e.message) for e in events] == [
        ("user_prompt", "prompt of 14 characters"),
        ("tool_result", "Bash failed"),
        ("tool_decision", "Edit reject"),
    ]
    assert "secret" not in repr(mapped.records)


def test_codex_and_gemini_usage_in_our_meaning() -> None:
    codex = logs(
        "codex_cli_rs",
        ("codex.sse_event", {"conversation.id": SID, "event.kind": "response.created"}, 1),
        (
            "codex.sse_event",
            {
                "conversation.id": SID,
                "event.kind": "response.completed",
                "model": "gpt-5-codex",
                "input_token_count": 1000,
                "cached_token_count": 600,
                "output_token_count": 50,
                "reasoning_token_count": 20,
            },
            2,
        ),
        (
            "codex.api_request",
            {"conversation.id": SID, "http.response.status_code": 500, "error.message": "upstream"},
            3,
        ),
    )
    m = decode("logs", codex, False)
    (u,) = [r for r in m.records if isinstance(r, SessionUsage)]
    assert (u.family, u.input_tokens, u.cache_read_tokens, u.output_tokens) == (
        "codex",
        400,
        600,
        50,
    )
    gemini = logs(
        "gemini-cli",
        (
            "gemini_cli.api_response",
            {
                "session.id": SID,
                "model": "gemini-2.5-pro",
                "input_token_count": 900,
                "cached_content_token_count": 100,
                "output_token_count": 70,
                "thoughts_token_count": 30,
                "tool_token_count": 5,
            },
            1,
        ),
    )
    (g,) = [r for r in decode("logs", gemini, False).records if isinstance(r, SessionUsage)]
    assert (g.family, g.input_tokens, g.cache_read_tokens, g.output_tokens) == (
        "gemini",
        805,
        100,
        100,
    )


def test_record_without_session_is_rejected_with_a_reason() -> None:
    m = decode("logs", logs("claude-code", ("claude_code.api_request", {"model": "m"}, 1)), False)
    assert (m.rejected, m.records) == (1, [])
    answer = ExportLogsServiceRequest  # the response type is checked through wire.answer
    raw = wire.answer("logs", m.rejected, m.reason, as_json=True)
    assert json.loads(raw)["partialSuccess"]["rejectedLogRecords"] == "1"
    assert answer is not None


def test_garbage_is_malformed() -> None:
    with pytest.raises(wire.Malformed):
        decode("logs", b"\xff" * 20, False)
    with pytest.raises(wire.Malformed):
        decode("metrics", b"[1, 2]", True)


def metrics_body(points: list[tuple[str, float, int, dict[str, str]]], delta: bool) -> bytes:
    req = ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    for name, value, ns, attrs in points:
        m = sm.metrics.add(name=name)
        m.sum.aggregation_temporality = 1 if delta else 2
        p = m.sum.data_points.add(time_unix_nano=ns, as_double=value)
        p.attributes.extend(kv(k, v) for k, v in {"session.id": SID, **attrs}.items())
    return req.SerializeToString()


def test_metrics_delta_add_once_cumulative_replaces() -> None:
    book = SessionBook()
    cost = "claude_code.cost.usage"
    lines = "claude_code.lines_of_code.count"
    one = metrics_body([(cost, 0.5, 10, {"model": "a"}), (lines, 3, 10, {"type": "added"})], True)
    book.add(decode("metrics", one, False).records)
    book.add(decode("metrics", one, False).records)  # an exporter's retry
    two = metrics_body([(cost, 0.25, 20, {"model": "a"}), (cost, 1.0, 20, {"model": "b"})], True)
    book.add(decode("metrics", two, False).records)
    assert book.sessions[SID].metrics() == {"cost_usd": 1.75, "lines_added": 3.0}
    cumulative = SessionBook()
    for total in (1.0, 2.0):
        body = metrics_body([(cost, total, int(total * 10), {"model": "a"})], False)
        cumulative.add(decode("metrics", body, False).records)
    assert cumulative.sessions[SID].metrics() == {"cost_usd": 2.0}


def file_usage(key: str, tokens: int) -> SessionUsage:
    return SessionUsage("claude-code", SID, 100.0, "claude-opus-4-1", key, input_tokens=tokens)


@pytest.mark.parametrize("files_first", [True, False])
def test_one_session_fed_by_transcript_and_otlp_counts_once(files_first: bool) -> None:
    """The same two requests seen in the transcript (keys by message id) and over OTLP
    (keys by time and sequence): whichever source gave usage first counts it, once."""
    book = SessionBook(settle=0.0)
    transcript = [file_usage("msg:msg_01", 10), file_usage("msg:msg_02", 20)]
    otlp = [
        r
        for r in decode(
            "logs",
            logs(
                "claude-code",
                (
                    "claude_code.api_request",
                    {"session.id": SID, "input_tokens": "10", "model": "m", "event.sequence": "1"},
                    1,
                ),
                (
                    "claude_code.api_request",
                    {"session.id": SID, "input_tokens": "20", "model": "m", "event.sequence": "2"},
                    2,
                ),
            ),
            False,
        ).records
        if isinstance(r, SessionUsage)
    ]
    first, second = (transcript, otlp) if files_first else (otlp, transcript)
    book.add(first[:1])
    book.add(second)
    book.add(first[1:])
    usage, _, _ = book.drain(final=True)
    assert sum(u.input_tokens for u in usage) == 30 and len(usage) == 2
    assert {u.request_id.startswith("otlp:") for u in usage} == {not files_first}
    assert book.overlap == 2
    # after a restart the history's keys say which source the session had
    again = SessionBook(settle=0.0)
    meta = book.sessions[SID].meta()
    again.seed([(meta, book.sessions[SID].tokens.freeze())], [(meta.agent, usage[0].request_id)])
    again.add(second)
    assert again.drain(final=True)[0] == []


def test_gzip_bomb_refused_without_inflating() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    body = Body(65536, gzip=True)
    with pytest.raises(TooLarge):
        for i in range(0, len(bomb), 4096):
            body.feed(bomb[i : i + 4096])
    assert body.size <= 65536 + 65537  # stopped at the limit, not at 20 MB


def test_token_file_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "run" / "otlp.token"
    token = load_token(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(token) >= 40
    assert load_token(path) == token
    os.chmod(path, 0o644)
    with pytest.raises(ServerError, match="readable by others"):
        load_token(path)


def test_listen_must_be_loopback_unless_allowed() -> None:
    assert OtlpSettings(listen="[::1]:4318").address() == ("::1", 4318)
    with pytest.raises(ValidationError, match="allow_remote"):
        OtlpSettings(listen="0.0.0.0:4318")
    assert OtlpSettings(listen="0.0.0.0:4318", allow_remote=True).address() == ("0.0.0.0", 4318)
    with pytest.raises(ValidationError, match="host:port"):
        OtlpSettings(listen="localhost")


# -- the state each event says (otlp/states.py) ------------------------------------------


def signals(body: bytes) -> list[tuple[str, str, str | None, str | None]]:
    from tui_monitor.sessions.records import SessionSignal

    out = decode("logs", body, as_json=False).records
    return [(r.event, r.state, r.reason, r.tool) for r in out if isinstance(r, SessionSignal)]


def test_claude_events_say_working_a_user_reject_idle_a_refused_key_error() -> None:
    # Claude Code 2.x shapes (its monitoring docs): every attribute a string.
    ns = 1_767_261_600 * 10**9
    body = logs(
        "claude-code",
        ("claude_code.user_prompt", {"session.id": SID, "prompt_length": "12"}, ns),
        ("claude_code.api_request", {"session.id": SID, "model": "m", "input_tokens": "1"}, ns + 1),
        ("claude_code.tool_decision", {"session.id": SID, "tool_name": "Bash",
                                       "decision": "accept", "source": "config"}, ns + 2),
        ("claude_code.tool_result", {"session.id": SID, "tool_name": "Bash", "success": "true"},
         ns + 3),
        ("claude_code.tool_decision", {"session.id": SID, "tool_name": "Edit",
                                       "decision": "reject", "source": "user_reject"}, ns + 4),
        ("claude_code.tool_decision", {"session.id": SID, "tool_name": "Write",
                                       "decision": "reject", "source": "config"}, ns + 5),
        ("claude_code.api_error", {"session.id": SID, "status_code": "529", "attempt": "1",
                                   "error": "Overloaded"}, ns + 6),
        ("claude_code.api_error", {"session.id": SID, "status_code": "429", "attempt": "3"},
         ns + 7),
        ("claude_code.api_error", {"session.id": SID, "status_code": "401"}, ns + 8),
        ("claude_code.api_error", {"session.id": SID, "status_code": "402"}, ns + 9),
    )  # fmt: skip
    assert signals(body) == [
        ("user_prompt", "working", None, None),
        ("api_request", "working", None, None),
        ("tool_decision", "working", None, "Bash"),
        ("tool_result", "working", None, "Bash"),
        ("tool_decision", "idle", None, "Edit"),  # the user stopped the turn
        ("tool_decision", "working", None, "Write"),  # a deny rule: the model is told, goes on
        # 529 and 429 are retried by Claude Code itself: not the turn failing, nothing said
        ("api_error", "error", "authentication", None),
        ("api_error", "error", "billing", None),
    ]


def test_codex_and_gemini_events_say_their_state() -> None:
    # Codex 0.4x `codex.*` events (docs/config.md "otel"), Gemini CLI 0.x `gemini_cli.*`.
    ns = 1_767_261_600 * 10**9
    codex = logs(
        "codex_cli_rs",
        ("codex.user_prompt", {"conversation.id": SID, "prompt_length": "3"}, ns),
        ("codex.sse_event", {"conversation.id": SID, "event.kind": "response.created"}, ns + 1),
        ("codex.api_request", {"conversation.id": SID, "http.response.status_code": "200"},
         ns + 2),
        ("codex.api_request", {"conversation.id": SID, "http.response.status_code": "503",
                               "error.message": "busy"}, ns + 3),
        ("codex.api_request", {"conversation.id": SID, "http.response.status_code": "401"},
         ns + 4),
        ("codex.tool_decision", {"conversation.id": SID, "tool_name": "shell",
                                 "decision": "abort"}, ns + 5),
    )  # fmt: skip
    assert [s[:3] for s in signals(codex)] == [
        ("user_prompt", "working", None),
        ("sse_event", "working", None),
        ("api_request", "working", None),
        ("api_request", "error", "authentication"),
        ("tool_decision", "idle", None),
    ]
    gemini = logs(
        "gemini-cli",
        ("gemini_cli.tool_call", {"session.id": SID, "function_name": "run_shell"}, ns),
        ("gemini_cli.api_error", {"session.id": SID, "status_code": "500"}, ns + 1),
        ("gemini_cli.api_error", {"session.id": SID, "status_code": "400"}, ns + 2),
    )  # fmt: skip
    assert signals(gemini) == [
        ("tool_call", "working", None, "run_shell"),
        ("api_error", "error", "invalid_request", None),
    ]


def test_otlp_states_reach_the_row_in_order() -> None:
    ns = 1_767_261_600 * 10**9
    book = SessionBook(clock=lambda: 1_767_261_700.0)
    book.add(decode("logs", logs(
        "claude-code",
        ("claude_code.tool_decision", {"session.id": SID, "tool_name": "Edit",
                                       "decision": "reject", "source": "user_reject"}, ns + 10**9),
        ("claude_code.api_request", {"session.id": SID, "model": "m"}, ns),  # older, late
    ), as_json=False).records)  # fmt: skip
    v = book.sessions[SID].view(1_767_261_700.0, 10.0)
    assert (v.state, v.state_source, v.state_since) == ("idle", "otlp", 1_767_261_601.0)
