"""One record in full (an event, an error): every character of it, wrapped, scrolled by keys.

Lists and logs cut long text with `…` to keep one line per record; this is where it is read.
"""

from __future__ import annotations

import json
from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ... import safe
from ...models import AgentEvent
from ...store.queries import ErrorRow
from ..widgets.event_log import LEVEL_STYLE
from ..widgets.footer import KeyFooter

STACK_MAX = 64 * 1024


def stamp(ts: datetime) -> str:
    """A record's full time, to the millisecond, with its zone."""
    return f"{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d} {ts:%Z}".rstrip()


def _grid() -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    return t


def _free(value: object, style: str = "", limit: int = safe.MESSAGE_MAX) -> Text:
    """Free text that wraps (and keeps its own line breaks)."""
    return Text(safe.clean(value, limit, multiline=True), style=style, overflow="fold")


def _name(value: object, style: str = "") -> Text:
    return Text(safe.name(value), style=style, overflow="fold")


def _stack(stack: str | None) -> list[RenderableType]:
    if not stack:
        return []
    return [Text("\nstack", "bold underline"), _free(stack, limit=STACK_MAX)]


def event_detail(e: AgentEvent) -> RenderableType:
    """Everything one event holds; an error's stack (in its data) set apart."""
    t = _grid()
    t.add_row("time", stamp(e.ts))
    t.add_row("level", Text(e.level, LEVEL_STYLE.get(e.level, "") or "bold"))
    t.add_row("agent", _name(e.agent))
    t.add_row("kind", _name(e.kind, "cyan"))
    t.add_row("message", _free(e.message or "-"))
    data = dict(e.data)
    stack = data.pop("stack", None) if e.kind == "error" else None
    if data:
        shown = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        t.add_row("data", _free(shown))
    return Group(t, *_stack(stack if isinstance(stack, str) else None))


def error_detail(e: ErrorRow) -> RenderableType:
    """An open error: when, who, what, and its stack."""
    t = _grid()
    t.add_row("time", stamp(e.ts.astimezone()))
    t.add_row("agent", _name(e.agent))
    t.add_row("type", _name(e.error_type, "bold red"))
    t.add_row("message", _free(e.message or "-"))
    if not e.stack:
        t.add_row("stack", Text("none sent", "dim"))
    return Group(t, *_stack(e.stack))


class DetailScreen(ModalScreen[None]):
    """A record in full over the screen it came from; `escape` goes back to it."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Back", id="detail.back", tooltip="Back to the list"),
    ]

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(self._body, id="detail-body")
        yield KeyFooter()

    def on_mount(self) -> None:
        pane = self.query_one("#detail", VerticalScroll)
        pane.border_title = self._title
        pane.border_subtitle = "↑ ↓ PgUp PgDn scroll · esc back"
        pane.focus()
