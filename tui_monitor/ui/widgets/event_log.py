"""The event log: newest last, coloured by level, filtered by level, bounded."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.text import Text
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


def event_line(event: AgentEvent) -> Text:
    """`12:34:56 WARN name kind: message` as Text; agent text is untrusted."""
    style = LEVEL_STYLE.get(event.level, "")
    line = Text(f"{event.ts:%H:%M:%S} ", style="dim")
    line.append(f"{event.level[:4].upper():<4} ", style=style or "bold")
    line.append_text(safe.text(event.agent, "bold", limit=40))
    line.append(" ")
    line.append_text(safe.text(event.kind, "cyan", limit=40))
    if event.message:
        line.append(": ")
        line.append_text(safe.text(event.message, style, limit=500))
    return line


class EventLog(RichLog):
    """Keeps the last KEEP events; changing the level filter redraws from them."""

    DEFAULT_CSS = "EventLog { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=KEEP, wrap=False, markup=False, highlight=False, id=id)
        self.min_level = "debug"
        self._events: deque[AgentEvent] = deque(maxlen=KEEP)
        self._last = 0

    def _shown(self, event: AgentEvent) -> bool:
        return LEVELS.index(event.level) >= LEVELS.index(self.min_level)

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
        if len(shown) > BURST:
            skipped = len(shown) - BURST
            self.write(Text(f"… {skipped:,} more events (kept in the history)", "dim italic"))
            shown = shown[-BURST:]
        for event in shown:
            self.write(event_line(event))

    def cycle_level(self) -> str:
        self.min_level = LEVELS[(LEVELS.index(self.min_level) + 1) % (len(LEVELS) - 1)]
        self.clear()
        for event in self._events:
            if self._shown(event):
                self.write(event_line(event))
        self.border_subtitle = f"level ≥ {self.min_level}"
        return self.min_level
