"""Alert toasts never pile over the event log (issue 13 item 21): one toast per alert per
minute, flapping summed up in one, a burst of changes in one tick as one toast."""

from __future__ import annotations

from typing import Any

import pytest
from factories import at, fleet, running, snapshot, step, wait_until

from tui_monitor.models import AgentEvent, EventLevel
from tui_monitor.ui.app import MonitorApp
from tui_monitor.ui.toasts import AlertToasts


def alert(ts: float, subject: str, state: str, level: EventLevel = "warning") -> AgentEvent:
    return AgentEvent(
        ts=at(ts),
        agent=subject,
        kind="alert",
        level=level,
        message=f"{subject} cpu {'above' if state == 'firing' else 'back below'} 90%",
        data={"rule": "cpu", "subject": subject, "state": state},
    )


@pytest.fixture(autouse=True)
def told(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every alert toast made, (message, severity): toasts expire from the screen, this not."""
    made: list[tuple[str, str]] = []
    notify = MonitorApp.notify

    def record(self: MonitorApp, message: str, **kw: Any) -> None:
        if kw.get("title") == "alert":
            made.append((message, kw.get("severity", "information")))
        notify(self, message, **kw)

    monkeypatch.setattr(MonitorApp, "notify", record)
    return made


async def test_a_flapping_alert_makes_one_toast_and_one_summary(
    told: list[tuple[str, str]],
) -> None:
    # Fires and clears on every tick for 20 ticks, then 60 s later one more tick.
    flaps = [
        snapshot(n, fleet(), [alert(n - 0.5, "planner", "firing" if n % 2 else "cleared")])
        for n in range(1, 21)
    ]
    later = snapshot(21, fleet(), ts=at(61))
    async with running([*flaps, later]) as (app, source, pilot):
        for _ in range(19):  # ticks 2-20 (the first is on screen already)
            await step(pilot, source)
        assert [m for m, _ in told] == ["planner cpu above 90%"]
        assert len([e for _, e in app.events if e.kind == "alert"]) == 20  # all in the log
        await step(pilot, source)  # a minute on
        await wait_until(pilot, lambda: len(told) == 2, what="the summary")
        assert told[1][0] == "planner cpu back below 90% (changed 19 times in the last minute)"


async def test_many_alerts_in_one_tick_make_one_toast(told: list[tuple[str, str]]) -> None:
    burst = [
        alert(0.5, f"agent-{i}", "firing", "critical" if i == 3 else "warning") for i in range(8)
    ]
    async with running([snapshot(1, fleet(), burst)]) as (app, _, pilot):
        await wait_until(pilot, lambda: told, what="a toast")
        await pilot.pause()
        [(message, severity)] = told
        assert message.startswith("8 alerts changed: agent-0 cpu above 90%; ")
        assert severity == "error"  # the worst of them
        assert len(app.alerts) == 8


def test_two_alerts_keep_their_own_windows() -> None:
    t = AlertToasts(window=60.0, burst=3)
    assert [x.message for x in t.offer([alert(0, "a", "firing")], 0.0)] == ["a cpu above 90%"]
    assert [x.message for x in t.offer([alert(1, "b", "firing")], 1.0)] == ["b cpu above 90%"]
    assert t.offer([alert(2, "a", "cleared")], 2.0) == []  # held: a toasted 2 s ago
    assert t.due(59.0) == []
    [summary] = t.due(60.0)
    assert summary.message == "a cpu back below 90% (changed once in the last minute)"
    assert summary.severity == "information" and not summary.firing
    assert t.due(200.0) == []  # nothing held any more
    assert [x.firing for x in t.offer([alert(201, "a", "firing")], 201.0)] == [True]
