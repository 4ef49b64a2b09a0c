"""What the dashboard's overview cards say, worked out from a snapshot (the screen only puts
it on its cards): GPUs, money, agents waiting for their user."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text

from .. import fmt, safe
from ..models import AgentSample, CostState, Snapshot
from .columns import STATE_STYLE, state_label


def gpu_card(snap: Snapshot) -> tuple[Text, Text | None]:
    """Mean utilization and the hottest GPU; with no GPUs, `n/a` and why (then no trend)."""
    if not snap.gpu.available:
        return Text("n/a", "dim"), safe.text(snap.gpu.reason or "", "dim")
    ok = [g for g in snap.gpu.gpus if not g.error]
    util = [g.gpu_utilization for g in ok if g.gpu_utilization is not None]
    temps = [g.gpu_temperature for g in ok if g.gpu_temperature is not None]
    value = f"{sum(util) / len(util):.0f}%" if util else "-"
    if temps:
        value += f" {max(temps):.0f}°C"
    bad = len(snap.gpu.gpus) - len(ok)
    return Text(value + (f" {bad} down" if bad else ""), "bold"), None


def waiting_card(waiting: Sequence[AgentSample]) -> tuple[Text, None, Text]:
    """How many agents need input, in their colour while any do; the longest waiting one's
    name and what it waits on below (`w` goes to each in turn)."""
    if not waiting:
        return Text("0", "bold"), None, Text("no agent waits", "dim")
    first = min(waiting, key=lambda a: (a.session.state_since or 0.0) if a.session else 0.0)
    note = safe.name_text(first.name, STATE_STYLE["needs_input"], limit=40)
    if first.session is not None:
        note.append(" " + safe.name(state_label(first.session), 40))
    return Text(str(len(waiting)), STATE_STYLE["needs_input"]), None, note


def cost_card(cost: CostState | None) -> tuple[Text, None, Text]:
    """Today's spend; below it the month, the burn rate, or the budget nearest its limit."""
    if cost is None:
        return Text("-", "dim"), None, Text("no usage data", "dim")
    value = Text(fmt.cost(cost.today, cost.unknown_today), "bold")
    worst = max(cost.budgets, key=lambda b: b.pct, default=None)
    if worst is not None and worst.pct >= 50:
        style = "bold red" if worst.exceeded else "yellow" if worst.runs_out_in_period else ""
        unpriced = cost.unknown if worst.name == "monthly" else cost.unknown_today
        note = Text(f"{worst.name} {fmt.UNPRICED if unpriced else ''}{worst.pct:.0f}%", style)
        if worst.runs_out_at is not None and worst.runs_out_in_period:
            note.append(f" out {time.strftime('%H:%M', time.localtime(worst.runs_out_at))}")
        return value, None, note
    note = Text(f"mo {fmt.cost(cost.month, cost.unknown)} {fmt.usd(cost.burn_per_hour)}/h", "dim")
    return value, None, note


def unpriced_tip(cost: CostState | None) -> str | None:
    """What the ≥ on the card means, when it is there."""
    if cost is None or not cost.unknown:
        return None
    return (
        f"{fmt.UNPRICED} leaves out {cost.unknown_today} usage records today "
        f"({cost.unknown} this month) with no price: set one in [prices] of the config"
    )
