"""`?`: every binding of the app and of the screen below, generated from the bindings."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Static

from ..monitor import monitor_of

EXTRA = (
    ("↑ ↓ / j k", "move between agents"),
    ("tab", "next pane (table, event log, details)"),
    ("⏎ on the event log", "its events, each in full"),
    ("click a header", "sort by that column (again: reverse)"),
    ("ctrl+p", "command palette (actions, themes)"),
    ("~ in STATUS", "inferred from its session files"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close", tooltip="Close help")
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._table())

    def _table(self) -> Table:
        table = Table(title="Keys", box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        screens = [s for s in self.app.screen_stack if s is not self]
        below = screens[-1] if screens else None
        # The keys as they are bound now (the config's [keymap] applied), by (node, action).
        keys: dict[tuple[int, str], list[str]] = {}
        for key, active in (below.active_bindings if below is not None else {}).items():
            keys.setdefault((id(active.node), active.binding.action), []).append(key)
        sources: list[tuple[str, object, list[Any]]] = [
            (type(below).__name__, below, below.BINDINGS if below else []),
            ("App", self.app, self.app.BINDINGS),
        ]
        seen: set[str] = set()
        keymap = monitor_of(self.app).settings.keymap
        for title, node, bindings in sources:
            table.add_row(Text(title.replace("Screen", ""), style="bold underline"), "")
            for b in bindings:
                if not isinstance(b, Binding) or b.action in seen:
                    continue
                if isinstance(node, DOMNode) and node.check_action(b.action, ()) is False:
                    continue  # a key that does nothing here (e.g. `t` without task boards)
                seen.add(b.action)
                # Active keys, and the binding's own (after [keymap]): a key another node
                # shadows for a while (ctrl+c copies a selection first) still does this.
                own = (keymap.get(b.id, "") if b.id else "") or b.key
                bound = list(dict.fromkeys([*own.split(","), *keys.get((id(node), b.action), [])]))
                shown = ", ".join(self.app.get_key_display(Binding(k, "")) for k in bound)
                table.add_row(shown, Text(b.description or b.action))
        table.add_row(Text("Also", style="bold underline"), "")
        for key, what in EXTRA:
            table.add_row(key, what)
        return table
