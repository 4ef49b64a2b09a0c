"""What a tick's alert rules make of it: alert events, and the `on_alert` command started.

The recorder's sampler hands each snapshot (cost already on it) to `AlertTick.apply`, which
runs the rules over it. Alert changes become events of the same tick (stored, logged,
toasted) and start the configured `on_alert` command, never waiting for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

from ..models import AgentEvent, EventLevel, Snapshot
from .engine import AlertChange, AlertEngine, subject_label, values_from
from .hook import run_on_alert_async
from .rules import AGENT_METRICS, AlertSettings

log = logging.getLogger(__name__)

RATE_WINDOW = 60.0
"""Seconds of errors behind the error_rate metric (errors per minute)."""


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


class AlertTick:
    """Owns the alert engine of one recorder, the error-rate window and running hooks."""

    def __init__(self, settings: AlertSettings) -> None:
        self.engine = AlertEngine(settings) if settings.enabled else None
        self.on_alert = settings.on_alert
        self.on_alert_timeout = settings.on_alert_timeout
        self._errors: deque[tuple[float, str]] = deque()
        self._hooks: set[asyncio.Task[None]] = set()
        self.hook_problems = 0
        self.last_hook_problem: str | None = None

    def apply(self, snap: Snapshot, budgets: Sequence[tuple[str, float]] = ()) -> Snapshot:
        """The snapshot with this tick's alert changes added as events.

        Args:
            snap: the tick, with cost and open errors already on its agents.
            budgets: (budget name, percent used) pairs for the budget rules.
        """
        if self.engine is None:
            return snap
        now = snap.ts.timestamp()
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
            budgets=budgets,
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
