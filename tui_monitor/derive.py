"""What a tick derives from what agents reported: cost, budgets and alerts.

The sampler hands each new snapshot to `Derived.apply`, which prices its usage into the
ledger, puts today's cost on each agent and the fleet's money on the snapshot, and runs the
alert rules over the result. Alert changes become events of the same tick (stored, logged,
toasted) and start the configured `on_alert` command, never waiting for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime

from . import ledger, usage
from .alerts import AlertChange, AlertEngine, run_on_alert_async, subject_label, values_from
from .alerts.rules import AGENT_METRICS
from .config import Settings
from .models import AgentEvent, BudgetState, CostState, EventLevel, Snapshot, UsageRecord

log = logging.getLogger(__name__)

RATE_WINDOW = 60.0
"""Seconds of errors behind the error_rate metric (errors per minute)."""


def cost_state(summary: ledger.CostSummary) -> CostState:
    return CostState(
        today=summary.today.cost,
        month=summary.month.cost,
        burn_per_hour=summary.burn_per_hour,
        unknown=summary.unknown_cost_records,
        budgets=tuple(
            BudgetState(
                name=b.name,
                limit=b.limit,
                spent=b.spent,
                pct=b.pct,
                exceeded=b.exceeded,
                runs_out_at=b.runs_out_at,
                runs_out_in_period=b.runs_out_in_period,
            )
            for b in summary.budgets
        ),
    )


def with_cost(snap: Snapshot, summary: ledger.CostSummary) -> Snapshot:
    """The snapshot with today's cost on each agent that spent anything, and the totals."""
    spent = summary.agents
    agents = tuple(
        a.model_copy(update={"cost": spent[a.name].today.cost}) if a.name in spent else a
        for a in snap.agents
    )
    return snap.model_copy(update={"agents": agents, "cost": cost_state(summary)})


def alert_event(change: AlertChange) -> AgentEvent:
    level: EventLevel = "info"
    if change.state == "firing":
        level = "critical" if change.severity == "critical" else "warning"
    who = (
        change.subject
        if change.metric in AGENT_METRICS
        else subject_label(change.metric, change.subject)
    )
    return AgentEvent(
        ts=datetime.fromtimestamp(change.at, UTC),
        agent=who,
        kind="alert",
        level=level,
        message=change.message,
        data={
            "rule": change.rule,
            "subject": change.subject,
            "metric": change.metric,
            "state": change.state,
            "severity": change.severity,
            "value": change.value,
            "threshold": change.threshold,
        },
    )


class Derived:
    """Owns the usage ledger and the alert engine of one recorder."""

    def __init__(self, settings: Settings) -> None:
        self.ledger = ledger.Ledger(settings.prices, settings.budgets)
        cfg = settings.alerts
        self.engine = AlertEngine(cfg) if cfg.enabled else None
        self.on_alert = cfg.on_alert
        self.on_alert_timeout = cfg.on_alert_timeout
        self._errors: deque[tuple[float, str]] = deque()
        self._hooks: set[asyncio.Task[None]] = set()
        self.hook_problems = 0
        self.last_hook_problem: str | None = None

    def seed(self, records: Iterable[UsageRecord]) -> None:
        """This month's usage from the history, so a restart keeps today's and the month's."""
        for r in records:
            self.ledger.add(usage.UsageRecord.of(r))

    def apply(self, snap: Snapshot) -> Snapshot:
        now = snap.ts.timestamp()
        for u in snap.usage:
            self.ledger.add(usage.UsageRecord.of(u))
        summary = self.ledger.summary(now)
        snap = with_cost(snap, summary)
        if self.engine is None:
            return snap
        for e in snap.errors:
            self._errors.append((now, e.agent))
        while self._errors and now - self._errors[0][0] > RATE_WINDOW:
            self._errors.popleft()
        rate: dict[str, float] = {}
        for _, agent in self._errors:
            rate[agent] = rate.get(agent, 0.0) + 60.0 / RATE_WINDOW
        values = values_from(
            snap,
            unresolved={a.name: a.errors for a in snap.agents},
            error_rate=rate,
            budgets=ledger.budget_levels(summary),
        )
        changes = self.engine.evaluate(now, values)
        if not changes:
            return snap
        for change in changes:
            self._hook(change)
        events = tuple(alert_event(c) for c in changes)
        return snap.model_copy(update={"events": (*snap.events, *events)})

    def _hook(self, change: AlertChange) -> None:
        if not self.on_alert:
            return
        task = asyncio.create_task(self._run_hook(self.on_alert, change))
        self._hooks.add(task)
        task.add_done_callback(self._hooks.discard)

    async def _run_hook(self, argv: list[str], change: AlertChange) -> None:
        problem = await run_on_alert_async(argv, change, timeout=self.on_alert_timeout)
        if problem is not None:
            self.hook_problems += 1
            self.last_hook_problem = problem
            log.warning("%s", problem)

    async def close(self, timeout: float = 5.0) -> None:
        """Let running on_alert commands finish (they are killed at their own timeout)."""
        if self._hooks:
            await asyncio.wait(self._hooks, timeout=timeout)


def month_start_ms(now: float | None = None) -> int:
    """A little before the local month began: the ledger ignores what is older."""
    t = time.localtime(time.time() if now is None else now)
    start = time.mktime((t.tm_year, t.tm_mon, 1, 0, 0, 0, 0, 0, -1))
    return int((start - 86400) * 1000)
