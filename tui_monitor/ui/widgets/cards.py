"""Overview cards: one figure and a sparkline of the last minutes each.

A card is one widget of two lines, not a container of a label, a Sparkline and a note: seven
cards as 28 widgets were more than half of the dashboard's DOM, and every widget costs style
matching and layout at start-up and on each resize. Each line is refreshed on its own, so a
new value does not rewrite the sparkline below it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text
from textual.color import Color
from textual.geometry import Region
from textual.renderables.sparkline import Sparkline
from textual.widget import Widget

LOW_ALPHA = 0.3
"""The smallest values' bars: the theme's primary colour at this opacity (as Sparkline's)."""


class Card(Widget):
    """A title with its current value on one line, a sparkline (or a note) below."""

    DEFAULT_CSS = """
    Card { height: 2; width: 1fr; min-width: 12; padding: 0 1; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self._value = Text(title, style="dim", no_wrap=True, overflow="ellipsis")
        self._series: tuple[float, ...] = ()
        self._note: Text | None = None
        self._last: tuple[str, str, tuple[float, ...] | None] | None = None

    def set(self, value: Text, series: Sequence[float] | None, note: Text | None = None) -> None:
        """Update only what changed (an unchanged card writes nothing to the terminal)."""
        data = None if series is None else tuple(series)
        key = (value.plain + str(value.style), "" if note is None else note.plain, data)
        if key == self._last:
            return
        old, self._last = self._last, key
        self._value = Text.assemble(
            (self.title + " ", "dim"), value, no_wrap=True, overflow="ellipsis"
        )
        if note is not None:
            note = note.copy()
            note.no_wrap, note.overflow = True, "ellipsis"
        self._note, self._series = note, data or ()
        width = self.content_size.width
        if old is None or not width:
            self.refresh()
            return
        if old[0] != key[0]:
            self.refresh(Region(0, 0, width, 1))
        if old[1:] != key[1:]:
            self.refresh(Region(0, 1, width, 1))

    def render(self) -> RenderableType:
        if self._note is not None:
            return Group(self._value, self._note)
        _, base = self.background_colors
        primary = Color.parse(self.app.current_theme.primary)
        spark = Sparkline(
            self._series,
            width=self.content_region.width or None,
            min_color=(base + primary.with_alpha(LOW_ALPHA)).rich_color,
            max_color=(base + primary).rich_color,
        )
        return Group(self._value, spark)
