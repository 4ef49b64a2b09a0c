"""`enter` on a card: every field of the task, its file, and the history of its moves."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ... import safe
from ...models import TaskBoard, TaskCard
from ...tasks.order import status_disagrees
from ..monitor import Monitor, monitor_of
from ..widgets.task_column import card_age

FIELD_LIMIT = 2000


class TaskDetailScreen(ModalScreen[None]):
    BINDINGS = [
        Binding(
            "escape,q,enter", "dismiss", "Close", id="task_detail.close", tooltip="Close details"
        )
    ]

    def __init__(self, board: TaskBoard, card: TaskCard) -> None:
        super().__init__()
        self.board = board
        self.card = card

    @property
    def monitor(self) -> Monitor:
        return monitor_of(self.app)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="task-detail"):
            yield Static(self._fields(), id="task-fields")
            yield Static(Text("history: loading…", "dim"), id="task-moves")

    def on_mount(self) -> None:
        self.query_one("#task-detail").border_title = safe.text(self.card.id, "bold")
        self.load_moves()

    def _fields(self) -> Table:
        c = self.card
        t = Table.grid(padding=(0, 1))
        t.add_column(style="bold", no_wrap=True)
        t.add_column(overflow="fold")

        def row(name: str, value: object, style: str = "") -> None:
            if value is None or value == "" or value == ():
                return
            text = safe.clean(value, FIELD_LIMIT, multiline=True)
            t.add_row(name, Text(text, style))

        row("problem", c.problem, "bold red")
        row("id", c.id)
        row("title", c.title)
        row("board", self.board.name)
        row("column", c.column)
        row("agent", c.agent)
        drift = status_disagrees(c)
        row("status", f"{c.status}  (≠ {c.column}: as written)" if drift else c.status,
            "bold yellow" if drift else "")  # fmt: skip
        row("priority", c.priority)
        row("created", c.created)
        row("age", card_age(c, time.time()))
        row("file", os.path.join(self.board.root, c.path))
        row("artefacts", "\n".join(c.artefacts))
        row("summary", c.summary)
        row("error", c.error, "red")
        for key, value in c.extra.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            row(safe.clean(key, 40), shown)
        return t

    @work(exclusive=True, group="moves", exit_on_error=False)
    async def load_moves(self) -> None:
        box = self.query_one("#task-moves", Static)
        history = self.monitor.history
        if history is None:
            box.update(Text("history: none recorded", "dim"))
            return
        try:
            moves = await asyncio.to_thread(
                history.task_moves, self.board.name, self.card.key, self.monitor.replay_tick
            )
        except Exception as exc:  # a missing or busy file must not take the screen down
            box.update(safe.text(f"history unavailable: {exc}", "dim"))
            return
        t = Table(title="history", title_justify="left", box=None, pad_edge=False)
        for col in ("WHEN", "COLUMN", "AGENT", "FILE"):
            t.add_column(col, no_wrap=True)
        for m in moves:
            when = datetime.fromtimestamp(m.ts / 1000).strftime("%Y-%m-%d %H:%M:%S")
            if m.column is None:
                t.add_row(when, Text("left the board", "dim"), "", "")
                continue
            t.add_row(
                when,
                Text(m.column, "red" if m.problem else ""),
                safe.text(m.agent or "-"),
                safe.text(m.path or "", limit=80),
            )
        box.update(Group(t) if moves else Text("history: nothing recorded yet", "dim"))
