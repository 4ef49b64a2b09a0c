"""Ingest protocol v1: every message type accepted, every bad line refused with its reason."""

from __future__ import annotations

import json

import pytest

from tui_monitor.ingest.protocol import (
    MAX_DATA,
    MAX_LINE,
    Error,
    Event,
    Heartbeat,
    Register,
    Rejected,
    Usage,
    parse,
)

NOW = 1_800_000_000.0


def line(**fields: object) -> bytes:
    return json.dumps({"v": 1, "agent": "planner", **fields}).encode()


def reason(raw: bytes) -> str:
    with pytest.raises(Rejected) as caught:
        parse(raw, NOW)
    text = caught.value.reason
    assert "\n" not in text and len(text) <= 300
    return text


def test_each_type_is_accepted_with_its_fields() -> None:
    reg = parse(line(type="register", pid=42, kind="coder", labels={"team": "a"}), NOW)
    assert isinstance(reg, Register) and (reg.pid, reg.kind, reg.labels) == (
        42,
        "coder",
        {"team": "a"},
    )
    hb = parse(
        line(type="heartbeat", status="busy", queue_depth=3, task="t", metrics={"q": 1.5}), NOW
    )
    assert isinstance(hb, Heartbeat)
    assert (hb.status, hb.queue_depth, hb.task, hb.metrics) == ("busy", 3, "t", {"q": 1.5})
    ev = parse(line(type="event", level="warning", kind="step", message="m", data={"a": [1]}), NOW)
    assert isinstance(ev, Event) and (ev.level, ev.kind, ev.data) == ("warning", "step", {"a": [1]})
    err = parse(line(type="error", error_type="Timeout", message="m", stack="s"), NOW)
    assert isinstance(err, Error) and (err.error_type, err.stack) == ("Timeout", "s")
    use = parse(
        line(type="usage", model="m", input_tokens=10, output_tokens=2, cost_usd=0.5,
             request_id="r1"),
        NOW,
    )  # fmt: skip
    assert isinstance(use, Usage) and (use.input_tokens, use.cost_usd) == (10, 0.5)
    assert use.cache_write_1h_tokens == 0  # optional: a sender that never heard of it is fine
    hour = parse(line(type="usage", model="m", cache_write_tokens=9, cache_write_1h_tokens=4), NOW)
    assert isinstance(hour, Usage)
    assert (hour.cache_write_tokens, hour.cache_write_1h_tokens) == (9, 4)


def test_timestamps_epoch_rfc3339_or_receive_time() -> None:
    assert parse(line(type="event"), NOW).epoch == NOW
    assert parse(line(type="event", ts=NOW - 5), NOW).epoch == NOW - 5
    assert parse(line(type="event", ts=int(NOW)), NOW).epoch == NOW
    rfc = parse(line(type="event", ts="2027-01-15T08:00:00+01:00"), NOW)
    assert rfc.epoch == 1_799_996_400.0
    assert parse(line(type="event", ts="2027-01-15T07:00:00Z"), NOW).epoch == 1_799_996_400.0


def test_strings_are_kept_exactly() -> None:
    hostile = "[bold]x[/] [@click=app.quit]q[/] \x1b[31mred\x1b]0;title\x07 \u202eevil \x00"
    msg = parse(line(type="event", agent=hostile, message=hostile, kind=hostile[:60]), NOW)
    assert isinstance(msg, Event)
    assert (msg.agent, msg.message, msg.kind) == (hostile, hostile, hostile[:60])


BAD = [
    (b"{not json", "invalid JSON"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b'{"v":1,"type":"event","agent":"a","message":"\xc3"}', "not valid UTF-8"),
    (b"", "empty line"),
    (b"[1, 2]", "must be a JSON object"),
    (line(type="event", message=5), "message: Input should be a valid string"),
    (line(type="heartbeat", queue_depth="3"), "queue_depth"),
    (line(type="heartbeat", queue_depth=-1), "queue_depth"),
    (line(type="usage", model="m", input_tokens=True), "input_tokens"),
    (line(type="launch"), "unknown type 'launch'"),
    (json.dumps({"v": 1, "agent": "a"}).encode(), "missing field 'type'"),
    (line(type="event", mesage="typo"), "unknown field 'mesage'"),
    (json.dumps({"v": 2, "type": "event", "agent": "a"}).encode(), "unsupported protocol version"),
    (line(type="event", level="loud"), "level"),
    (line(type="event", agent=""), "agent"),
    (line(type="event", agent="x" * 129), "agent"),
    (b'{"v":1,"type":"heartbeat","agent":"a","metrics":{"x":NaN}}', "NaN"),
    (b'{"v":1,"type":"heartbeat","agent":"a","metrics":{"x":Infinity}}', "Infinity"),
    (b'{"v":1,"type":"heartbeat","agent":"a","metrics":{"x":1e400}}', "out of range"),
    (b'{"v":1,"type":"event","agent":"a","data":{"x":[-1e400]}}', "out of range"),
    (line(type="event", ts="9999-12-31T23:59:59Z"), "in the future"),
    (line(type="event", ts=253_402_300_799), "in the future"),
    (line(type="event", ts=NOW * 1000), "in the future"),
    (line(type="event", ts=12), "before the year 2000"),
    (line(type="event", ts="yesterday"), "RFC 3339"),
    (line(type="event", ts="2027-01-15T08:00:00"), "UTC offset"),
    (b'{"v":1,"type":"event","agent":"a","message":"\\ud800"}', "surrogate"),
    (line(type="event", message="m" * 8193), "message"),
    (line(type="error", stack="s" * (32 * 1024 + 1)), "stack"),
    (line(type="usage", model="m", cost_usd=-1), "cost_usd"),
    # Strict types: a bool is no integer and 1.0 is no 1, in `v` as in every integer field.
    (json.dumps({"v": True, "type": "event", "agent": "a"}).encode(), "v: Input should be"),
    (json.dumps({"v": 1.0, "type": "event", "agent": "a"}).encode(), "v: Input should be"),
    (json.dumps({"v": "1", "type": "event", "agent": "a"}).encode(), "v: Input should be"),
    (json.dumps({"type": "event", "agent": "a"}).encode(), "missing field 'v'"),
    (line(type="event", pid=True), "pid: Input should be a valid integer"),
    (line(type="event", pid=42.0), "pid: Input should be a valid integer"),
    (line(type="heartbeat", queue_depth=True), "queue_depth: Input should be a valid integer"),
    (line(type="heartbeat", queue_depth=3.0), "queue_depth: Input should be a valid integer"),
    (line(type="usage", model="m", output_tokens=2.0), "output_tokens: Input should be"),
    (line(type="usage", model="m", cache_read_tokens=False), "cache_read_tokens: Input should"),
    (line(type="usage", model="m", cost_usd=True), "cost_usd: Input should be a valid number"),
    (line(type="usage", model="m", cache_write_1h_tokens=1.0), "cache_write_1h_tokens: Input"),
    (line(type="usage", model="m", cache_write_1h_tokens=-1), "cache_write_1h_tokens: Input"),
    # the one-hour part of the cache writes cannot be more than all of them
    (
        line(type="usage", model="m", cache_write_tokens=5, cache_write_1h_tokens=6),
        "cache_write_1h_tokens: more than cache_write_tokens",
    ),
    # An integer past Python's 4,300-digit limit: refused like any bad number, not a crash.
    (b'{"v":1,"type":"event","agent":"a","data":{"n":' + b"9" * 4301 + b"}}", "number too long"),
    (b'{"v":1' + b"0" * 5000 + b',"type":"event","agent":"a"}', "number too long"),
    (b'{"v":1,"type":"event","agent":"a","ts":1' + b"0" * 400 + b"}", "ts"),
]


@pytest.mark.parametrize(("raw", "expected"), BAD, ids=[e for _, e in BAD])
def test_bad_lines_are_refused_with_their_reason(raw: bytes, expected: str) -> None:
    assert expected in reason(raw)


def test_size_and_depth_limits() -> None:
    assert "longer than" in reason(b"x" * (1 << 20))
    assert "longer than" in reason(b"[" * 100_000)
    assert "nested deeper" in reason(b"[" * 60_000)  # within the line limit: JSON's own guard
    deep = b'{"v":1,"type":"event","agent":"a","data":' + b'{"a":' * 33 + b"1" + b"}" * 34
    assert "nested deeper than 32" in reason(deep)
    ok = b'{"v":1,"type":"event","agent":"a","data":' + b'{"a":' * 31 + b"1" + b"}" * 32
    assert isinstance(parse(ok, NOW), Event)
    big = line(type="event", data={"k": "x" * MAX_DATA})
    assert len(big) < MAX_LINE and f"more than {MAX_DATA}" in reason(big)
    deep_text = b'{"v":1,"type":"event","agent":"a","data":' + b"[" * 500 + b'"\\ud800"'
    deep_text += b"]" * 500 + b"}"
    assert "nested deeper" in reason(deep_text)
