"""What a tick derives from reports: cost on agents, budgets (cost/tick.py) and alert events
(alerts/tick.py, the real engine), applied in the sampler's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import agent, snapshot

from tui_monitor.alerts.tick import AlertTick
from tui_monitor.config import Settings
from tui_monitor.cost.ledger import budget_levels
from tui_monitor.cost.tick import CostTick
from tui_monitor.models import ErrorRecord, Snapshot, UsageRecord


def settings(**extra: object) -> Settings:
    return Settings.model_validate(
        {
            "prices": {"m": {"input": 1000.0, "output": 1000.0}},
            "budgets": {"daily": 2.0},
            "alerts": {
                "rules": [
                    {"name": "hot", "metric": "cpu", "threshold": 80, "for": 2, "clear": 10},
                    {"name": "flaky", "metric": "error_rate", "threshold": 2},
                    {"name": "spend", "metric": "budget", "op": ">=", "threshold": 50},
                ]
            },
            **extra,
        }
    )


class Derived:
    """Cost, then alerts over the snapshot with its cost: what `Sampler.tick` does."""

    def __init__(self, settings: Settings) -> None:
        self.cost = CostTick(settings.prices, settings.budgets)
        self.alerts = AlertTick(settings.alerts)

    def apply(self, snap: Snapshot) -> Snapshot:
        snap, summary = self.cost.apply(snap)
        return self.alerts.apply(snap, budget_levels(summary))


def test_usage_becomes_cost_on_the_agent_and_budget_state() -> None:
    d = Derived(settings())
    snap = snapshot(1, [agent("coder"), agent("idle")], ts=datetime.now(UTC))
    used = UsageRecord(ts=snap.ts, agent="coder", model="m", input_tokens=500, output_tokens=500)
    out = d.apply(snap.model_copy(update={"usage": (used,)}))
    coder, idle = out.agents
    assert coder.cost == pytest.approx(1.0) and idle.cost is None
    assert out.cost is not None and out.cost.today == pytest.approx(1.0)
    [daily] = out.cost.budgets
    assert (daily.name, daily.pct, daily.exceeded) == ("daily", pytest.approx(50.0), False)
    [event] = [e for e in out.events if e.kind == "alert"]
    assert event.data["rule"] == "spend" and event.data["state"] == "firing"
    assert event.agent == "budget daily" and event.level == "warning"


def test_alerts_fire_after_their_duration_and_clear_with_hysteresis() -> None:
    d = Derived(settings())
    states: list[tuple[int, str, str]] = []
    for i, cpu in enumerate([95, 95, 95, 75, 65, 65, 65]):
        out = d.apply(snapshot(i + 1, [agent("worker", cpu=float(cpu))]))
        states += [(i, e.data["state"], e.level) for e in out.events if e.kind == "alert"]
    assert states == [(2, "firing", "warning"), (6, "cleared", "info")]


def test_error_rate_counts_errors_of_the_last_minute() -> None:
    d = Derived(settings())
    first = snapshot(1, [agent("a")], ts=datetime.now(UTC))
    errs = tuple(
        ErrorRecord(ts=first.ts, agent="a", error_type="E", message=str(i)) for i in range(3)
    )
    out = d.apply(first.model_copy(update={"errors": errs}))
    assert [e.data["rule"] for e in out.events if e.kind == "alert"] == ["flaky"]
    later = snapshot(1, [agent("a")], ts=first.ts + timedelta(seconds=61))
    out = d.apply(later)
    assert [e.data["state"] for e in out.events if e.kind == "alert"] == ["cleared"]


def test_alerts_can_be_switched_off() -> None:
    d = Derived(settings(alerts={"enabled": False}))
    out = d.apply(snapshot(1, [agent("w", cpu=500.0)]))
    assert not [e for e in out.events if e.kind == "alert"] and out.cost is not None
