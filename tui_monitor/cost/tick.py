"""The money a tick carries: usage priced into the ledger, cost on each agent and the fleet.

The recorder's sampler hands each new snapshot to `CostTick.apply`, which prices its usage
once (the snapshot carries the priced records to the writer, so history keeps those costs),
counts it in the ledger, and puts today's cost on each agent and the fleet's money (today,
month, burn, budgets) on the snapshot. Replays, attached viewers, `status` and exports build
the same from the stored usage with `cost_at`: the stored costs, never re-priced.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..models import AgentSample, BudgetState, CostState, Snapshot, UsageRecord
from .budgets import BudgetSettings
from .ledger import AgentCost, CostSummary, Ledger
from .prices import PriceTable, priced


def cost_state(summary: CostSummary) -> CostState:
    return CostState(
        today=summary.today.cost,
        month=summary.month.cost,
        burn_per_hour=summary.burn_per_hour,
        unknown=summary.unknown_cost_records,
        unknown_today=summary.today.unknown,
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
    """The snapshot with today's cost (and unpriced records) on each agent that used any,
    and the totals. A row with a session read from files gets its sessions' cost (recorded
    under the sessions' own names), its session today's and this month's."""
    spent = summary.agents
    agents = tuple(_agent_cost(a, spent) for a in snap.agents)
    return snap.model_copy(update={"agents": agents, "cost": cost_state(summary)})


def _agent_cost(a: AgentSample, spent: dict[str, AgentCost]) -> AgentSample:
    s = a.session
    if s is None:
        if a.name not in spent:
            return a
        return a.model_copy(
            update={"cost": spent[a.name].today.cost, "unpriced": spent[a.name].today.unknown}
        )
    mine = spent.get(s.meta.agent)
    session = s.model_copy(
        update={
            "cost_today": mine.today.cost if mine else None,
            "cost_month": mine.month.cost if mine else None,
            "unpriced": mine.month.unknown if mine else 0,
        }
    )
    names = (
        (s.meta.agent, *s.earlier) if a.source == "session" else (a.name, s.meta.agent, *s.earlier)
    )
    costs = [spent[n].today for n in dict.fromkeys(names) if n in spent]
    if not costs:
        return a.model_copy(update={"session": session})
    return a.model_copy(
        update={
            "session": session,
            "cost": sum(c.cost for c in costs),
            "unpriced": sum(c.unknown for c in costs),
        }
    )


def cost_at(
    snap: Snapshot, usage: Iterable[UsageRecord], budgets: BudgetSettings | None = None
) -> Snapshot:
    """A recorded snapshot with the money on it, from the usage stored up to it (this month's
    at least): its stored costs, summed as the recorder's ledger summed them then."""
    now = snap.ts.timestamp()
    book = Ledger(budgets, clock=lambda: now)
    for record in usage:
        book.add(record)
    return with_cost(snap, book.summary(now))


class CostTick:
    """Owns the ledger of one recorder, and prices what it records."""

    def __init__(self, prices: PriceTable, budgets: BudgetSettings) -> None:
        self.prices = prices
        self.ledger = Ledger(budgets)

    def seed(self, records: Iterable[UsageRecord]) -> None:
        """This month's usage from the history, so a restart keeps today's and the month's."""
        for r in records:
            self.ledger.add(r)

    def apply(self, snap: Snapshot) -> tuple[Snapshot, CostSummary]:
        """The snapshot with its usage priced and counted and the money on it, and the
        summary behind it."""
        usage = tuple(priced(u, self.prices) for u in snap.usage)
        for u in usage:
            self.ledger.add(u)
        summary = self.ledger.summary(snap.ts.timestamp())
        if usage:
            snap = snap.model_copy(update={"usage": usage})
        return with_cost(snap, summary), summary


def month_start_ms(now: float | None = None) -> int:
    """A little before the local month began: the ledger ignores what is older."""
    t = time.localtime(time.time() if now is None else now)
    start = time.mktime((t.tm_year, t.tm_mon, 1, 0, 0, 0, 0, 0, -1))
    return int((start - 86400) * 1000)
