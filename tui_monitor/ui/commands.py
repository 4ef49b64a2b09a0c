"""Command palette entries for the main actions (ctrl+p)."""

from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider

from .columns import COLUMNS

ACTIONS = (
    ("Filter agents", "filter", "Type text or a regex over name, kind and status"),
    ("Clear the filter", "clear_filter", "Show every agent again"),
    ("Open the selected agent", "open_agent", "Details, process tree, history charts"),
    ("Chart: next metric", "chart_metric", "CPU, memory, GPU memory"),
    ("Chart: host or selected agent", "chart_subject", "Toggle what the chart shows"),
    ("Event log: next level", "log_level", "Show only events at or above a level"),
    ("Invert the sort order", "invert_sort", "Ascending / descending"),
    ("History: replay this moment", "replay", "Freeze on the tick shown; [ ] step, esc: live"),
    ("History: go to a time", "goto", "Type 14:05, 2026-11-21 14:05 or 30m"),
    ("History: next error or alert", "next_problem", "Jump to the tick that shows it"),
)


class MonitorCommands(Provider):
    """Dashboard actions and sort-by-column, matched fuzzily."""

    def _entries(self) -> list[tuple[str, str, str]]:
        out = [(name, f"screen.{action}", helptext) for name, action, helptext in ACTIONS]
        out += [
            (f"Sort by {c.label.lower()}", f"screen.sort_by('{c.key}')", "Sort the agent table")
            for c in COLUMNS
        ]
        out += [("Help: list every key", "app.help", "All bindings")]
        return out

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, helptext in self._entries():
            score = matcher.match(name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(name),
                    partial(self.app.run_action, action),
                    help=helptext,
                )

    async def discover(self) -> Hits:
        for name, action, helptext in self._entries():
            yield Hit(1.0, name, partial(self.app.run_action, action), help=helptext)
