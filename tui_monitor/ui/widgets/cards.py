"""Overview cards: one figure and a sparkline of the last minutes each."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static


class Card(Vertical):
    """A title with its current value on one line, a sparkline (or a note) below."""

    DEFAULT_CSS = """
    Card { height: 2; width: 1fr; min-width: 12; padding: 0 1; }
    Card > Static { height: 1; }
    Card > Sparkline { height: 1; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self._last: tuple[str, str, tuple[float, ...] | None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(self.title, style="dim"), classes="value")
        yield Sparkline([], classes="spark")
        yield Static("", classes="note")

    def on_mount(self) -> None:
        self.query_one(".note", Static).display = False

    def set(self, value: Text, series: Sequence[float] | None, note: Text | None = None) -> None:
        """Update only what changed (an unchanged card writes nothing to the terminal)."""
        data = None if series is None else tuple(series)
        key = (value.plain + str(value.style), "" if note is None else note.plain, data)
        if key == self._last:
            return
        self._last = key
        line = Text.assemble((self.title + " ", "dim"), value, no_wrap=True, overflow="ellipsis")
        self.query_one(".value", Static).update(line)
        spark = self.query_one(".spark", Sparkline)
        note_widget = self.query_one(".note", Static)
        if note is not None:
            spark.display = False
            note_widget.display = True
            note.no_wrap, note.overflow = True, "ellipsis"
            note_widget.update(note)
        else:
            note_widget.display = False
            spark.display = True
            spark.data = list(data or ())
