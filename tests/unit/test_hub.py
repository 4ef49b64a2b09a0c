"""The ingest hub: what a tick takes, in order, split into shown events and rows."""

from __future__ import annotations

import json

from tui_monitor.ingest.hub import SHOWN, IngestHub
from tui_monitor.store.schema import LEVEL_CODES


def line(i: int, **more: object) -> bytes:
    return json.dumps(
        {"v": 1, "type": "event", "agent": "a", "message": str(i), "ts": 1.8e9 + i, **more}
    ).encode()


def test_a_tick_takes_everything_newest_shown_older_as_rows() -> None:
    hub = IngestHub(clock=lambda: 1.8e9 + 10_000)
    for i in range(SHOWN + 300):
        assert hub.receive(line(i, level="warning", data={"i": i})) is None
    assert hub.pending == SHOWN + 300
    drained = hub.drain()
    assert hub.pending == 0 and drained.count == SHOWN + 300
    assert [r[4] for r in drained.rows] == [str(i) for i in range(300)]
    assert drained.rows[0] == (
        1_800_000_000_000, "a", "message", LEVEL_CODES["warning"], "0", '{"i": 0}'
    )  # fmt: skip
    shown = drained.events
    assert [e.message for e in shown] == [str(i) for i in range(300, SHOWN + 300)]
    assert shown[0].level == "warning" and shown[0].data == {"i": 300}
    assert shown[0].ts.timestamp() == 1.8e9 + 300


def test_errors_and_registrations_are_events_too() -> None:
    hub = IngestHub(clock=lambda: 1.8e9)
    hub.receive(b'{"v":1,"type":"register","agent":"a","kind":"k","pid":7,"ts":1.8e9}')
    hub.receive(b'{"v":1,"type":"error","agent":"a","error_type":"E","message":"m","ts":1.8e9}')
    drained = hub.drain()
    assert [(e.kind, e.level, e.message) for e in drained.events] == [
        ("registered", "info", "kind k, pid 7"),
        ("error", "error", "E: m"),
    ]
    assert [(r.error_type, r.message) for r in drained.errors] == [("E", "m")]


def test_agents_that_only_send_events_go_idle_then_leave() -> None:
    """2,239 names that each sent one event must not stay in every viewer's table for good."""
    now = [1.8e9]
    hub = IngestHub(heartbeat_timeout=30.0, forget_after=300.0, clock=lambda: now[0])
    names = [f"job-{i}" for i in range(2239)]
    for n in names:
        assert hub.receive(json.dumps({"v": 1, "type": "event", "agent": n}).encode()) is None
    hub.receive(b'{"v":1,"type":"heartbeat","agent":"beating","status":"busy"}')
    hub.drain()

    def table(at: float) -> dict[str, str]:
        return {a.name: a.status for a in hub.apply((), at)}

    assert set(table(now[0] + 10).values()) == {"running"}
    later = table(now[0] + 31)  # silent past the timeout: idle, never stale (no alert)
    assert {later[n] for n in names} == {"idle"} and later["beating"] == "stale"
    assert len(table(now[0] + 299)) == 2240
    assert table(now[0] + 301) == {}  # silent for forget_after: gone, like stale agents
    assert hub.agents == {}
    now[0] += 400
    hub.receive(json.dumps({"v": 1, "type": "event", "agent": "job-7"}).encode())
    assert table(now[0]) == {"job-7": "running"}  # a new message brings it back


def test_an_event_only_agent_that_keeps_talking_stays() -> None:
    now = [1.8e9]
    hub = IngestHub(heartbeat_timeout=30.0, forget_after=300.0, clock=lambda: now[0])
    for _ in range(20):
        hub.receive(b'{"v":1,"type":"event","agent":"chatty"}')
        assert [a.status for a in hub.apply((), now[0] + 20)] == ["running"]
        now[0] += 25


def test_claims_keep_when_a_pid_was_first_reported() -> None:
    """A process that started after that moment reused the pid: the collector checks."""
    now = [1.8e9]
    hub = IngestHub(clock=lambda: now[0])
    hub.receive(b'{"v":1,"type":"register","agent":"w","kind":"worker","pid":4242}')
    now[0] += 60
    hub.receive(b'{"v":1,"type":"heartbeat","agent":"w","pid":4242}')
    hub.receive(b'{"v":1,"type":"event","agent":"quiet"}')
    assert hub.claims() == {"w": (4242, 1.8e9)}
    hub.receive(b'{"v":1,"type":"register","agent":"w","pid":4343}')  # restarted elsewhere
    assert hub.claims() == {"w": (4343, 1.8e9 + 60)}
