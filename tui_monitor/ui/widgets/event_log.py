"""The event log: newest last, coloured by level, filtered by level, bounded.

A line is cut with `…` at the log's width (never scrolled sideways a character at a time);
`enter` opens every shown event in full (the screen pushes the event view).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.widgets import RichLog

from ... import safe
from ...models import AgentEvent

LEVELS = ("debug", "info", "warning", "error", "critical")
LEVEL_STYLE = {
    "debug": "dim",
    "info": "",
    "warning": "yellow",
    "error": "bold red",
    "critical": "bold white on red",
}
KEEP = 1000
BURST = 200
"""New events written per update at most: each line costs a render, and a flood of thousands
per tick would freeze the screen. The rest are counted in one line (all are in the history)."""
MESSAGE_SHOWN = 500
"""Characters of a message on its log line (cut there anyway); the event view has it all."""


def event_line(event: AgentEvent) -> Text:
    """`12:34:56 WARN name kind: message` as Text; agent text is untrusted."""
    style = LEVEL_STYLE.get(event.level, "")
    line = Text(f"{event.ts:%H:%M:%S} ", style="dim", no_wrap=True, overflow="ellipsis")
    line.append(f"{event.level[:4].upper():<4} ", style=style or "bold")
    line.append_text(safe.name_text(event.agent, "bold", limit=40))
    line.append(" ")
    line.append_text(safe.name_text(event.kind, "cyan", limit=40))
    if event.message:
        line.append(": ")
        line.append_text(safe.text(event.message, style, limit=MESSAGE_SHOWN))
    return line


class EventLog(RichLog):
    """Keeps the last KEEP events; changing the level filter or the width redraws from them."""

    DEFAULT_CSS = "EventLog { height: 1fr; }"
    BINDINGS = [
        Binding(
            "enter", "open", "Event detail", id="events.open",
            tooltip="Every event shown here, each in full (message, data, stack)",
        ),
    ]  # fmt: skip

    class Opened(Message):
        """`enter`: show these events (those the log shows, oldest first) in full."""

        def __init__(self, log: EventLog, events: list[AgentEvent]) -> None:
            self.log = log
            self.events = events
            super().__init__()

        @property
        def control(self) -> EventLog:
            return self.log

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=KEEP, wrap=False, markup=False, highlight=False, id=id)
        self.min_level = "debug"
        self._events: deque[AgentEvent] = deque(maxlen=KEEP)
        self._last = 0
        self._width: int | None = None
        self._stale = False

    def _shown(self, event: AgentEvent) -> bool:
        return LEVELS.index(event.level) >= LEVELS.index(self.min_level)

    def shown_events(self) -> list[AgentEvent]:
        """The kept events at or above the level filter, oldest first."""
        return [e for e in self._events if self._shown(e)]

    def sync(self, numbered: Iterable[tuple[int, AgentEvent]]) -> None:
        """Append the events numbered after the last one shown (catch-up after a cover)."""
        new: list[AgentEvent] = []
        for n, event in numbered:
            if n > self._last:
                self._last = n
                new.append(event)
        self.add(new)

    def reset(self, numbered: Iterable[tuple[int, AgentEvent]]) -> None:
        """Show these events instead (the view changed: a replayed moment, or live again)."""
        self.clear()
        self._events.clear()
        self._last = 0
        self.sync(numbered)

    def add(self, events: Iterable[AgentEvent]) -> None:
        """Append events; of a burst, only the newest BURST shown are written."""
        shown: list[AgentEvent] = []
        for event in events:
            self._events.append(event)
            if self._shown(event):
                shown.append(event)
        self._write(shown)

    def _write(self, shown: list[AgentEvent]) -> None:
        if self._text_width() is None or self._stale:
            # Hidden, or not laid out yet: there is no width to cut lines at. Drawn from the
            # kept events when it shows or gets a size.
            self._stale = True
            self._redraw()
            return
        if len(shown) > BURST:
            skipped = len(shown) - BURST
            self.write(Text(f"… {skipped:,} more events (kept in the history)", "dim italic"))
            shown = shown[-BURST:]
        for event in shown:
            self._line(event)

    def _redraw(self) -> None:
        width = self._text_width()
        if width is None:
            return
        self._stale = False
        self._width = width
        self.clear()
        for event in self.shown_events():
            self._line(event)

    def _text_width(self) -> int | None:
        """The width lines are cut at: the log's, less a vertical scrollbar even before one
        shows (RichLog alone would measure against the console's 80 columns); None while it
        has no size."""
        width = self.scrollable_content_region.width
        if not self._size_known or width <= 0:
            return None
        if not self.show_vertical_scrollbar:
            width -= self.styles.scrollbar_size_vertical
        return max(10, width)

    def on_resize(self, event: Resize) -> None:
        """Lines are cut at the width they were written at: a new width redraws them."""
        super().on_resize(event)
        if self._stale or self._text_width() != self._width:
            self._redraw()

    def on_show(self) -> None:
        if self._stale:
            self._redraw()

    def _line(self, event: AgentEvent) -> None:
        self.write(event_line(event), width=self._text_width())

    def cycle_level(self) -> str:
        self.min_level = LEVELS[(LEVELS.index(self.min_level) + 1) % (len(LEVELS) - 1)]
        self._redraw()
        self.border_subtitle = f"level ≥ {self.min_level}"
        return self.min_level

    def action_open(self) -> None:
        self.post_message(self.Opened(self, self.shown_events()))
