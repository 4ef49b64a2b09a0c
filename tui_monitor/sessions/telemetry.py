"""What a session's own telemetry (OTLP) adds to the book: metrics for its row, events for
the history, and which source counts its usage.

Usage precedence (README, "OTLP"): a session's usage comes from ONE source, the first that
gave the book a usage record for it: its files (keys `msg:...`, `codex:...`, ...) or OTLP
(keys `otlp:...`). Claude Code's transcript keys a response by its message id, which its
`api_request` event does not carry, so the two cannot be matched request by request; a
session seen both ways would count twice. Per session, the other source's usage is dropped
(counted in `SessionBook.overlap`); its events, errors and metrics still count. The choice
survives a restart through the keys the history seeds the book with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..models import AgentEvent
from .records import SessionEvent, SessionMetric

OTLP_KEY = "otlp:"
SERIES_MAX = 256
"""Series one session keeps (a hostile exporter cannot grow a row without bound)."""


def usage_source(key: str) -> str:
    """Which source a usage key came from: "otlp" or "files"."""
    return "otlp" if key.startswith(OTLP_KEY) else "files"


@dataclass(slots=True)
class Telemetry:
    """One session's metric series: delta points add (once per end time, so an exporter's
    retry adds nothing), cumulative points replace."""

    values: dict[tuple[str, str], float] = field(default_factory=dict)
    ends: dict[tuple[str, str], float] = field(default_factory=dict)

    def take(self, m: SessionMetric) -> bool:
        """Fold a point in; False when it was already counted (or there is no room)."""
        key = (m.name, m.series)
        if key not in self.values and len(self.values) >= SERIES_MAX:
            return False
        if m.delta:
            if m.ts <= self.ends.get(key, float("-inf")):
                return False
            self.ends[key] = m.ts
            self.values[key] = self.values.get(key, 0.0) + m.value
        else:
            self.values[key] = m.value
        return True

    def metrics(self) -> dict[str, float]:
        """Metric name -> the sum of its series, rounded for the row."""
        out: dict[str, float] = {}
        for (name, _), value in self.values.items():
            out[name] = out.get(name, 0.0) + value
        return {k: round(v, 6) for k, v in out.items()}


def event_record(agent: str, e: SessionEvent) -> AgentEvent:
    """A session event as the history stores agents' events."""
    return AgentEvent(
        ts=datetime.fromtimestamp(e.ts, UTC),
        agent=agent,
        kind=e.kind,
        message=e.message,
        data=dict(e.data),
    )
