"""The fleet stream's lines: framing, the version handshake, bounds, compactness, cleaning."""

from __future__ import annotations

import json

import pytest
from factories import agent, snapshot, two_gpus

from tui_monitor.fleet import protocol
from tui_monitor.fleet.protocol import (
    MAX_AGENTS,
    MAX_LINE,
    ErrorLine,
    Handshake,
    Heartbeat,
    ProtocolError,
    SnapshotLine,
    decode,
    encode_error,
    encode_handshake,
    encode_heartbeat,
    encode_snapshot,
)


def fifty() -> list:  # type: ignore[type-arg]
    return [agent(f"agent-{i}", pids=range(100 * i, 100 * i + 8)) for i in range(50)]


def test_every_line_is_one_ascii_json_object_ending_in_a_newline() -> None:
    snap = snapshot(3, fifty(), gpu=two_gpus())
    for line in (
        encode_handshake("1.2.3", "gpu1", 1.0),
        encode_snapshot(snap, "recorder stopped 3m ago"),
        encode_heartbeat("x"),
        encode_error("no history"),
    ):
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert isinstance(json.loads(line.decode("ascii")), dict)


def test_handshake_round_trip() -> None:
    line = decode(encode_handshake("1.2.3", "gpu1", 0.5))
    assert line == Handshake(protocol.PROTOCOL, "1.2.3", "gpu1", 0.5)


def test_snapshot_round_trip_keeps_what_a_viewer_shows() -> None:
    snap = snapshot(3, fifty(), gpu=two_gpus())
    line = decode(encode_snapshot(snap, "recorder stopped 3m ago"))
    assert isinstance(line, SnapshotLine)
    assert line.warning == "recorder stopped 3m ago"
    got = line.snapshot
    assert [a.name for a in got.agents] == [a.name for a in snap.agents]
    assert got.agents[7] == snap.agents[7].model_copy(update={"pids": ()})
    assert got.gpu.gpus == snap.gpu.gpus and got.ts == snap.ts and got.seq == 3
    assert got.host.cpu_per_core is None and got.host.ram_used == snap.host.ram_used


def test_snapshot_is_compact() -> None:
    """What a viewer cannot use stays home: 50 agents fit in well under 20 kB."""
    snap = snapshot(3, fifty(), gpu=two_gpus())
    line = encode_snapshot(snap)
    assert len(line) < 20_000 < len(snap.model_dump_json())
    doc = json.loads(line)["snapshot"]
    assert "events" not in doc and "pids" not in doc["agents"][0]


def test_too_many_agents_are_left_out_and_said() -> None:
    snap = snapshot(1, [agent(f"a{i}") for i in range(MAX_AGENTS + 5)])
    line = decode(encode_snapshot(snap))
    assert isinstance(line, SnapshotLine)
    assert len(line.snapshot.agents) == MAX_AGENTS
    assert line.warning == "5 agents not sent"


def test_heartbeat_and_error() -> None:
    assert decode(encode_heartbeat("no tick for 30s")) == Heartbeat("no tick for 30s")
    assert decode(encode_error("no history at /x")) == ErrorLine("no history at /x")


@pytest.mark.parametrize("version", [0, 2, 99])
def test_another_protocol_version_is_refused_with_both_versions(version: int) -> None:
    raw = json.dumps({"tui_monitor_stream": version, "version": "9.9", "host": "h", "interval": 1})
    with pytest.raises(ProtocolError, match=f"protocol {version} .*speaks 1"):
        decode(raw.encode())


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"hello world\n", "not JSON"),
        (b"[1, 2]\n", "not a JSON object but list"),
        (b'{"what": 1}\n', "not a stream line"),
        (b'{"tui_monitor_stream": "1"}\n', "without a protocol version"),
        (b'{"tui_monitor_stream": 1, "interval": -1}\n', "positive interval"),
        (b'{"snapshot": 5}\n', "not an object"),
        (b'{"snapshot": {"seq": 1}}\n', "not valid"),
        (b'{"error": 5}\n', "a int where text belongs"),
        (b"\xff\xfe\n", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ],
)
def test_bad_lines_are_one_line_protocol_errors(raw: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason) as info:
        decode(raw)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_a_line_over_the_bound_is_refused_before_parsing() -> None:
    with pytest.raises(ProtocolError, match="bytes"):
        decode(b'{"warning": "' + b"x" * MAX_LINE + b'"}')


def test_deeply_nested_snapshot_is_refused() -> None:
    snap = json.loads(encode_snapshot(snapshot(1, [agent("a")])))
    deep: object = 1
    for _ in range(40):
        deep = {"k": deep}
    snap["snapshot"]["agents"][0]["metrics"] = deep
    with pytest.raises(ProtocolError, match="nested"):
        decode(json.dumps(snap).encode())


def test_remote_strings_are_cleaned() -> None:
    """A remote's names and text with escape sequences arrive inert."""
    snap = json.loads(encode_snapshot(snapshot(1, [agent("a")])))
    a = snap["snapshot"]["agents"][0]
    a["name"] = "evil\x1b]0;pwned\x07"
    a["cmdline"] = "run \x1b[2J\u202e now"
    a["metrics"] = {"k\x1b[31m": 1.0}
    snap["warning"] = "bad\nnews\x1b[0m"
    line = decode(json.dumps(snap).encode())
    assert isinstance(line, SnapshotLine)
    got = line.snapshot.agents[0]
    assert got.name == "evil\\x1b]0;pwned\\x07"
    assert "\x1b" not in got.cmdline and "\u202e" not in got.cmdline
    assert list(got.metrics) == ["k\\x1b[31m"]
    assert line.warning == "bad\\nnews\\x1b[0m"
    hs = decode(json.dumps({"tui_monitor_stream": 1, "host": "h\x1b[H", "interval": 1}).encode())
    assert isinstance(hs, Handshake) and hs.host == "h\\x1b[H"


def test_fields_of_a_newer_remote_are_dropped() -> None:
    """Same protocol, a newer tui-monitor whose models grew a field: still read."""
    snap = json.loads(encode_snapshot(snapshot(1, [agent("a")])))
    snap["snapshot"]["shiny"] = 1
    snap["snapshot"]["agents"][0]["sparkle"] = "x"
    line = decode(json.dumps(snap).encode())
    assert isinstance(line, SnapshotLine) and line.snapshot.agents[0].name == "a"


def test_a_wrong_value_is_not_mistaken_for_a_new_field() -> None:
    snap = json.loads(encode_snapshot(snapshot(1, [agent("a")])))
    snap["snapshot"]["shiny"] = 1
    snap["snapshot"]["agents"][0]["status"] = "dancing"
    with pytest.raises(ProtocolError, match="status"):
        decode(json.dumps(snap).encode())
