"""The task board: one column per state (Inbox, Assigned, Done, Archive) with its count,
cards by priority and age, a filter, and a detail view. Below WIDE columns the columns become
tabs (one shown, `←` `→` switch). Live boards change as files move; in replay the board is
the one recorded at that moment.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Input, Static

from ... import safe
from ...models import TaskBoard, TaskCard
from ...tasks.order import priority_rank
from ..monitor import Monitor, monitor_of
from ..widgets.footer import KeyFooter
from ..widgets.header import HeaderBar
from ..widgets.task_column import TaskColumn

WIDE = 100
"""Below this width the columns become tabs."""
TITLES = {"inbox": "Inbox", "assigned": "Assigned", "done": "Done", "archive": "Archive"}
ALL_COLUMNS = ("inbox", "assigned", "done", "archive")
AGES_EVERY = 30.0
"""Seconds between redraws of unchanged boards (the cards' ages are in minutes)."""


def _bind(key: str, action: str, description: str, id_: str, show: bool = True) -> Binding:
    return Binding(key, action, description, show=show, id=id_, tooltip=description)


def compile_task_filter(query: str) -> Callable[[TaskCard], bool] | None:
    """`/` on the board: words that must all match. `agent:NAME` and `prio:LEVEL` (or
    `priority:`) match those fields (case-insensitive, NAME a prefix); other words are found
    in the id, title, agent, status, priority or path."""
    tests = [_word_test(word) for word in query.lower().split()]
    if not tests:
        return None
    return lambda card: all(t(card) for t in tests)


def _word_test(word: str) -> Callable[[TaskCard], bool]:
    field, _, value = word.partition(":")
    if value and field == "agent":
        return lambda c: (c.agent or "").lower().startswith(value)
    if value and field in ("prio", "priority"):
        return lambda c: (c.priority or "").strip().lower() == value

    def found(c: TaskCard) -> bool:
        texts = (c.id, c.title or "", c.agent or "", c.status or "", c.priority or "", c.path)
        return any(word in t.lower() for t in texts)

    return found


class TasksScreen(Screen[None]):
    """Reads `monitor.tasks`; `render_tasks` runs on every board change and every tick."""

    AUTO_FOCUS = None  # the screen's keys act on the board; only `/` focuses the filter

    BINDINGS = [
        _bind("escape", "back", "Back", "tasks.back"),
        _bind("left", "column(-1)", "← column", "tasks.left", show=False),
        _bind("right", "column(1)", "→ column", "tasks.right", show=False),
        _bind("up,k", "cursor(-1)", "Up", "tasks.up", show=False),
        _bind("down,j", "cursor(1)", "Down", "tasks.down", show=False),
        _bind("pageup", "cursor(-10)", "Page up", "tasks.page_up", show=False),
        _bind("pagedown", "cursor(10)", "Page down", "tasks.page_down", show=False),
        _bind("enter", "detail", "Details", "tasks.detail"),
        Binding(
            "slash", "filter", "Filter", id="tasks.filter", priority=True,
            tooltip="Filter cards: words, agent:NAME, prio:LEVEL",
        ),
        _bind("b", "next_board", "Next board", "tasks.next_board"),
        _bind("h", "replay", "History", "tasks.replay"),
        _bind("left_square_bracket", "step(-1)", "Tick back", "tasks.tick_back", show=False),
        _bind("right_square_bracket", "step(1)", "Tick on", "tasks.tick_on", show=False),
    ]  # fmt: skip

    def __init__(self, agent: str | None = None) -> None:
        super().__init__()
        self.board_index = 0
        self.column_index = 0
        self._filter: Callable[[TaskCard], bool] | None = None
        self._query = f"agent:{agent}" if agent else ""
        self._drawn: tuple[object, bool] = (None, False)
        self._drawn_at = 0.0

    @property
    def monitor(self) -> Monitor:
        return monitor_of(self.app)

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield Static(id="task-tabs")
        box = Input(
            placeholder="filter: words, agent:NAME, prio:high", value=self._query, id="task-filter"
        )
        box.display = box.can_focus = bool(self._query)  # hidden: never takes the keys
        yield box
        with Horizontal(id="task-columns"):
            for column in ALL_COLUMNS:
                yield TaskColumn(column, id=f"col-{column}")
        yield Static(id="task-empty")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._filter = compile_task_filter(self._query)
        self.render_tasks()

    def on_screen_resume(self) -> None:
        self.render_tasks()

    def on_resize(self) -> None:
        self.render_tasks()

    # -- what is shown ------------------------------------------------------------------

    @property
    def board(self) -> TaskBoard | None:
        boards = self.monitor.tasks
        if not boards:
            return None
        self.board_index %= len(boards)
        return boards[self.board_index]

    def _columns(self) -> list[TaskColumn]:
        board = self.board
        names = board.columns if board is not None else ("inbox", "assigned", "done")
        return [self.query_one(f"#col-{c}", TaskColumn) for c in names]

    def render_snapshot(self, _snap: object) -> None:
        """A tick: the header moves; the columns only when the boards did, or the ages are a
        minute old (10,000 cards are not sorted into columns every second for nothing)."""
        boards, replaying = self._drawn
        same = boards is self.monitor.tasks and replaying == self.monitor.replaying  # no deep ==
        if same and time.monotonic() - self._drawn_at < AGES_EVERY:
            self._header()
            return
        self.render_tasks()

    def show_view(self) -> None:
        self.render_tasks()

    def refresh_header(self) -> None:
        self._header()

    def _header(self) -> None:
        snap = self.monitor.snapshot
        if snap is None:
            return
        replaying = self.monitor.replaying
        source = self.monitor.source
        self.query_one(HeaderBar).show(
            snap.host.hostname,
            "replay" if replaying else source.mode,
            self.monitor.replay_label() if replaying else source.detail,
            self.monitor.clock(snap),
            self.monitor.problem or "",
            snap.ingest,
            snap.sessions,
        )

    def render_tasks(self) -> None:
        if not self.is_mounted:
            return
        self._drawn = (self.monitor.tasks, self.monitor.replaying)
        self._drawn_at = time.monotonic()
        self._header()
        board = self.board
        empty = self.query_one("#task-empty", Static)
        holder = self.query_one("#task-columns")
        if board is None:
            configured = self.monitor.settings.tasks
            empty.update(
                Text("no task board was recorded at this moment", "dim")
                if configured and self.monitor.replaying
                else Text("scanning the task boards…", "dim")
                if configured
                else Text.assemble(
                    ("No task boards. ", "bold"),
                    "Add one to ",
                    safe.text(str(self.monitor.config_path), "bold"),
                    ":\n",
                    ('  [[tasks]]\n  name = "work"\n  root = "~/src/project/tasks"', "cyan"),
                )
            )
            empty.display, holder.display = True, False
            self.query_one("#task-tabs", Static).display = False
            return
        empty.display, holder.display = bool(board.problem), True
        if board.problem:
            empty.update(safe.text(f"⚠ {board.problem}", "bold red"))
        columns = self._columns()
        self.column_index = max(0, min(self.column_index, len(columns) - 1))
        tabs = self.size.width < WIDE
        now = (
            self.monitor.snapshot.ts.timestamp()
            if self.monitor.replaying and self.monitor.snapshot
            else time.time()
        )
        per_column: dict[str, list[TaskCard]] = {c.column: [] for c in columns}
        total: dict[str, int] = dict.fromkeys(per_column, 0)
        for card in board.cards:
            if card.column in per_column:
                total[card.column] += 1
                if self._filter is None or self._filter(card):
                    per_column[card.column].append(card)
        for column in self.query(TaskColumn):
            column.display = column in columns and (
                not tabs or column is columns[self.column_index]
            )
        for i, column in enumerate(columns):
            cards = per_column[column.column]
            column.show(cards, now)
            column.set_active(i == self.column_index)
            column.border_title = self._title(column.column, cards, total[column.column])
        self._tabs(board, columns, per_column, total, tabs)

    def _title(self, column: str, cards: list[TaskCard], total: int) -> Text:
        shown = f"{len(cards)}/{total}" if self._filter is not None else str(total)
        title = Text.assemble((TITLES[column], "bold"), f" {shown}")
        bad = sum(1 for c in cards if c.problem)
        if bad:
            title.append(f" ⚠{bad}", "bold red")
        urgent = sum(1 for c in cards if priority_rank(c.priority) <= 1)
        if urgent and column in ("inbox", "assigned"):
            title.append(f" !{urgent}", "red")
        return title

    def _tabs(
        self,
        board: TaskBoard,
        columns: list[TaskColumn],
        per_column: dict[str, list[TaskCard]],
        total: dict[str, int],
        tabs: bool,
    ) -> None:
        bar = self.query_one("#task-tabs", Static)
        boards = self.monitor.tasks
        line = Text()
        if len(boards) > 1 or tabs:
            line.append_text(safe.text(board.name, "bold"))
            if len(boards) > 1:
                line.append(f" ({self.board_index + 1}/{len(boards)}, b: next)", "dim")
            line.append("  ")
        if tabs:
            for i, column in enumerate(columns):
                name = TITLES[column.column]
                count = len(per_column[column.column])
                style = "bold reverse" if i == self.column_index else ""
                line.append(f" {name} {count} ", style)
                line.append(" ")
            line.append("←→", "dim")
        bar.update(line)
        bar.display = bool(line.plain)

    # -- actions ------------------------------------------------------------------------

    def _active(self) -> TaskColumn | None:
        columns = self._columns()
        return columns[self.column_index] if columns else None

    def action_cursor(self, step: int) -> None:
        column = self._active()
        if column is not None:
            column.move(step)

    def action_column(self, step: int) -> None:
        columns = self._columns()
        if columns:
            self.column_index = (self.column_index + step) % len(columns)
            self.render_tasks()

    def on_task_column_clicked(self, event: TaskColumn.Clicked) -> None:
        columns = self._columns()
        if event.column in columns:
            self.column_index = columns.index(event.column)
            event.column.cursor = event.index
            self.render_tasks()

    def action_next_board(self) -> None:
        self.board_index += 1
        self.column_index = 0
        self.render_tasks()

    def action_detail(self) -> None:
        column = self._active()
        board = self.board
        card = None if column is None else column.selected
        if card is not None and board is not None:
            from .task_detail import TaskDetailScreen

            self.app.push_screen(TaskDetailScreen(board, card))

    def action_filter(self) -> None:
        box = self.query_one("#task-filter", Input)
        if box.has_focus:  # the binding has priority: a `/` typed in the filter is text
            box.insert_text_at_cursor("/")
            return
        box.display = box.can_focus = True
        self.set_focus(box)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "task-filter":
            self._filter = compile_task_filter(event.value)
            self.render_tasks()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "task-filter":
            event.input.display = event.input.can_focus = bool(event.value.strip())
            self.set_focus(None)

    def action_back(self) -> None:
        """`escape`: clears the filter first; with none, back to the dashboard."""
        box = self.query_one("#task-filter", Input)
        if box.value or box.display:
            box.value = ""
            box.display = box.can_focus = False
            self._filter = None
            self.set_focus(None)
            self.render_tasks()
            return
        self.app.pop_screen()

    def action_replay(self) -> None:
        app = self.monitor
        if app.replaying:
            app.go_live()
        elif app.snapshot is not None:
            self.run_worker(app.replay_at(app.snapshot.ts.timestamp()), group="travel")

    def action_step(self, step: int) -> None:
        self.run_worker(self.monitor.replay_step(step), group="travel", exit_on_error=False)
