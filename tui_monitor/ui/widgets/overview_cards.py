"""The dashboard's overview cards: which ones, and the figures each shows of a tick (their
values come from ui/overview.py; the screen decides which show, by its CSS classes)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal

from ... import fmt, safe
from ...models import Snapshot
from ..monitor import Monitor
from ..overview import (
    cost_card,
    gpu_card,
    hosts_card,
    short_tasks_card,
    tasks_card,
    unpriced_tip,
)
from .cards import Card

HOSTS_FULL = 160
"""Below this width the Hosts card says each host short (`gpu2 unreach 3m`), no reasons:
its full form (`gpu2 unreachable 3m: ssh: ...`) needs a card of 40 cells or more."""


class OverviewCards(Horizontal):
    """A row of cards: Hosts (a fleet only), Agents, CPU, Mem, GPU, Errors, Cost, Alerts,
    Waiting, Tasks."""

    def compose(self) -> ComposeResult:
        yield Card("Hosts", id="card-hosts")  # with a fleet only (`-fleet`)
        yield Card("Agents", id="card-agents")
        yield Card("CPU", id="card-cpu")
        yield Card("Mem", id="card-mem")
        yield Card("GPU", id="card-gpu")
        yield Card("Errors", id="card-errors")
        yield Card("Cost", id="card-cost")
        yield Card("Alerts", id="card-alerts")
        yield Card("Waiting", id="card-waiting")
        yield Card("Tasks", id="card-tasks")

    def show(self, snap: Snapshot, app: Monitor, narrow: bool) -> None:
        """This tick's figures (`narrow`: the screen hides the Tasks and Alerts cards, so
        the Agents and Errors cards say what they would)."""
        running = sum(1 for a in snap.agents if a.status not in ("exited", "zombie"))
        boards = app.settings.tasks and app.tasks
        self.query_one("#card-agents", Card).set(
            Text(f"{running}/{len(snap.agents)}", "bold"),
            app.trend("agents"),
            short_tasks_card(boards) if boards and narrow else None,
        )
        if boards and not narrow:
            self.query_one("#card-tasks", Card).set(*tasks_card(boards))
        h = snap.host
        self.query_one("#card-cpu", Card).set(
            Text(fmt.percent(h.cpu_utilization), "bold"), app.trend("cpu")
        )
        self.query_one("#card-mem", Card).set(
            Text(f"{fmt.short_size(h.ram_used)}/{fmt.short_size(h.ram_total)}", "bold"),
            app.trend("mem"),
        )
        value, note = gpu_card(snap)
        self.query_one("#card-gpu", Card).set(
            value, app.trend("gpu") if note is None else None, note
        )
        errors = sum(a.errors for a in snap.agents)  # open (unresolved) ones
        active = list(app.alerts.values())
        critical = any(e.level == "critical" for e in active)
        alert_style = "bold red" if critical else "bold yellow" if active else "bold"
        newest = max(active, key=lambda e: e.ts, default=None)
        note = safe.text(newest.message, alert_style) if newest else None
        shown = Text(str(errors), "bold red" if errors else "bold")
        if active and narrow:  # the alerts card is hidden: say it here, below the count,
            # where the card has room for it (`Errors 10 …` otherwise)
            line = Text(f"⚠{len(active)} ", alert_style)
            if note is not None:
                line.append_text(note)
            self.query_one("#card-errors", Card).set(shown, None, line)
        else:
            self.query_one("#card-errors", Card).set(shown, app.trend("errors"))
        card = self.query_one("#card-cost", Card)
        card.set(*cost_card(snap.cost))
        tip = unpriced_tip(snap.cost)
        if card.tooltip != tip:
            card.tooltip = tip
        self.query_one("#card-alerts", Card).set(
            Text(str(len(active)), alert_style), None, note or Text("none firing", "dim")
        )
        if snap.hosts:
            hosts = self.query_one("#card-hosts", Card)
            compact = self.app.size.width < HOSTS_FULL  # the card is a fifth of the width or less
            value, trend, note, every = hosts_card(snap, compact)
            hosts.set(value, trend, note)
            if hosts.tooltip != every:
                hosts.tooltip = every
