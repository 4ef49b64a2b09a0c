"""The dashboard: header, overview cards, the agent table, a chart and the event log."""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Input, Static

from ... import safe
from ...models import Snapshot
from ..columns import compile_filter, filter_problem, needs_input
from ..empty import no_agents, no_match, nothing_to_chart
from ..fleet import agent_key, short_hostname, split_key
from ..monitor import Monitor, monitor_of
from ..overview import waiting_card
from ..widgets.agent_table import AgentTable
from ..widgets.cards import Card
from ..widgets.chart import MetricChart
from ..widgets.event_log import EventLog
from ..widgets.footer import KeyFooter
from ..widgets.header import HeaderBar
from ..widgets.overview_cards import OverviewCards
from .actions import go_to_terminal, signal_agent

CHART_METRICS = ("cpu", "mem", "gpu")
CHART_EVERY = 5.0
"""Seconds between chart redraws while only new ticks arrive (a redraw costs 35-60 ms)."""
NARROW = 100
"""Below this width the chart makes room for the event log."""
TABLE_SHARE = 0.6
"""The agent table takes the rows its agents need, up to this share of the free height; the
chart and the event log get the rest."""
BOTTOM_MIN = 7
"""Rows the chart and the event log keep however many agents there are."""
CHROME = 5
"""Rows that are not table or panels: the header, the cards and their margin, the footer."""


def _bind(
    key: str, action: str, description: str, id_: str, show: bool = True, priority: bool = False
) -> Binding:
    return Binding(
        key, action, description, show=show, id=id_, tooltip=description, priority=priority
    )


class DashboardScreen(Screen[None]):
    """Widgets are updated in place from each snapshot; nothing is rebuilt per tick."""

    AUTO_FOCUS = "#agents"

    BINDINGS = [
        _bind("enter", "open_agent", "Open", "dashboard.open"),
        # A priority binding runs as the key arrives, before the keys after it are handed to
        # the focused widget: `/cod` typed fast, or in one packet over SSH, all reaches the box.
        _bind("slash", "filter", "Filter", "dashboard.filter", priority=True),
        _bind(
            "escape", "clear_filter", "Clear filter / live", "dashboard.clear_filter", show=False
        ),
        _bind("greater_than_sign", "sort(1)", "Sort →", "dashboard.sort_next", show=False),
        _bind("less_than_sign", "sort(-1)", "Sort ←", "dashboard.sort_prev", show=False),
        _bind("I", "invert_sort", "Invert sort", "dashboard.sort_invert", show=False),
        _bind("m", "chart_metric", "Chart metric", "dashboard.chart_metric"),
        _bind("c", "chart_subject", "Chart host/agent", "dashboard.chart_subject", show=False),
        _bind("l", "log_level", "Log level", "dashboard.log_level"),
        _bind("j", "cursor(1)", "Down", "dashboard.down", show=False),
        _bind("k", "cursor(-1)", "Up", "dashboard.up", show=False),
        _bind("h", "replay", "History", "dashboard.replay"),
        _bind("left_square_bracket", "step(-1)", "Tick back", "replay.tick_back", show=False),
        _bind("right_square_bracket", "step(1)", "Tick on", "replay.tick_on", show=False),
        _bind("left_curly_bracket", "jump(-60)", "Minute back", "replay.minute_back", False),
        _bind("right_curly_bracket", "jump(60)", "Minute on", "replay.minute_on", False),
        _bind("g", "goto", "Go to time", "replay.goto", show=False),
        _bind("e", "next_problem", "Next error/alert", "replay.next_problem", show=False),
        _bind("T", "tasks", "Tasks", "dashboard.tasks"),
        _bind("t", "terminal", "Terminal", "dashboard.terminal"),
        _bind("K", "signal", "Signal", "dashboard.signal"),
        _bind("w", "next_waiting", "Next waiting", "dashboard.next_waiting"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.chart_metric = "cpu"
        self.chart_host = False
        self._chart_drawn_at = 0.0
        self._chart_dirty = True

    @property
    def monitor(self) -> Monitor:
        return monitor_of(self.app)

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield OverviewCards(id="cards")
        # Hidden from the start, so the first layout and the first focus are the final ones.
        box = Input(placeholder="filter: text or regex over name, kind, status, model", id="filter")
        box.display = False
        yield box
        yield AgentTable(id="agents")
        empty = Static(id="empty")
        empty.display = False
        yield empty
        with Horizontal(id="bottom"):
            yield MetricChart(id="chart")
            yield EventLog(id="events")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#events", EventLog).border_title = "Events"
        self.query_one("#chart", MetricChart).border_title = "Chart"
        table = self.query_one(AgentTable)
        table.set_sort(self.monitor.settings.ui.sort, self.monitor.settings.ui.sort_reverse)
        if self.monitor.settings.tasks:  # task boards: the TASKS column and the Tasks card
            table.skip_columns = frozenset()
        self.set_class(bool(self.monitor.settings.tasks), "-tasks")  # shows the Tasks card
        if self.monitor.snapshot is not None:
            self.render_snapshot(self.monitor.snapshot)

    def on_screen_resume(self) -> None:
        """Back from the agent screen or help: catch up on what arrived meanwhile."""
        if self.monitor.snapshot is not None and self.is_mounted:
            self.render_snapshot(self.monitor.snapshot)

    def on_resize(self) -> None:
        self.query_one("#chart", MetricChart).display = self.size.width >= NARROW
        self.set_class(self.size.width < NARROW, "-narrow")  # no room for the alerts card
        self._fit_table()
        self._chart_dirty = True
        if self.monitor.snapshot is not None:
            self._header(self.monitor.snapshot)
            self._cards(self.monitor.snapshot)

    # -- rendering ----------------------------------------------------------------------

    def show_view(self) -> None:
        """The app switched between live and a replayed moment: redraw everything from it."""
        snap = self.monitor.snapshot
        if snap is None or not self.is_mounted:
            return
        self.query_one(EventLog).reset(self.monitor.events)
        self.render_snapshot(snap)
        self._chart(force=True)

    def render_snapshot(self, snap: Snapshot) -> None:
        self._header(snap)
        self._cards(snap)
        self._agents(snap)
        self._empty_state(snap)
        self.query_one(EventLog).sync(self.monitor.events)
        self._chart(force=False)

    def refresh_header(self) -> None:
        if self.monitor.snapshot is not None and self.is_mounted:
            self._header(self.monitor.snapshot)

    def _header(self, snap: Snapshot) -> None:
        source = self.monitor.source
        replaying = self.monitor.replaying
        warning = "" if replaying else source.warning
        self.query_one(HeaderBar).show(
            snap.host.hostname,
            "replay" if replaying else source.mode,
            self.monitor.replay_label() if replaying else source.detail,
            self.monitor.clock(snap),
            self.monitor.problem or warning,
            None if warning else snap.ingest,  # a stopped recorder's counters: room for why
            None if warning else snap.sessions,
            None if warning else snap.otlp,
        )

    def _agents(self, snap: Snapshot) -> None:
        """The table's rows; with fleet hosts, their HOST column and their states."""
        table = self.query_one(AgentTable)
        fleet = bool(snap.hosts)
        if fleet != self.has_class("-fleet"):
            self.set_class(fleet, "-fleet")  # the Hosts card
        table.show_hosts = fleet
        table.update_agents(
            snap.agents,
            self.monitor.stats,
            snap.ts.timestamp(),
            {h.name: h for h in snap.hosts},
            short_hostname(snap.host.hostname),
        )

    def _fit_table(self) -> None:
        """The table is as tall as its rows (CSS `height: auto`) up to TABLE_SHARE of the free
        rows, never leaving the panels below fewer than BOTTOM_MIN."""
        free = self.size.height - CHROME
        box = self.query_one("#filter", Input)
        if box.display:
            free -= 3
        limit = max(4, min(int(free * TABLE_SHARE), free - BOTTOM_MIN))
        table = self.query_one(AgentTable)
        if table.styles.max_height is None or table.styles.max_height.value != limit:
            table.styles.max_height = limit

    def _cards(self, snap: Snapshot) -> None:
        self.query_one(OverviewCards).show(snap, self.monitor, self.has_class("-narrow"))
        self._waiting_card(snap)

    def _waiting_card(self, snap: Snapshot) -> None:
        """How many agents need input, in their colour while any do; the first one's name
        and what it waits on below (`w` goes to each in turn)."""
        waiting = [a for a in snap.agents if needs_input(a)]
        if not self.has_class("-sessions") and any(a.session for a in snap.agents):
            self.add_class("-sessions")  # and it stays: no card coming and going
            self.refresh_bindings()  # `w` shows
        self.set_class(bool(waiting), "-waiting")
        self.query_one("#card-waiting", Card).set(*waiting_card(waiting))

    def render_tasks(self) -> None:
        """A task file moved between ticks: the Tasks card and the TASKS column follow."""
        snap = self.monitor.snapshot
        if snap is not None and self.is_mounted:
            self._cards(snap)
            self._agents(snap)

    def _empty_state(self, snap: Snapshot) -> None:
        empty = self.query_one("#empty", Static)
        table = self.query_one(AgentTable)
        bottom = self.query_one("#bottom")
        if snap.agents:
            table.display = bottom.display = True
            box = self.query_one("#filter", Input)
            hidden = len(snap.agents) - len(table.visible_names)
            if box.value.strip() and hidden == len(snap.agents):
                empty.update(no_match(box.value, hidden))
                empty.add_class("-nomatch")
                empty.display = True
            elif empty.display:
                empty.display = False
                empty.remove_class("-nomatch")
            return
        empty.remove_class("-nomatch")
        empty.update(no_agents(self.monitor.config_path))
        empty.display = True
        table.display = bottom.display = False

    def _chart(self, force: bool) -> None:
        chart = self.query_one(MetricChart)
        if not chart.display or not chart.is_mounted:  # a busy start: the next tick draws
            return
        now = time.monotonic()
        if not self._chart_drawn_at and not force:
            # The first chart waits until the first screen with data is out.
            self.call_after_refresh(self._chart, True)
            return
        if not (force or self._chart_dirty) and now - self._chart_drawn_at < CHART_EVERY:
            return
        selected = self.query_one(AgentTable).selected
        subject = None if self.chart_host or selected is None else selected
        title, xs, lines, unit, ymax = self.monitor.chart_data(subject, self.chart_metric)
        why = nothing_to_chart(self.monitor.snapshot, subject, self.chart_metric, lines)
        if why is not None:
            chart.say(why)
        else:
            chart.show(title, xs, lines, unit, ymax)
        chart.border_title = safe.text(title)  # a Text, so an agent's name is never markup
        self._chart_drawn_at = now
        self._chart_dirty = False

    # -- events and actions -------------------------------------------------------------

    def on_event_log_opened(self, message: EventLog.Opened) -> None:
        """`enter` on the event log: its events, each in full."""
        from .events import EventsScreen

        self.app.push_screen(EventsScreen(message.events))

    def on_data_table_row_selected(self, event: AgentTable.RowSelected) -> None:
        """`enter` on a row (the table handles the key itself)."""
        event.stop()
        self.action_open_agent()

    def on_agent_table_selected(self, event: AgentTable.Selected) -> None:
        self._chart_dirty = True
        self._chart(force=True)

    def action_cursor(self, step: int) -> None:
        table = self.query_one(AgentTable)
        table.move_cursor(row=max(0, table.cursor_row + step))

    def action_next_waiting(self) -> None:
        """`w`: the selection jumps to the next agent that needs input, round the table."""
        table = self.query_one(AgentTable)
        snap = self.monitor.snapshot
        agents = {} if snap is None else {agent_key(a): a for a in snap.agents}
        shown = table.visible_names
        waiting = [n for n in shown if n in agents and needs_input(agents[n])]
        if not waiting:
            hidden = sum(1 for a in agents.values() if needs_input(a))
            why = f"{hidden} hidden by the filter" if hidden else "no agent needs input"
            self.notify(why, timeout=3)
            return
        at = shown.index(table.selected) if table.selected in shown else -1
        after = [n for n in waiting if shown.index(n) > at]
        table.select(after[0] if after else waiting[0])

    def action_open_agent(self) -> None:
        """`enter`: the agent screen here; another host's agent opens that host's own
        dashboard over ssh (ui/remote.py)."""
        key = self.query_one(AgentTable).selected
        if key is None:
            return
        host, name = split_key(key)
        if host is None:
            self.monitor.open_agent(name)
        else:
            self.monitor.open_remote(key)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:  # the binding has priority: a `/` typed in the filter is text
            box.insert_text_at_cursor("/")
            return
        box.display = True
        self._fit_table()
        self.set_focus(box)  # now, not with box.focus(): that waits behind queued keys

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.query_one(AgentTable).set_filter(compile_filter(event.value))
            event.input.border_subtitle = filter_problem(event.value) or ""
            if self.monitor.snapshot is not None:
                self._empty_state(self.monitor.snapshot)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value.strip():
                event.input.display = False
                self._fit_table()
            self.query_one(AgentTable).focus()

    def action_clear_filter(self) -> None:
        """`escape`: clears the filter first; with none, goes back from replay to live."""
        box = self.query_one("#filter", Input)
        if not box.display and not box.value and self.monitor.replaying:
            self.monitor.go_live()
            return
        box.value = ""
        box.display = False
        self._fit_table()
        self.query_one(AgentTable).set_filter(None)
        self.query_one(AgentTable).focus()

    # -- time travel (the app does the work; these only start it) --

    def action_replay(self) -> None:
        """`h`: freeze on the moment shown (then step with [ ] { }), or back to live."""
        app = self.monitor
        if app.replaying:
            app.go_live()
        elif app.snapshot is not None:
            self._travel(app.replay_at(app.snapshot.ts.timestamp()))

    def action_step(self, step: int) -> None:
        self._travel(self.monitor.replay_step(step))

    def action_jump(self, seconds: float) -> None:
        self._travel(self.monitor.replay_jump(seconds))

    def action_next_problem(self) -> None:
        self._travel(self.monitor.replay_problem())

    def action_goto(self) -> None:
        from .goto import GotoScreen

        def chosen(ts: float | None) -> None:
            if ts is not None:
                self._travel(self.monitor.replay_at(ts))

        self.app.push_screen(GotoScreen(), chosen)

    def _travel(self, work: Coroutine[Any, Any, object]) -> None:
        # The app takes them one at a time, in order: three `[` go back three ticks.
        self.run_worker(work, group="travel", exit_on_error=False)

    def action_sort(self, step: int) -> None:
        self.query_one(AgentTable).cycle_sort(step)

    def action_sort_by(self, key: str) -> None:
        self.query_one(AgentTable).set_sort(key)

    def action_invert_sort(self) -> None:
        table = self.query_one(AgentTable)
        table.set_sort(table.sort_key, not table.sort_reverse)

    def action_chart_metric(self) -> None:
        i = CHART_METRICS.index(self.chart_metric)
        self.chart_metric = CHART_METRICS[(i + 1) % len(CHART_METRICS)]
        self._chart(force=True)

    def action_chart_subject(self) -> None:
        self.chart_host = not self.chart_host
        self._chart(force=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`T` exists only with task boards, `w` once a real agent's session is on a row:
        hidden from the footer and help without."""
        if action == "next_waiting":
            return self.has_class("-sessions")
        return action != "tasks" or bool(self.monitor.settings.tasks)

    def action_tasks(self) -> None:
        self.monitor.open_tasks()

    def action_terminal(self) -> None:
        """`t`: the selected agent's tmux pane (screens/actions.py)."""
        go_to_terminal(self, self.query_one(AgentTable).selected)

    def action_signal(self) -> None:
        """`K`: signal the selected agent's process tree, after a confirmation."""
        signal_agent(self, self.query_one(AgentTable).selected)

    def action_log_level(self) -> None:
        level = self.query_one(EventLog).cycle_level()
        self.notify(f"event log: {level} and above", timeout=2)
