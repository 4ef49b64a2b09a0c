"""Spending limits: the `[budgets]` settings and where each budget stands now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

HOUR = 3600.0

USD = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class BudgetSettings(BaseModel):
    """Spending limits; each one shows % used and when it runs out at the current burn rate."""

    model_config = ConfigDict(extra="forbid")

    daily: USD | None = None
    """USD the whole fleet may spend per local day."""
    monthly: USD | None = None
    """USD the whole fleet may spend per calendar month (local time)."""
    agents: dict[str, USD] = Field(default_factory=dict)
    """Agent name -> USD that agent may spend per local day; `claude`, `codex` or `gemini` also
    covers every session of that program read from its files (`claude:1a2b3c4d`, ...)."""


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One configured budget now. `runs_out_at` is None when exceeded or nothing is burning."""

    name: str
    """The alert engine's key: daily, monthly or agent:<name>."""
    agent: str | None
    limit: float
    spent: float
    pct: float
    """Percent of the limit spent (may pass 100)."""
    exceeded: bool
    runs_out_at: float | None
    """Epoch seconds when spend reaches the limit at the current burn rate."""
    period_end: float
    """Epoch seconds when this budget's period (local day or month) ends."""
    runs_out_in_period: bool
    """Already exceeded, or will be before the period ends at the current burn rate."""


def budget_status(
    name: str,
    agent: str | None,
    limit: float,
    spent: float,
    burn_per_hour: float,
    now: float,
    period_end: float,
) -> BudgetStatus:
    """Where a budget stands, and when it runs out if spending goes on at `burn_per_hour`."""
    exceeded = spent >= limit
    runs_out_at = None
    if not exceeded and burn_per_hour > 0:
        runs_out_at = now + (limit - spent) / burn_per_hour * HOUR
    return BudgetStatus(
        name=name,
        agent=agent,
        limit=limit,
        spent=spent,
        pct=spent / limit * 100.0,
        exceeded=exceeded,
        runs_out_at=runs_out_at,
        period_end=period_end,
        runs_out_in_period=exceeded or (runs_out_at is not None and runs_out_at < period_end),
    )
