"""The agent table, updated in place by row key: only changed cells are rewritten."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from ... import safe
from ...models import AgentSample, HostStatus
from ..columns import (
    BY_KEY,
    COLUMNS,
    NAME_MAX,
    OPTIONAL,
    STATUS_MAX,
    UNSEEN_HIDDEN,
    AgentStats,
    Column,
    cell,
    column_width,
    fitting,
    status_width,
)
from ..fleet import agent_key, state_label
from ..model_names import newest_model, short_models

HOST_MAX = 16
"""The widest the HOST column grows (host names are up to 64 characters; cut with …)."""
EMPTY_STATS = AgentStats()
WINDOW_SLACK = 2
"""Rows above and below the screen kept up to date with it (a scroll of a row or two shows
no old figure even for the moment before `_catch_up`)."""
CACHE_SIZES = {
    "_cell_render_cache": 1000,
    "_row_render_cache": 100,
    "_row_renderable_cache": 100,
    "_line_cache": 100,
}
"""DataTable's render caches, capped at about two screens of rows (stock: 10,000 cells and
1,000 rows / lines)."""


INTERNALS = (
    "_data",
    "_update_count",
    "_row_label_column_width",
    "_refresh_region",
    *CACHE_SIZES,
)
"""DataTable's private attributes this table relies on (checked on textual 8.2, the range
pyproject.toml allows): a textual that renames one fails loudly here, never falls back."""


def _require_internals(table: DataTable[Text]) -> None:
    missing = [name for name in INTERNALS if not hasattr(table, name)]
    caches = [n for n in CACHE_SIZES if not isinstance(getattr(table, n, None), LRUCache)]
    if missing or caches or not isinstance(table._data, dict):
        raise RuntimeError(
            f"textual's DataTable changed: {', '.join(missing + caches) or '_data'} no longer "
            "as AgentTable expects (tested on textual 8.2; see pyproject.toml)"
        )


class AgentTable(DataTable[Text]):
    """Rows keyed by agent (`fleet.agent_key`: the name here, host and name for another
    host's); the cursor follows its agent across ticks, sorts and filters."""

    DEFAULT_CSS = "AgentTable { height: 1fr; }"

    class Selected(Message):
        """The highlighted agent changed (None: no rows); `name` is its key."""

        def __init__(self, name: str | None) -> None:
            self.name = name
            super().__init__()

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)  # type: ignore[arg-type]
        # DataTable's render caches are keyed on `_update_count`, which every changed cell
        # bumps, so entries from an older count are never hit again; at their stock sizes
        # (10,000 cells, 1,000 rows/lines) they filled up over ~10 minutes of ticks and held
        # ~11 MB of dead Segments and Strips (bench/ui.py). Two screens of rows is plenty.
        _require_internals(self)
        for name, size in CACHE_SIZES.items():
            cache: LRUCache[object, object] = getattr(self, name)
            cache.maxsize = size
        # By name: a stable order. A live metric re-sorts (and so rewrites) the table on
        # every tick; `>`/`<`, a header click or the palette choose one when wanted.
        self.sort_key = "name"
        self.sort_reverse = False
        self._columns: list[Column] = []
        self._name_width = 0
        self._status_width = 0
        self._host_width = 0
        self._hosts: Mapping[str, HostStatus] = {}
        self._local = ""
        """This machine in the HOST column (its short hostname)."""
        self._cells: dict[str, tuple[str, ...]] = {}
        self._name_cells: dict[str, Text] = {}  # the Text object in each row's name cell
        self._order: list[str] = []
        self._behind: set[str] = set()
        """Rows off screen whose cells are older than the newest tick: brought up to date as
        they scroll into view (`_catch_up`), so a fleet of 500 agents costs a tick the rows
        on screen, not all 500."""
        self._agents: dict[str, AgentSample] = {}
        self._stats: Mapping[str, AgentStats] = {}
        self._now = 0.0
        self._models: dict[str, str] = {}
        """Each newest model's name in the MODEL column (short where unambiguous)."""
        self._filter: Callable[[AgentSample], bool] | None = None
        self._selected: str | None = None
        self._present: set[str] = set()
        self.skip_columns: frozenset[str] = frozenset({"tasks"})
        """Columns not shown at all: TASKS until the config has task boards."""
        self.show_hosts = False
        """The HOST column: while the snapshot has fleet hosts."""

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Text,
        *,
        update_width: bool = False,
    ) -> None:
        """Like DataTable.update_cell, but repaint only that cell.

        Textual's own version refreshes the whole table, so one changed figure rewrote every
        visible row to the terminal each tick (14 KB/s at 50 agents, bench/RESULTS.md).
        """
        if update_width:
            super().update_cell(row_key, column_key, value, update_width=update_width)
            return
        data = self._data
        row = RowKey(row_key) if isinstance(row_key, str) else row_key
        column = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        if row not in data or column not in self.columns:
            raise CellDoesNotExist(f"No cell exists for row_key={row!r}, column_key={column!r}.")
        data[row][column] = value
        self._update_count += 1  # the row render cache is keyed on it
        self._refresh_region(self._cell_region(self.get_row_index(row), column))

    def _cell_region(self, row_index: int, column: ColumnKey) -> Region:
        """DataTable's `_get_cell_region` for our rows, which are all one line high: its own
        sums the heights of every row above (rebuilding its ordered-rows cache, which each
        update clears), so a tick that changed a figure in each of 500 rows cost 500 x 500
        steps (bench/fleet.py: 10 hosts x 50 agents)."""
        x = self._row_label_column_width
        for col in self.ordered_columns:
            if col.key == column:
                y = row_index + (self.header_height if self.show_header else 0)
                return Region(x, y, col.get_render_width(self), 1)
            x += col.get_render_width(self)
        return Region(0, 0, 0, 0)

    @property
    def selected(self) -> str | None:
        return self._selected

    @property
    def visible_names(self) -> list[str]:
        return list(self._order)

    def select(self, name: str) -> None:
        """Move the cursor to `name`'s row (shown rows only)."""
        if name in self._cells:
            self.move_cursor(row=self.get_row_index(name))
            self._set_selected(name)

    def rendered_rows(self) -> list[tuple[str, ...]]:
        """The text of every cell as shown, row by row in display order (rows off screen
        brought up to date first, as scrolling to them would)."""
        self._catch_up(everything=True)
        return [tuple(c.split("\0", 1)[0] for c in self._cells[n]) for n in self._order]

    def set_filter(self, predicate: Callable[[AgentSample], bool] | None) -> None:
        self._filter = predicate
        self._refresh_rows()

    def set_sort(self, key: str, reverse: bool | None = None) -> None:
        if key not in BY_KEY:
            return
        if reverse is None:
            reverse = not self.sort_reverse if key == self.sort_key else key not in ("name", "host")
        self.sort_key, self.sort_reverse = key, reverse
        self._relabel()
        self._refresh_rows()

    def cycle_sort(self, step: int) -> None:
        keys = [c.key for c in self._columns] or [c.key for c in COLUMNS]
        i = keys.index(self.sort_key) if self.sort_key in keys else 0
        self.set_sort(keys[(i + step) % len(keys)], self.sort_reverse)

    def update_agents(
        self,
        agents: Sequence[AgentSample],
        stats: Mapping[str, AgentStats],
        now: float,
        hosts: Mapping[str, HostStatus] | None = None,
        local: str = "",
    ) -> None:
        """Show this tick's agents: changed cells only, new rows added, vanished rows removed
        (`hosts`: the fleet's hosts by name, whose states their rows show; `local`: this
        machine's name in the HOST column)."""
        self._agents = {agent_key(a): a for a in agents}
        self._hosts = hosts or {}
        self._local = local
        # Over every agent, not the filtered ones: a filter never changes how a name reads.
        self._models = short_models(m for a in agents if (m := newest_model(a)) is not None)
        self._stats = stats
        self._now = now
        self._refresh_rows()

    def on_resize(self) -> None:
        self._refresh_rows()

    def _layout(self) -> bool:
        """Choose columns for the current width; True when the columns changed."""
        # The name column only ever grows (up to NAME_MAX), so the table is rebuilt a handful
        # of times in a session, not whenever the longest name comes or goes.
        longest = max(
            (cell_len(safe.name(a.name, NAME_MAX)) for a in self._agents.values()), default=4
        )
        name_width = max(8, self._name_width, min(NAME_MAX, longest))
        # STATUS grows for `needs input: Bash` likewise, and only grows.
        state_width = max(self._status_width, status_width(self._agents.values()))
        shown_hosts = {a.host for a in self._agents.values() if a.host is not None}
        down = [self._hosts[h] for h in shown_hosts if h in self._hosts]
        down_width = max(
            (len(state_label(h, self._now)) for h in down if h.state != "live"), default=0
        )
        state_width = max(state_width, min(STATUS_MAX, down_width))
        hosts = [*(a.host for a in self._agents.values() if a.host), self._local]
        host_width = max(
            self._host_width, 4, min(HOST_MAX, max(cell_len(safe.name(h)) for h in hosts))
        )
        self._present |= {
            key for key, has in OPTIONAL.items() if any(has(a) for a in self._agents.values())
        }  # once some agent had the figure, its column stays: no relayout as it comes and goes
        width = self.size.width or self.app.size.width
        skip = self.skip_columns | (UNSEEN_HIDDEN - self._present)
        empty = frozenset(OPTIONAL) - self._present
        shown_width = host_width if self.show_hosts else None
        columns = fitting(width - 2, name_width, empty, skip, state_width, shown_width)
        widths = (name_width, state_width, host_width)
        if columns == self._columns and widths == (
            self._name_width,
            self._status_width,
            self._host_width,
        ):
            return False
        self._columns = columns
        self._name_width, self._status_width, self._host_width = widths
        self.clear(columns=True)
        self._cells.clear()
        self._name_cells.clear()
        self._behind.clear()
        self._order = []
        for col in columns:
            width = name_width if col.key == "name" else column_width(col, *widths[1:])
            self.add_column(self._label(col), width=width, key=col.key)
        return True

    def _label(self, col: Column) -> Text:
        arrow = (" ▼" if self.sort_reverse else " ▲") if col.key == self.sort_key else ""
        return Text(col.label + arrow, justify="right" if col.right else "left")

    def _relabel(self) -> None:
        for key, column in self.columns.items():
            col = BY_KEY.get(str(key.value))
            if col is not None:
                column.label = self._label(col)
        self.refresh()

    def _refresh_rows(self) -> None:
        if not self.is_mounted:
            return
        keep = self._selected
        keep_row = self.cursor_row  # a vanished agent hands the cursor to its neighbour
        self._layout()
        shown = [(k, a) for k, a in self._agents.items() if self._filter is None or self._filter(a)]
        sort_col = BY_KEY[self.sort_key]
        shown.sort(
            key=lambda ka: (
                sort_col.sort(ka[1], self._stats.get(ka[0], EMPTY_STATS), self._now),
                ka[1].name,
                ka[1].host is not None,
                ka[1].host or "",
            ),
            reverse=self.sort_reverse,
        )
        names = [k for k, _ in shown]
        wanted = set(names)
        for gone in [n for n in self._cells if n not in wanted]:
            self.remove_row(gone)
            del self._cells[gone]
            del self._name_cells[gone]
            self._behind.discard(gone)
        order = [n for n in self._order if n in wanted]  # what the table shows after removals
        at = next(i for i, c in enumerate(self._columns) if c.key == "name")
        top, bottom = self._window()
        for i, (key, a) in enumerate(shown):
            if key in self._cells and not top <= i < bottom:
                self._behind.add(key)  # off screen once sorted: when it scrolls into view
                continue
            self._behind.discard(key)
            if self._show_row(key, a, at):
                order.append(key)
        if order != names:  # sort once, only when the order really changed
            rank = {id(self._name_cells[n]): i for i, n in enumerate(names)}
            self.sort("name", key=lambda t: rank.get(id(t), 0))
        self._order = names
        self._restore(keep, keep_row)

    def _show_row(self, key: str, a: AgentSample, at: int) -> bool:
        """Bring one row's cells up to date (only those that changed); True when it is new."""
        stats = self._stats.get(key, EMPTY_STATS)
        host = None if a.host is None else self._hosts.get(a.host)
        texts = [
            cell(c, a, stats, self._now, self._models, host, self._local) for c in self._columns
        ]
        plain = tuple(f"{t.plain}\0{t.style}" for t in texts)
        old = self._cells.get(key)
        self._cells[key] = plain
        if old is None:
            self.add_row(*texts, key=key)
            self._name_cells[key] = texts[at]
            return True
        if old != plain:
            for col, text, before, now in zip(self._columns, texts, old, plain, strict=True):
                if before != now:
                    self.update_cell(key, col.key, text)
                    if col.key == "name":
                        self._name_cells[key] = text
        return False

    def _window(self) -> tuple[int, int]:
        """The row indices on screen now, and a few either side."""
        first = int(self.scroll_y)
        return max(0, first - WINDOW_SLACK), first + self.size.height + WINDOW_SLACK

    def _catch_up(self, everything: bool = False) -> None:
        """Rows that scrolled into view (`everything`: all rows) get the newest tick's cells."""
        if not self._behind or not self._columns:
            return
        top, bottom = self._window()
        at = next(i for i, c in enumerate(self._columns) if c.key == "name")
        for key in list(self._behind):
            agent = self._agents.get(key)
            if agent is None or key not in self._cells:
                self._behind.discard(key)
            elif everything or top <= self.get_row_index(key) < bottom:
                self._behind.discard(key)
                self._show_row(key, agent, at)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._catch_up()

    def _restore(self, keep: str | None, keep_row: int) -> None:
        """Put the cursor back on the agent it was on (or the row where it was)."""
        if not self._order:
            self._set_selected(None)
            return
        index = self.get_row_index(keep) if keep in self._cells else keep_row
        index = max(0, min(index, len(self._order) - 1))
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)
        self._set_selected(self._order[index])

    def _set_selected(self, name: str | None) -> None:
        if name != self._selected:
            self._selected = name
            self.post_message(self.Selected(name))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None and event.row_key.value in self._cells:
            self._set_selected(str(event.row_key.value))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.set_sort(str(event.column_key.value))
