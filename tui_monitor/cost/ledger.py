"""A running ledger of spend: today, this month, the burn over the last hour, budgets.

The recorder feeds `Ledger.add` with usage records as they arrive (and, at start, with this
month's rows from history); the overview, the agent screen and the alert engine read
`Ledger.summary`. Spend is counted in local days and months. The ledger never prices: a
record's cost is fixed once, when it is recorded (`prices.priced`), and a record without one
counts as unknown, so a history read back adds up to what was shown at the time.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from ..models import UsageRecord
from .budgets import HOUR, BudgetSettings, BudgetStatus, budget_status

DEDUP_CAPACITY = 100_000
"""Recent (agent, request_id) pairs remembered; the DB's unique index is the last guard."""
MAX_KEYS = 10_000
"""Distinct (agent, model) pairs kept apart; past this, new pairs are summed under OTHER."""
OTHER = "(other)"


@dataclass(frozen=True, slots=True)
class Tokens:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


@dataclass(frozen=True, slots=True)
class Usage:
    """Totals over one period: `cost` sums the known costs; `unknown` records had no price."""

    tokens: Tokens = Tokens()
    cost: float = 0.0
    unknown: int = 0
    records: int = 0


@dataclass(frozen=True, slots=True)
class ModelUsage:
    model: str
    today: Usage
    month: Usage


@dataclass(frozen=True, slots=True)
class AgentCost:
    agent: str
    today: Usage
    month: Usage
    burn_per_hour: float
    models: dict[str, ModelUsage]


@dataclass(frozen=True, slots=True)
class CostSummary:
    ts: float
    today: Usage
    month: Usage
    burn_per_hour: float
    """USD over the trailing hour (per-minute buckets: the last 59-60 minutes), per hour."""
    agents: dict[str, AgentCost]
    models: dict[str, ModelUsage]
    budgets: tuple[BudgetStatus, ...]

    @property
    def unknown_cost_records(self) -> int:
        """Records this month (today's included) whose cost is unknown."""
        return self.month.unknown


class _Acc:
    """A mutable running total; frozen into `Usage` for readers."""

    __slots__ = ("cache_read", "cache_write", "cost", "input", "output", "records", "unknown")

    def __init__(self) -> None:
        self.input = self.output = self.cache_read = self.cache_write = 0
        self.cost = 0.0
        self.unknown = self.records = 0

    def add(self, r: UsageRecord, cost: float | None) -> None:
        self.input += r.input_tokens
        self.output += r.output_tokens
        self.cache_read += r.cache_read_tokens
        self.cache_write += r.cache_write_tokens
        self.records += 1
        if cost is None:
            self.unknown += 1
        else:
            self.cost += cost

    def merge(self, other: _Acc) -> None:
        self.input += other.input
        self.output += other.output
        self.cache_read += other.cache_read
        self.cache_write += other.cache_write
        self.cost += other.cost
        self.unknown += other.unknown
        self.records += other.records

    def freeze(self) -> Usage:
        tokens = Tokens(self.input, self.output, self.cache_read, self.cache_write)
        return Usage(tokens, self.cost, self.unknown, self.records)


Key = tuple[str, str]


class Ledger:
    """Running spend for today, this month and the trailing hour; O(1) per record.

    Memory is bounded: the dedup memory holds the last `dedup_capacity` request ids (an older
    duplicate slips past it here, but the DB's unique index on (agent, request_id) still keeps
    it out of history, and a restart reseeds from there); totals are per (agent, model) pair,
    at most `max_keys` of them; the burn rate keeps one bucket per minute of the last hour.
    Records stamped in the future count as now; records from before this month are ignored.
    """

    def __init__(
        self,
        budgets: BudgetSettings | None = None,
        *,
        tz: tzinfo | None = None,
        clock: Callable[[], float] = time.time,
        dedup_capacity: int = DEDUP_CAPACITY,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.budgets = budgets if budgets is not None else BudgetSettings()
        self._tz = tz  # None: the system's local time
        self._clock = clock
        self._seen: set[int] = set()
        """Hashes of (agent, request_id) pairs: a tenth of the pairs' memory (64 bits: a false
        match among 100k is about 1e-9, and the history's unique index is the last guard)."""
        self._seen_order: deque[int] = deque()
        self._dedup_capacity = dedup_capacity
        self._max_keys = max_keys
        self._day: dict[Key, _Acc] = {}
        self._month: dict[Key, _Acc] = {}
        self._fleet_day = _Acc()
        self._fleet_month = _Acc()
        self._minutes: dict[int, dict[str, float]] = {}  # minute -> agent -> USD
        self._day_start = self._day_end = self._month_start = self._month_end = -math.inf
        self._roll(clock())

    def add(self, record: UsageRecord) -> bool:
        """Count one record; False when its (agent, request_id) was already counted."""
        now = self._clock()
        self._roll(now)
        if record.request_id is not None:
            seen = hash((record.agent, record.request_id))
            if seen in self._seen:
                return False
            self._remember(seen)
        ts = min(record.ts.timestamp(), now)
        if ts < self._month_start:
            return True
        cost = record.cost_usd
        key = (record.agent, record.model)
        if key not in self._month and len(self._month) >= self._max_keys:
            key = (OTHER, OTHER)
        self._month.setdefault(key, _Acc()).add(record, cost)
        self._fleet_month.add(record, cost)
        if ts >= self._day_start:
            self._day.setdefault(key, _Acc()).add(record, cost)
            self._fleet_day.add(record, cost)
        minute = math.floor(ts / 60)
        if cost and minute * 60 > now - HOUR:
            if minute not in self._minutes:
                self._prune_minutes(now)
                self._minutes[minute] = {}
            bucket = self._minutes[minute]
            bucket[key[0]] = bucket.get(key[0], 0.0) + cost
        return True

    def periods_ms(self, now: float | None = None) -> tuple[int, int]:
        """(month start, day start) in epoch ms: what `seed` needs totals split at."""
        self._roll(self._clock() if now is None else now)
        return math.floor(self._month_start * 1000), math.floor(self._day_start * 1000)

    def seed(
        self,
        totals: Iterable[Sequence[Any]],
        recent: Iterable[UsageRecord],
        seen: Iterable[Key],
    ) -> None:
        """Start from the history as if its rows had been `add`ed one by one, in a fraction
        of the time (a month can hold hundreds of thousands of rows).

        Args:
            totals: per (agent, model, today) in order of first appearance: agent, model,
                today (bool), records, the four token sums, the sum of the stored costs, and
                the records stored without one (unknown).
            recent: the rows of the last hour, for the burn rate's minute buckets (they are
                in `totals` already).
            seen: (agent, request_id) pairs to remember, oldest first.
        """
        now = self._clock()
        self._roll(now)
        for row in totals:
            agent, model, today, records = row[0], row[1], bool(row[2]), int(row[3])
            tokens = (int(row[4]), int(row[5]), int(row[6]), int(row[7]))
            acc = _Acc()
            acc.input, acc.output, acc.cache_read, acc.cache_write = tokens
            acc.records, acc.cost, acc.unknown = records, float(row[8]), int(row[9])
            key = (agent, model)
            if key not in self._month and len(self._month) >= self._max_keys:
                key = (OTHER, OTHER)
            self._month.setdefault(key, _Acc()).merge(acc)
            self._fleet_month.merge(acc)
            if today:
                self._day.setdefault(key, _Acc()).merge(acc)
                self._fleet_day.merge(acc)
        for record in recent:
            ts = min(record.ts.timestamp(), now)
            cost = record.cost_usd
            minute = math.floor(ts / 60)
            if ts < self._month_start or not cost or minute * 60 <= now - HOUR:
                continue
            key = (record.agent, record.model)
            agent = key[0] if key in self._month else OTHER
            if minute not in self._minutes:
                self._prune_minutes(now)
                self._minutes[minute] = {}
            bucket = self._minutes[minute]
            bucket[agent] = bucket.get(agent, 0.0) + cost
        for pair in seen:
            h = hash(pair)
            if h not in self._seen:
                self._remember(h)

    def summary(self, now: float | None = None) -> CostSummary:
        """Everything the overview, the agent screen and the budget alerts need, as of `now`."""
        now = self._clock() if now is None else now
        self._roll(now)
        self._prune_minutes(now)
        burn: dict[str, float] = {}
        for bucket in self._minutes.values():
            for agent, usd in bucket.items():
                burn[agent] = burn.get(agent, 0.0) + usd  # USD in the last hour = USD/h
        per_agent: dict[str, dict[str, tuple[_Acc, _Acc]]] = {}
        per_model: dict[str, tuple[_Acc, _Acc]] = {}
        for (agent, model), month_acc in sorted(self._month.items()):
            day_acc = self._day.get((agent, model)) or _Acc()
            per_agent.setdefault(agent, {})[model] = (day_acc, month_acc)
            fleet_day, fleet_month = per_model.setdefault(model, (_Acc(), _Acc()))
            fleet_day.merge(day_acc)
            fleet_month.merge(month_acc)
        agents: dict[str, AgentCost] = {}
        for agent, by_model in per_agent.items():
            day_sum, month_sum = _Acc(), _Acc()
            for day_acc, month_acc in by_model.values():
                day_sum.merge(day_acc)
                month_sum.merge(month_acc)
            agents[agent] = AgentCost(
                agent,
                day_sum.freeze(),
                month_sum.freeze(),
                burn.get(agent, 0.0),
                {m: ModelUsage(m, d.freeze(), mo.freeze()) for m, (d, mo) in by_model.items()},
            )
        fleet_burn = math.fsum(burn.values())
        today, month = self._fleet_day.freeze(), self._fleet_month.freeze()
        b = self.budgets
        specs: list[tuple[str, str | None, float | None, float, float, float]] = [
            ("daily", None, b.daily, today.cost, fleet_burn, self._day_end),
            ("monthly", None, b.monthly, month.cost, fleet_burn, self._month_end),
        ]
        for name, limit in sorted(b.agents.items()):
            # "claude" also covers the Claude Code sessions read from files (`claude:1a2b3c4d`).
            mine = [a for a in agents if a == name or a.startswith(name + ":")]
            spent = math.fsum(agents[a].today.cost for a in mine)
            rate = math.fsum(burn.get(a, 0.0) for a in mine)
            specs.append((f"agent:{name}", name, limit, spent, rate, self._day_end))
        budgets = tuple(
            budget_status(key, agent, limit, spent, rate, now, end)
            for key, agent, limit, spent, rate, end in specs
            if limit is not None
        )
        return CostSummary(
            ts=now,
            today=today,
            month=month,
            burn_per_hour=fleet_burn,
            agents=agents,
            models={m: ModelUsage(m, d.freeze(), mo.freeze()) for m, (d, mo) in per_model.items()},
            budgets=budgets,
        )

    def _remember(self, seen: int) -> None:
        self._seen.add(seen)
        self._seen_order.append(seen)
        if len(self._seen_order) > self._dedup_capacity:
            self._seen.discard(self._seen_order.popleft())

    def _prune_minutes(self, now: float) -> None:
        for minute in [m for m in self._minutes if m * 60 <= now - HOUR]:
            del self._minutes[minute]

    def _midnight(self, d: date) -> float:
        # A naive datetime's timestamp() is local time (DST included): right for tz=None.
        return datetime(d.year, d.month, d.day, tzinfo=self._tz).timestamp()

    def _roll(self, now: float) -> None:
        """Start a new day (and month) once `now` passes local midnight; never roll back."""
        if now < self._day_end:
            return
        today = datetime.fromtimestamp(now, self._tz).date()
        self._day_start = self._midnight(today)
        self._day_end = self._midnight(today + timedelta(days=1))
        self._day.clear()
        self._fleet_day = _Acc()
        if now >= self._month_end:
            first = today.replace(day=1)
            following = (first + timedelta(days=32)).replace(day=1)
            self._month_start = self._midnight(first)
            self._month_end = self._midnight(following)
            self._month.clear()
            self._fleet_month = _Acc()


def budget_levels(summary: CostSummary) -> list[tuple[str, float]]:
    """(budget name, percent used) for the alert engine: "daily", "monthly", "agent:<name>"."""
    return [(b.name, b.pct) for b in summary.budgets]
