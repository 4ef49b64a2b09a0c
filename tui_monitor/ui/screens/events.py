"""`enter` on an event log: its events as a list, the highlighted one in full below."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ... import safe
from ...models import AgentEvent
from ..widgets.event_log import LEVEL_STYLE
from ..widgets.footer import KeyFooter
from .detail import event_detail

AGENT_MAX = 24
KIND_MAX = 16


class EventsScreen(Screen[None]):
    """The events the log showed when `enter` was pressed (a still picture: new ones arriving
    meanwhile do not move the list under the reader)."""

    BINDINGS = [
        Binding(
            "escape", "app.pop_screen", "Back", id="events.back",
            tooltip="Back to the screen the event log is on",
        ),
        Binding(
            "tab", "app.focus_next", "List / detail", id="events.switch",
            tooltip="Move between the list and the detail pane (then ↑ ↓ scroll it)",
        ),
    ]  # fmt: skip

    def __init__(self, events: Sequence[AgentEvent], title: str = "Events") -> None:
        super().__init__()
        self.events = list(events)
        self.title_text = title

    def compose(self) -> ComposeResult:
        yield DataTable(id="event-list", cursor_type="row", zebra_stripes=False)
        with VerticalScroll(id="event-detail"):
            yield Static(id="event-body")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#event-list", DataTable)
        table.border_title = f"{self.title_text} ({len(self.events):,}, oldest first)"
        self.query_one("#event-detail").border_title = "Event"
        # Fixed widths, the message taking the rest: every row one line, cut with `…`.
        agent = min(AGENT_MAX, max((len(safe.name(e.agent)) for e in self.events), default=5))
        kind = min(KIND_MAX, max((len(safe.name(e.kind)) for e in self.events), default=4))
        widths = {"TIME": 8, "LEVEL": 5, "AGENT": max(5, agent), "KIND": max(4, kind)}
        for col, width in widths.items():
            table.add_column(col, width=width)
        rest = self.app.size.width - sum(w + 2 for w in widths.values()) - 4
        table.add_column("MESSAGE", width=max(20, rest), key="message")
        for i, e in enumerate(self.events):
            cells = (
                Text(f"{e.ts:%H:%M:%S}", "dim"),
                Text(e.level[:4].upper(), LEVEL_STYLE.get(e.level, "") or "bold"),
                safe.name_text(e.agent, "bold", limit=AGENT_MAX),
                safe.name_text(e.kind, "cyan", limit=KIND_MAX),
                safe.text(e.message, limit=200),
            )
            for cell in cells:
                cell.overflow = "ellipsis"
            table.add_row(*cells, key=str(i))
        if self.events:
            table.move_cursor(row=len(self.events) - 1, animate=False)
            self._show(len(self.events) - 1)
        else:
            self.query_one("#event-body", Static).update(Text("No events shown.", "dim"))
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._show(int(event.row_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """`enter` on a row: into its detail, to scroll a long one."""
        event.stop()
        self.query_one("#event-detail", VerticalScroll).focus()

    def _show(self, index: int) -> None:
        self.query_one("#event-body", Static).update(event_detail(self.events[index]))
        self.query_one("#event-detail", VerticalScroll).scroll_home(animate=False)
