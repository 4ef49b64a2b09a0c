"""The counters /metrics keeps itself, from every tick the recorder's sampler publishes:
tokens, cost and requests by model, events by level, reported errors.

They count what this recorder saw while it ran (Prometheus reads the restart as a counter
reset, which `rate()` and `increase()` expect). Usage older than the recorder's start, which
the session readers' backfill imports from agents' files, is not counted: it happened
before, and would show as one huge spike; the history and `tui_monitor_cost_month_usd` have
it.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ..models import Snapshot
from .labels import ModelSlots

BACKFILL_SLACK = 60.0
"""Seconds before the recorder's start a usage record may date from and still count (a
session line written while the recorder was starting)."""
SEEN_MAX = 100_000
"""(agent, request_id) pairs remembered, so a request told twice (a retry, a hook and a file)
counts once, as in the cost ledger."""
TOKEN_TYPES = ("input", "output", "cache_read", "cache_write")
LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass
class Tally:
    """Running totals since `started` (epoch s); `add` is called on the loop every tick."""

    models: ModelSlots
    levels: dict[int, str] = field(default_factory=dict)
    """Stored events' level codes -> names (store/schema.py's, handed in)."""
    started: float = field(default_factory=time.time)
    tokens: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(model, type) -> tokens."""
    cost: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    """model -> USD of priced usage."""
    requests: Counter[str] = field(default_factory=Counter)
    unpriced: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(LEVELS, 0)))
    errors: int = 0
    backfill: int = 0
    """Usage records older than the start, not counted above."""
    seen: dict[int, None] = field(default_factory=dict)

    def add(self, snap: Snapshot) -> None:
        since = self.started - BACKFILL_SLACK
        for u in snap.usage:
            if u.ts.timestamp() < since:
                self.backfill += 1
                continue
            if u.request_id is not None:
                key = hash((u.agent, u.request_id))
                if key in self.seen:
                    continue
                self.seen[key] = None
                if len(self.seen) > SEEN_MAX:
                    del self.seen[next(iter(self.seen))]
            model = self.models.of(u.model)
            self.requests[model] += 1
            self.tokens[model, "input"] += u.input_tokens
            self.tokens[model, "output"] += u.output_tokens
            self.tokens[model, "cache_read"] += u.cache_read_tokens
            self.tokens[model, "cache_write"] += u.cache_write_tokens
            if u.cost_usd is None:
                self.unpriced[model] += 1
            else:
                self.cost[model] += u.cost_usd
        for e in snap.events:
            self.events[e.level] += 1
        if snap.event_rows:
            for row in snap.event_rows:
                self.events[self.levels.get(row[3], "info")] += 1
        self.errors += len(snap.errors)

    def copy(self) -> Tally:
        """A copy a scrape may read on another thread while the loop adds the next tick."""
        return Tally(
            self.models, self.levels, self.started, Counter(self.tokens),
            defaultdict(float, self.cost), Counter(self.requests), Counter(self.unpriced),
            Counter(self.events), self.errors, self.backfill, {},
        )  # fmt: skip
