"""Overview cards: one figure and a sparkline of the last 5 minutes each.

A card is one widget of two lines, not a container of a label, a Sparkline and a note: seven
cards as 28 widgets were more than half of the dashboard's DOM, and every widget costs style
matching and layout at start-up and on each resize. Each line is refreshed on its own, so a
new value does not rewrite the sparkline below it.

The sparkline is drawn here rather than with Textual's `Sparkline`, which scales to the
data's own min-max (0 errors drew a full bar; memory moving 724-750 MiB of 24 GiB swung from
full to empty) and stretches a few points over the whole card.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.geometry import Region
from textual.widget import Widget

from ..view import Trend

LOW_ALPHA = 0.3
"""The smallest values' bars: the theme's primary colour at this opacity (as Sparkline's)."""
BARS = "▁▂▃▄▅▆▇█"


def spark(trend: Trend, width: int) -> list[tuple[str, float]]:
    """`width` cells of bars over the whole trend, each the largest value in its share of
    the buckets, as (bar, level 0-1); a blank where nothing was recorded."""
    values = trend.values
    if width <= 0 or not values:
        return []
    extent = trend.high - trend.low or 1.0
    cells: list[tuple[str, float]] = []
    for i in range(width):
        lo = i * len(values) // width
        hi = max(lo + 1, (i + 1) * len(values) // width)
        seen = [v for v in values[lo:hi] if v is not None]
        if not seen:
            cells.append((" ", 0.0))
            continue
        level = min(1.0, max(0.0, (max(seen) - trend.low) / extent))
        cells.append((BARS[round(level * (len(BARS) - 1))], level))
    return cells


class Card(Widget):
    """A title with its current value on one line, a sparkline (or a note) below."""

    DEFAULT_CSS = """
    Card { height: 2; width: 1fr; min-width: 12; padding: 0 1; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self._value = Text(title, style="dim", no_wrap=True, overflow="ellipsis")
        self._trend: Trend | None = None
        self._note: Text | None = None
        self._last: tuple[str, str, Trend | None] | None = None

    def set(self, value: Text, trend: Trend | None, note: Text | None = None) -> None:
        """Update only what changed (an unchanged card writes nothing to the terminal)."""
        key = (value.plain + str(value.style), "" if note is None else note.plain, trend)
        if key == self._last:
            return
        old, self._last = self._last, key
        self._value = Text.assemble(
            (self.title + " ", "dim"), value, no_wrap=True, overflow="ellipsis"
        )
        if note is not None:
            note = note.copy()
            note.no_wrap, note.overflow = True, "ellipsis"
        self._note, self._trend = note, trend
        width = self.content_size.width
        if old is None or not width:
            self.refresh()
            return
        if old[0] != key[0]:
            self.refresh(Region(0, 0, width, 1))
        if old[1:] != key[1:]:
            self.refresh(Region(0, 1, width, 1))

    def sparkline(self) -> str:
        """The sparkline as drawn now (blank cells where nothing was recorded)."""
        if self._trend is None:
            return ""
        return "".join(bar for bar, _ in spark(self._trend, self.content_region.width))

    def render(self) -> RenderableType:
        if self._note is not None or self._trend is None:
            return Group(self._value, self._note or Text(""))
        _, base = self.background_colors
        primary = Color.parse(self.app.current_theme.primary)
        low, high = base + primary.with_alpha(LOW_ALPHA), base + primary
        line = Text(no_wrap=True, end="")
        styles: dict[str, Style] = {}
        for bar, level in spark(self._trend, self.content_region.width):
            style = styles.get(bar)
            if style is None:
                style = styles[bar] = Style(color=low.blend(high, level).rich_color)
            line.append(bar, style)
        return Group(self._value, line)
