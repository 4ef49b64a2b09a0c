"""The dashboard's state (ui/view.py): MSGS over the last hour in whole minutes, alerts."""

from __future__ import annotations

from factories import BASE, agent, event, snapshot

from tui_monitor.models import AgentEvent
from tui_monitor.ui.view import MESSAGE_MINUTES, View, message_cutoff


def test_cutoff_is_the_start_of_the_minute_an_hour_back() -> None:
    now = 7 * 3600 + 30 * 60 + 42.5  # 07:30:42.5
    assert message_cutoff(now) == 7 * 3600 + 30 * 60 - (MESSAGE_MINUTES - 1) * 60  # 06:31:00


def test_messages_count_the_last_hour_and_last_event_stays() -> None:
    view = View()
    a = agent("a")
    view.feed(snapshot(1, [a], [event("a", ts=0), event("a", level="error", ts=0.5)]))
    assert view.stats["a"].messages == 2
    assert view.stats["a"].errors == 1
    assert view.stats["a"].last_event == BASE.timestamp() + 0.5
    # 30 minutes on, one more: three in the hour.
    view.feed(snapshot(2, [a], [event("a", ts=1800)], ts=1800))
    assert view.stats["a"].messages == 3
    # Well over an hour after the first two: only the one from minute 30 still counts,
    # and the last event is still known.
    view.feed(snapshot(3, [a], [], ts=3600 + 900))
    assert view.stats["a"].messages == 1
    assert view.stats["a"].errors == 0
    assert view.stats["a"].last_event == BASE.timestamp() + 1800
    view.feed(snapshot(4, [a], [], ts=3 * 3600))
    assert view.stats["a"].messages == 0
    assert view.stats["a"].last_event == BASE.timestamp() + 1800


def test_stats_from_the_history_read_like_live_ones() -> None:
    view = View()
    now = BASE.timestamp() + 120
    view.snapshot = snapshot(1, [agent("a")], ts=120)
    view.set_stats({"a": (5, 2, now - 3), "b": (0, 0, now - 7200)}, now)
    assert (view.stats["a"].messages, view.stats["a"].errors) == (5, 2)
    assert view.stats["b"].messages == 0 and view.stats["b"].last_event == now - 7200


def alert(state: str, rule: str = "cpu", ts: float = 0) -> AgentEvent:
    e = event("host", "alert", f"{rule} {state}", ts=ts)
    return e.model_copy(update={"data": {"rule": rule, "subject": "host", "state": state}})


def test_alerts_fold_firing_and_clearing() -> None:
    view = View()
    changes = view.feed(snapshot(1, [], [alert("firing"), alert("firing", "mem")]))
    assert len(changes) == 2 and set(view.alerts) == {("cpu", "host"), ("mem", "host")}
    view.feed(snapshot(2, [], [alert("cleared", ts=1)]))
    assert set(view.alerts) == {("mem", "host")}
    # A replayed moment folds a day of changes itself, not those among its recent events.
    replay = View()
    replay.add_events([alert("firing")], alerts=False)
    assert replay.alerts == {}
