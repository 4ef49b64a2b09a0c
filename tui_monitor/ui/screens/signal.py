"""`K`'s confirmation: the process tree first (root, command, children), then the signal.

Nothing is sent from here: the screen dismisses with TERM, INT or KILL (or None), and the
caller signals the very processes listed (act/signals.py)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ... import safe
from ...act.signals import Tree

CHILDREN_SHOWN = 20
HINT = "t: TERM (ask to end) · i: INT (interrupt, as ctrl+c) · k: KILL (at once) · esc: cancel"


def _bind(key: str, action: str, description: str, id_: str) -> Binding:
    return Binding(key, action, description, id=id_, tooltip=description)


class SignalScreen(ModalScreen[str | None]):
    """Dismisses with the signal's name, or None when cancelled."""

    BINDINGS = [
        _bind("t", "pick('TERM')", "TERM", "signal.term"),
        _bind("i", "pick('INT')", "INT", "signal.int"),
        _bind("k", "pick('KILL')", "KILL", "signal.kill"),
        _bind("escape", "pick(None)", "Cancel", "signal.cancel"),
    ]

    def __init__(self, agent: str, tree: Tree) -> None:
        super().__init__()
        self.agent = agent
        self.procs = tree

    def compose(self) -> ComposeResult:
        with Vertical(id="signal"):
            title = Text("Signal ", "bold")
            title.append_text(safe.name_text(self.agent, "bold"))
            title.append(" and its whole process tree?", "bold")
            yield Static(title)
            with VerticalScroll(id="signal-tree"):
                yield Static(self._tree())
            yield Static(Text(HINT, "dim"), id="signal-hint")

    def _tree(self) -> Group:
        tree = self.procs
        head = Table.grid(padding=(0, 1))
        head.add_column(style="bold", no_wrap=True)
        head.add_column(overflow="fold")
        head.add_row("root", Text(f"pid {tree.root.pid} {tree.members[0].name}"))
        head.add_row("command", Text(tree.command or "-", overflow="fold"))
        kids = tree.children
        head.add_row("children", Text(str(len(kids)), "bold" if kids else "dim"))
        lines = [
            Text(f"{'  ' * m.depth}{m.proc.pid} {m.name}", no_wrap=True, overflow="ellipsis")
            for m in kids[:CHILDREN_SHOWN]
        ]
        if len(kids) > CHILDREN_SHOWN:
            lines.append(Text(f"… and {len(kids) - CHILDREN_SHOWN} more", "dim"))
        note = Text("children first, then the root; each checked to be the same process", "dim")
        return Group(head, *lines, note)

    def action_pick(self, name: str | None) -> None:
        self.dismiss(name)
