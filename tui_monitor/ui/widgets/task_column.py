"""One column of a task board: two lines a card, painted line by line.

A column may hold 10,000 cards; mounting a widget per card would take seconds, so the column
is a ScrollView that renders only the lines on screen (toolong's approach): the card list is
replaced whole when the board changes, and nothing else is kept per card.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ... import fmt, safe
from ...models import TaskCard
from ...tasks.order import priority_rank, status_disagrees

LINES = 2
"""Lines per card."""
LINES_CACHED = 200
PRIORITY_STYLE = ("bold red", "red", "yellow", "green", "dim")
"""critical, high, medium, normal, low (by `priority_rank`)."""


def card_age(card: TaskCard, now: float) -> str:
    """Since `created` when it reads as a time, else since the file last changed."""
    since = card.created_ts if card.created_ts is not None else card.mtime
    return fmt.coarse_duration(max(0.0, now - since)) if since else "-"


def card_lines(card: TaskCard, now: float) -> tuple[Text, Text]:
    """The two lines of a card (untrusted text through safe.py, never markup)."""
    rank = priority_rank(card.priority)
    bar = Text("▌", PRIORITY_STYLE[rank] if rank < len(PRIORITY_STYLE) else "dim")
    first = Text.assemble(bar, safe.text(card.id, "bold", limit=64), " ")
    if card.problem:
        first.append_text(safe.text("⚠ unreadable", "bold red"))
    else:
        first.append_text(safe.text(card.title or "", limit=300))
    second = Text.assemble(Text("▌", bar.style), " ")
    if card.problem:
        second.append_text(safe.text(card.problem, "red", limit=300))
        return first, second
    parts: list[Text] = [safe.text(card.agent or "unassigned", "cyan" if card.agent else "dim")]
    if card.priority:
        style = PRIORITY_STYLE[rank] if rank < len(PRIORITY_STYLE) else ""
        parts.append(safe.text(card.priority, style, limit=16))
    if card.status:
        drift = status_disagrees(card)
        parts.append(safe.text(f"{card.status}{'≠' + card.column if drift else ''}",
                               "bold yellow" if drift else "dim", limit=40))  # fmt: skip
    parts.append(Text(card_age(card, now), "dim"))
    second.append_text(Text(" · ", "dim").join(parts))
    return first, second


class TaskColumn(ScrollView, can_focus=False):
    """The cards of one column; the screen moves `cursor` and says when it is `active`."""

    DEFAULT_CSS = """
    TaskColumn { width: 1fr; height: 1fr; }
    """

    class Clicked(Message):
        """A card was clicked: the screen selects it."""

        def __init__(self, column: TaskColumn, index: int) -> None:
            self.column = column
            self.index = index
            super().__init__()

        @property
        def control(self) -> TaskColumn:
            return self.column

    def __init__(self, column: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.column = column
        self.cards: Sequence[TaskCard] = ()
        self.cursor = 0
        self.active = False
        self.now = time.time()
        self._lines: dict[int, tuple[Text, Text]] = {}
        """Rendered cards by index, until the cards change (a screenful or two)."""

    def show(self, cards: Sequence[TaskCard], now: float) -> None:
        """A new list of cards (the same card keeps the cursor when others come and go)."""
        keep = self.selected
        self.cards = cards
        self.now = now
        self._lines.clear()
        if keep is not None:
            index = next((i for i, c in enumerate(cards) if c.key == keep.key), None)
            self.cursor = self.cursor if index is None else index
        self.cursor = max(0, min(self.cursor, len(cards) - 1))
        self.virtual_size = Size(self.size.width, len(cards) * LINES)
        self.refresh()

    @property
    def selected(self) -> TaskCard | None:
        return self.cards[self.cursor] if 0 <= self.cursor < len(self.cards) else None

    def move(self, step: int) -> None:
        if not self.cards:
            return
        self.cursor = max(0, min(len(self.cards) - 1, self.cursor + step))
        self.scroll_to_region(
            Region(0, self.cursor * LINES, 1, LINES), animate=False, immediate=True
        )
        self.refresh()

    def set_active(self, active: bool) -> None:
        if active != self.active:
            self.active = active
            self.refresh()

    def on_click(self, event: Click) -> None:
        index = (event.y + int(self.scroll_offset.y)) // LINES
        if 0 <= index < len(self.cards):
            self.post_message(self.Clicked(self, index))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        line = int(self.scroll_offset.y) + y
        index, part = divmod(line, LINES)
        if index >= len(self.cards) or width <= 0:
            return Strip.blank(width, base)
        lines = self._lines.get(index)
        if lines is None:  # both lines at once: the next call wants the other one
            if len(self._lines) > LINES_CACHED:
                self._lines.clear()
            lines = self._lines[index] = card_lines(self.cards[index], self.now)
        text = lines[part].copy()
        text.truncate(width, overflow="ellipsis")
        if index == self.cursor:
            style = Style(reverse=True) if self.active else Style(underline=part == 0)
            text.stylize(style)
        segments = list(text.render(self.app.console, end=""))
        return Strip(segments).adjust_cell_length(width).apply_style(base)
