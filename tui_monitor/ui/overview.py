"""What the dashboard's overview cards say, worked out from a snapshot (the screen only puts
it on its cards): GPUs, money, agents waiting for their user, the fleet's hosts, the task
boards."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text

from .. import fmt, safe
from ..models import AgentSample, CostState, HostStatus, Snapshot, TaskBoard
from . import fleet
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
    if first.host is not None:
        note.append_text(safe.name_text(f"@{first.host}", STATE_STYLE["needs_input"], limit=40))
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


HOST_RANK = {"unreachable": 0, "failed": 1, "stale": 2, "slow": 3, "connecting": 4, "live": 5}
"""The Hosts card lists the worst first: what is wrong reads first at any width."""


COMPACT_STATE = {"unreachable": "unreach", "connecting": "conn"}
"""Shorter words for the card at 80 columns, where `gpu2 unreachable 3m` would lose its age."""


def host_line(host: HostStatus, agents: int, now: float, compact: bool = False) -> Text:
    """`gpu1 live 5 agents`, `gpu2 unreachable 3m: ssh: ... refused` (the reason is the
    remote's or ssh's words: cleaned, one line, plain Text); compact: `gpu1 5`,
    `gpu2 unreach 3m` (the reason is in the event log and the card's tooltip)."""
    line = safe.name_text(host.name, "bold", limit=64)
    style = fleet.STATE_STYLE[host.state]
    if host.state == "live":
        if compact:
            line.append(f" {agents}")
            return line
        line.append(" live", style)
        line.append(f" {agents} agent{'' if agents == 1 else 's'}")
        return line
    state = COMPACT_STATE.get(host.state, host.state) if compact else host.state
    line.append(f" {state} {fleet.age(fleet.snapshot_age(host, now))}", style)
    why = fleet.reason(host)
    if why and not compact:
        line.append(": ")
        line.append_text(safe.text(why, "dim"))
    return line


def hosts_card(snap: Snapshot, compact: bool = False) -> tuple[Text, None, Text, Text]:
    """Hosts live out of those configured; below, every host, the worst first, each with
    its state, agents and (not live) the age of its newest snapshot and why (compact: no
    why); and every host in full, one a line, for the card's tooltip."""
    now = snap.ts.timestamp()
    hosts = sorted(snap.hosts, key=lambda h: HOST_RANK[h.state])
    live = sum(1 for h in hosts if h.state == "live")
    worst = hosts[0].state if hosts else "live"
    style = "bold" if worst == "live" else "bold red" if HOST_RANK[worst] < 2 else "bold yellow"
    value = Text(f"{live}/{len(hosts)} live", style)
    per_host = fleet.counts(snap.agents)
    lines = [host_line(h, per_host.get(h.name, 0), now) for h in hosts]
    shown = [host_line(h, per_host.get(h.name, 0), now, True) for h in hosts] if compact else lines
    note = Text(" · ", "dim").join(shown) if shown else Text("none", "dim")
    tip = Text("\n").join(lines)  # a Text: a remote's words are never markup
    return value, None, note, tip


def _task_counts(boards: Sequence[TaskBoard]) -> tuple[dict[str, int], int]:
    counts = {"inbox": 0, "assigned": 0, "done": 0}
    bad = 0
    for board in boards:
        for card in board.cards:
            if card.column in counts:
                counts[card.column] += 1
            bad += card.problem is not None
        bad += board.problem is not None
    return counts, bad


def tasks_card(boards: Sequence[TaskBoard]) -> tuple[Text, None, Text]:
    """Work in progress (assigned) large; below, inbox › assigned › done over every board,
    after the count of files that could not be read."""
    counts, bad = _task_counts(boards)
    value = Text.assemble((str(counts["assigned"]), "bold"), (" wip", "dim"))
    note = Text.assemble(
        (f"⚠{bad} ", "bold red") if bad else "",
        str(counts["inbox"]), ("›", "dim"), str(counts["assigned"]), ("›", "dim"),
        str(counts["done"]),
    )  # fmt: skip
    return value, None, note


def short_tasks_card(boards: Sequence[TaskBoard]) -> Text:
    """The same in a dozen cells, for the Agents card at 80 columns."""
    counts, bad = _task_counts(boards)
    return Text.assemble(
        ("tasks ", "dim"), str(counts["assigned"]), (f" ⚠{bad}" if bad else "", "bold red")
    )
