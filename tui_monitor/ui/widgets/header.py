"""One line: product, host, mode (live / attached / replay @ time) and the snapshot's clock."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ... import safe

MODE_STYLE = {
    "live": "bold green",
    "attached": "bold cyan",
    "replay": "bold magenta",
    "scripted": "bold",
}


class HeaderBar(Static):
    """The clock shows the snapshot's time, so a frozen source gives a frozen header."""

    DEFAULT_CSS = "HeaderBar { height: 1; }"

    def show(self, host: str, mode: str, detail: str, clock: str, note: str = "") -> None:
        text = Text.assemble(
            ("tui-monitor", "bold"),
            "  ",
            safe.text(host, "bold"),
            "  ",
            (f" {mode.upper()} ", f"reverse {MODE_STYLE.get(mode, 'bold')}"),
        )
        if detail:
            text.append(f" {detail}", "dim")
        if note:
            text.append("  ")
            text.append(safe.text(note, "bold red"))
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True)
        grid.add_row(text, Text(clock, style="bold"))
        self.update(grid)
