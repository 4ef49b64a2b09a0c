"""The agent screen's usage this month, by model, as the history stored it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from .. import fmt, safe
from ..store.queries import ModelUsageRow


def usage_table(rows: list[ModelUsageRow]) -> Table | str:
    """Tokens and cost by model this month, as stored when recorded (never re-priced);
    `≥` where records with no price are left out of the cost."""
    if not rows:
        return ""
    t = Table(title="usage this month", title_justify="left", box=None, pad_edge=False)
    for col, right in (("MODEL", False), ("REQ", True), ("IN", True), ("OUT", True)):
        t.add_column(col, justify="right" if right else "left", no_wrap=True)
    t.add_column("COST", justify="right", no_wrap=True)
    unpriced = 0
    for r in rows[:12]:
        if r.unpriced == r.records:
            shown = Text("no price", "yellow")
        else:
            unpriced += r.unpriced
            shown = Text(fmt.cost(r.cost, r.unpriced), "yellow" if r.unpriced else "")
        t.add_row(
            safe.name_text(r.model, limit=24),
            str(r.records),
            fmt.count(r.tokens[0] + r.tokens[2] + r.tokens[3]),
            fmt.count(r.tokens[1]),
            shown,
        )
    if unpriced:
        t.caption = f"{fmt.UNPRICED}: leaves out {unpriced} requests with no price ([prices])"
        t.caption_justify = "left"
    return t
