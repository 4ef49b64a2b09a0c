"""`t` where the monitor cannot switch: the agent's pane (or terminal) and how to get there.

The attach command is shown in full, selectable with the mouse, and `c` copies it (the
terminal's clipboard, OSC 52)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ... import safe
from ...act.tmux import Where


class PaneScreen(ModalScreen[None]):
    """Where the agent's terminal is; `c` copies the attach command."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="pane.close", tooltip="Close"),
        Binding("c", "copy", "Copy command", id="pane.copy", tooltip="Copy the attach command"),
    ]

    def __init__(self, agent: str, where: Where) -> None:
        super().__init__()
        self.agent = agent
        self.where = where
        self.command = where.pane.attach_command() if where.pane is not None else None

    def compose(self) -> ComposeResult:
        where = self.where
        title = safe.name_text(self.agent, "bold")
        title.append(f": {where.why}" if where.why else "", "bold")
        t = Table.grid(padding=(0, 1))
        t.add_column(style="bold", no_wrap=True)
        t.add_column(overflow="fold")
        t.add_row("tty", safe.text(where.tty or "none (no terminal)"))
        if where.pane is not None:
            t.add_row("tmux pane", safe.text(f"{where.pane.target} ({where.pane.pane_id})"))
            t.add_row("server", safe.text(where.pane.socket))
        with Vertical(id="pane"):
            yield Static(title)
            yield Static(t)
            if self.command is not None:
                yield Static(Text("attach from another terminal with:", "dim"))
                yield Static(safe.text(self.command, "bold"), id="pane-command")
                yield Static(Text("c: copy · esc: close", "dim"))
            else:
                yield Static(Text("esc: close", "dim"))

    def action_copy(self) -> None:
        if self.command is None:
            self.notify("nothing to copy: it does not run in tmux", timeout=3)
            return
        if safe.clean(self.command) != self.command:  # a hostile session name: never paste it
            self.notify("its session name holds control characters: not copied", timeout=5)
            return
        self.app.copy_to_clipboard(self.command)
        self.notify("attach command copied", timeout=3)
