"""The money a tick carries: usage priced into the ledger, cost on each agent and the fleet.

The recorder's sampler hands each new snapshot to `CostTick.apply`, which prices its usage
into the ledger, puts today's cost on each agent and the fleet's money (today, month, burn,
budgets) on the snapshot. Replays and attached viewers build the same from stored usage with
`with_cost`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..models import BudgetState, CostState, Snapshot, UsageRecord
from .budgets import BudgetSettings
from .ledger import CostSummary, Ledger
from .prices import PriceTable


def cost_state(summary: CostSummary) -> CostState:
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


def with_cost(snap: Snapshot, summary: CostSummary) -> Snapshot:
    """The snapshot with today's cost on each agent that spent anything, and the totals."""
    spent = summary.agents
    agents = tuple(
        a.model_copy(update={"cost": spent[a.name].today.cost}) if a.name in spent else a
        for a in snap.agents
    )
    return snap.model_copy(update={"agents": agents, "cost": cost_state(summary)})


class CostTick:
    """Owns the ledger of one recorder."""

    def __init__(self, prices: PriceTable, budgets: BudgetSettings) -> None:
        self.ledger = Ledger(prices, budgets)

    def seed(self, records: Iterable[UsageRecord]) -> None:
        """This month's usage from the history, so a restart keeps today's and the month's."""
        for r in records:
            self.ledger.add(r)

    def apply(self, snap: Snapshot) -> tuple[Snapshot, CostSummary]:
        """The snapshot with its usage counted and the money on it, and the summary behind it."""
        for u in snap.usage:
            self.ledger.add(u)
        summary = self.ledger.summary(snap.ts.timestamp())
        return with_cost(snap, summary), summary


def month_start_ms(now: float | None = None) -> int:
    """A little before the local month began: the ledger ignores what is older."""
    t = time.localtime(time.time() if now is None else now)
    start = time.mktime((t.tm_year, t.tm_mon, 1, 0, 0, 0, 0, 0, -1))
    return int((start - 86400) * 1000)
