"""One agent: details, its process tree, history charts (5m/1h/24h/7d), events and errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ... import fmt, safe
from ...act.tmux import terminal_of
from ...collect.mcp import McpMatcher
from ...collect.tree import process_tree
from ...cost.tick import month_start_ms
from ...models import AgentSample, Snapshot
from ...store.queries import ErrorRow
from ...store.writer import resolve_error
from ...tasks.order import priority_rank
from ..columns import STATUS_STYLE, reports_only, session_only
from ..fleet import HostEvent
from ..monitor import Monitor, monitor_of
from ..proc_tree import recorded, servers_in, tree_view
from ..session_section import add_session_rows
from ..usage_table import usage_table
from ..widgets.chart import MetricChart
from ..widgets.event_log import EventLog
from ..widgets.footer import KeyFooter
from ..widgets.header import HeaderBar
from ..widgets.task_column import PRIORITY_STYLE
from .actions import go_to_terminal, signal_agent
from .detail import DetailScreen, error_detail

RANGES = {
    "1": ("5m", timedelta(minutes=5)),
    "2": ("1h", timedelta(hours=1)),
    "3": ("24h", timedelta(hours=24)),
    "4": ("7d", timedelta(days=7)),
}
METRICS = ("cpu", "ram", "gpu_mem")
TITLES = {"cpu": "CPU %", "ram": "memory MiB", "gpu_mem": "GPU memory MiB"}
TASKS_SHOWN = 12


def _wrap(text: Text) -> Text:
    """A detail value that wraps instead of being cut."""
    text.no_wrap = False
    text.overflow = "fold"
    return text


class AgentScreen(Screen[None]):
    """Reads history off the event loop; `escape` returns with the same agent selected."""

    BINDINGS = [
        Binding(
            "escape", "app.pop_screen", "Back", id="agent.back", tooltip="Back to the dashboard"
        ),
        Binding("1", "range('1')", "5m", id="agent.range_5m", tooltip="Chart the last 5 minutes"),
        Binding("2", "range('2')", "1h", id="agent.range_1h", tooltip="Chart the last hour"),
        Binding("3", "range('3')", "24h", id="agent.range_24h", tooltip="Chart the last 24 hours"),
        Binding("4", "range('4')", "7d", id="agent.range_7d", tooltip="Chart the last 7 days"),
        Binding("m", "metric", "Metric", id="agent.metric", tooltip="CPU, memory, GPU memory"),
        Binding(
            "r", "resolve", "Resolve", id="agent.resolve", tooltip="Resolve the selected error"
        ),
        Binding("T", "tasks", "Tasks", id="agent.tasks", tooltip="This agent's task board"),
        Binding("t", "terminal", "Terminal", id="agent.terminal", tooltip="Its tmux pane"),
        Binding("K", "signal", "Signal", id="agent.signal", tooltip="Signal its process tree"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.agent_name = name
        self.range_key = "1"
        self.metric = "cpu"
        self._ticks = 0
        self._reported: tuple[float | None, int] | None = None
        self._errors: dict[str, ErrorRow] = {}
        self._tty: str | None = None
        """The root's terminal, read with its tree (live only: replay shows none)."""

    @property
    def monitor(self) -> Monitor:
        return monitor_of(self.app)

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        with Horizontal(id="agent-top"):
            with VerticalScroll(id="agent-left"):
                yield Static(id="details")
                yield Static(id="agent-tasks")
                yield OptionList(id="errors")
                yield Static(id="usage")
                yield Static(id="tree")
            with Vertical(id="agent-right"):
                yield MetricChart(id="agent-chart")
        yield EventLog(id="agent-events")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#agent-events", EventLog).border_title = "Events"
        self.query_one("#errors", OptionList).border_title = "Open errors (r resolves)"
        if self.monitor.snapshot is not None:
            self.render_snapshot(self.monitor.snapshot)
        self.load_history()

    def _agent(self, snap: Snapshot) -> AgentSample | None:
        # This machine's agent: another host's of the same name is not it.
        return next((a for a in snap.agents if a.name == self.agent_name and a.host is None), None)

    def refresh_header(self) -> None:
        if self.monitor.snapshot is not None and self.is_mounted:
            self._header(self.monitor.snapshot)

    def _header(self, snap: Snapshot) -> None:
        source = self.monitor.source
        self.query_one(HeaderBar).show(
            snap.host.hostname,
            source.mode,
            source.detail,
            self.monitor.clock(snap),
            self.monitor.problem or source.warning,
            ingest=None if source.warning else snap.ingest,
            sessions=None if source.warning else snap.sessions,
            otlp=None if source.warning else snap.otlp,
        )

    def render_snapshot(self, snap: Snapshot) -> None:
        self._header(snap)
        agent = self._agent(snap)
        self.query_one("#details", Static).update(self._details(agent, snap.ts.timestamp()))
        self.query_one("#agent-events", EventLog).sync(
            (n, e)
            for n, e in self.monitor.events
            if e.agent == self.agent_name and not isinstance(e, HostEvent)
        )
        self.render_tasks()
        self._ticks += 1
        if agent is not None and agent.pids and self._ticks % 3 == 1:
            if self.monitor.replaying:  # its pids may be other processes by now
                tree = tree_view(recorded(agent), True, agent.mcp, True)
                self.query_one("#tree", Static).update(tree)
            else:
                self.load_tree(agent)
        reported = None if agent is None else (agent.cost, agent.errors)
        if reported != self._reported:  # new usage or errors: their lists are stale
            self._reported = reported
            self.load_history()
        elif self._ticks % (5 if self.range_key == "1" else 60) == 0:
            self.load_history()

    def render_tasks(self) -> None:
        """The tasks on the boards under this agent's name (assigned first), joined by name."""
        box = self.query_one("#agent-tasks", Static)
        cards = [
            (b.name, c) for b in self.monitor.tasks for c in b.cards if c.agent == self.agent_name
        ]
        box.display = bool(cards)
        if not cards:
            return
        order = {"assigned": 0, "inbox": 1, "done": 2, "archive": 3}
        cards.sort(key=lambda bc: order[bc[1].column])
        working = sum(1 for _, c in cards if c.column == "assigned")
        lines = [Text(f"tasks: {working} assigned, {len(cards)} in all (T: board)", "bold")]
        for _, c in cards[:TASKS_SHOWN]:
            line = Text.assemble(
                (f"{c.column:<9}", "dim"),
                safe.text(c.id, "bold", limit=24),
                " ",
                safe.text(c.priority or "", PRIORITY_STYLE[min(priority_rank(c.priority), 4)]),
                " " if c.priority else "",
                safe.text(
                    f"⚠ {c.problem}" if c.problem else c.title or "",
                    "red" if c.problem else "",
                    limit=200,
                ),
                no_wrap=True,
                overflow="ellipsis",
            )
            lines.append(line)
        box.update(Group(*lines))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`T` exists only with task boards: hidden from the footer and help without."""
        return action != "tasks" or bool(self.monitor.settings.tasks)

    def action_tasks(self) -> None:
        self.monitor.open_tasks(self.agent_name)

    def action_terminal(self) -> None:
        go_to_terminal(self, self.agent_name)

    def action_signal(self) -> None:
        signal_agent(self, self.agent_name)

    def _details(self, a: AgentSample | None, now: float) -> Table:
        """Every field in full: long values wrap (the pane scrolls: tab to it, then ↑ ↓)."""
        t = Table.grid(padding=(0, 1))
        t.add_column(style="bold", no_wrap=True)
        t.add_column(overflow="fold")
        t.add_row("agent", _wrap(safe.name_text(self.agent_name, "bold")))
        if a is None:
            t.add_row("status", Text("not in the current snapshot", "dim"))
            return t
        kind = safe.name_text(a.kind)
        kind.append(f" ({a.source})")
        t.add_row("kind", _wrap(kind))
        t.add_row("status", Text(a.status, STATUS_STYLE.get(a.status, "")))
        if a.heartbeat is not None:
            t.add_row("reports", _wrap(safe.name_text(a.reported or "-")))
            t.add_row("heartbeat", f"{fmt.duration(max(0.0, now - a.heartbeat))} ago")
        if a.task:
            t.add_row("task", _wrap(safe.text(a.task)))
        if a.queue_depth is not None:
            t.add_row("queue", str(a.queue_depth))
        for key, value in sorted(a.metrics.items())[:12]:
            t.add_row(_wrap(safe.name_text(key)), f"{value:g}")
        if a.errors:
            t.add_row("errors", Text(f"{a.errors} open (enter on one: in full)", "bold red"))
        if a.session is not None:  # what its own files say: before its process, if any
            add_session_rows(t, a.session, now, self.monitor.utc)
        if reports_only(a) or session_only(a):
            return t  # known only from what it reports or its files: no process to describe
        pids = Text(" ".join(map(str, a.pids)) or "-")
        if self._tty and not self.monitor.replaying:  # on the pids' row: no line is spare here
            pids.append_text(safe.text(f"  tty {self._tty}", "dim"))
        t.add_row("pids", pids)
        t.add_row("uptime", fmt.duration(a.uptime(now)))
        t.add_row("cpu", fmt.percent(a.cpu_utilization))
        measured = {"pss": " PSS", "rss": " RSS"}.get(a.ram_kind or "", "")
        t.add_row("memory", fmt.size(a.ram_used) + measured)
        t.add_row("gpu mem", fmt.size(a.gpu_memory_used))
        t.add_row("threads", "-" if a.threads is None else str(a.threads))
        t.add_row("user", _wrap(safe.text(a.user or "-")))
        t.add_row("cwd", _wrap(safe.text(a.cwd or "-")))
        t.add_row("command", _wrap(safe.text(a.cmdline or "-")))
        return t

    @work(exclusive=True, group="tree", exit_on_error=False)
    async def load_tree(self, agent: AgentSample) -> None:
        """The live processes (names, memory) with their MCP servers labelled; the recorded
        pids where none can be read. The servers' figures are the recorder's where the
        snapshot has them (live), else summed from the processes read now (attached)."""
        settings = self.monitor.settings.mcp
        matcher = McpMatcher(settings) if settings.enabled else None
        nodes = await asyncio.to_thread(process_tree, agent.pids, matcher)
        tty = None if agent.pid is None else await asyncio.to_thread(terminal_of, agent.pid)
        if tty != self._tty and self.monitor.snapshot is not None:
            self._tty = tty  # `t` goes to its tmux pane
            now = self.monitor.snapshot.ts.timestamp()
            self.query_one("#details", Static).update(self._details(agent, now))
        if not nodes:
            tree = tree_view(recorded(agent), True, agent.mcp, True)
        else:
            servers = agent.mcp or servers_in(nodes)
            tree = tree_view(nodes, False, servers, bool(agent.mcp))
        self.query_one("#tree", Static).update(tree)

    @work(exclusive=True, group="history", exit_on_error=False)
    async def load_history(self) -> None:
        history = self.monitor.history
        chart = self.query_one("#agent-chart", MetricChart)
        label, span = RANGES[self.range_key]
        title = f"{safe.name(self.agent_name)} {TITLES[self.metric]} · last {label}"
        chart.border_title = safe.text(title)  # a Text, so an agent's name is never markup
        snap = self.monitor.snapshot
        agent = None if snap is None else self._agent(snap)
        if history is None:
            chart.say("No history database: charts need one (tui-monitor record, or --db).")
            chart.border_title = safe.text(f"{title} (no history)")
            return
        if agent is not None and (reports_only(agent) or session_only(agent)):
            why = "it only reports" if reports_only(agent) else "only its session files remain"
            chart.say(
                Text(
                    f"It has no process of its own ({why}): no CPU or memory figures "
                    "to chart. Its reports, events and errors are on the left and below."
                )
            )
        end = datetime.now(UTC)
        start = end - span
        width = max(20, chart.size.width - 10)
        try:
            series = await asyncio.to_thread(
                history.series, "agent", self.agent_name, self.metric, start, end, width
            )
            events = await asyncio.to_thread(history.events, agent=self.agent_name, limit=50)
            errors = await asyncio.to_thread(history.unresolved_errors, self.agent_name, 100)
            models = await asyncio.to_thread(
                history.usage_by_model, self.agent_name, month_start_ms()
            )
        except Exception as exc:  # a missing or busy file must not take the screen down
            chart.say(safe.text(f"History unavailable: {exc}"))
            chart.border_title = safe.text(f"{title} (history unavailable)")
            return
        now = end.timestamp()
        xs = [now - p[0] for p in series.points]
        scale = 1.0 if self.metric == "cpu" else 2**20
        lines = {
            "avg": [p[1] / scale for p in series.points],
            "max": [p[3] / scale for p in series.points],
        }
        unit = "%" if self.metric == "cpu" else "MiB"
        if agent is None or not (reports_only(agent) or session_only(agent)):
            if any(v is not None for v in lines["avg"]):
                chart.show(title, xs, lines, unit, span=span.total_seconds())
            else:
                what = {"cpu": "CPU", "ram": "memory", "gpu_mem": "GPU memory"}[self.metric]
                chart.say(f"No {what} figures recorded for it in the last {label} (m: next).")
        log = self.query_one("#agent-events", EventLog)
        if not log.lines:
            log.add(e for _, e in reversed(events))
        self._show_errors(errors)
        box = self.query_one("#usage", Static)
        box.update(usage_table(models))
        box.display = bool(models)

    def _show_errors(self, errors: list[ErrorRow]) -> None:
        box = self.query_one("#errors", OptionList)
        shown = [str(o.id) for o in box.options]
        if shown == [str(e.id) for e in errors]:
            return
        keep = box.highlighted_option.id if box.highlighted_option is not None else None
        box.clear_options()
        self._errors = {str(e.id): e for e in errors}
        for e in errors:
            # One line each, cut with `…`: `enter` shows it in full, with its stack.
            prompt = Text(f"{e.ts.astimezone():%m-%d %H:%M:%S} ", "dim", no_wrap=True)
            prompt.overflow = "ellipsis"
            prompt.append_text(safe.name_text(e.error_type, "bold red", limit=80))
            if e.message:
                prompt.append(": ")
                prompt.append_text(safe.text(e.message, limit=300))
            box.add_option(Option(prompt, id=str(e.id)))
        box.display = bool(errors)
        if keep is not None and keep in [str(e.id) for e in errors]:
            box.highlighted = box.get_option_index(keep)
        elif errors:
            box.highlighted = 0  # `r` always has a target: the newest, until you move

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """`enter` on an open error: all of it, with its stack."""
        event.stop()
        error = self._errors.get(event.option.id or "")
        if error is not None:
            title = f"{safe.name(error.error_type, 60)} · {safe.name(self.agent_name, 40)}"
            self.app.push_screen(DetailScreen(title, error_detail(error)))

    def on_event_log_opened(self, message: EventLog.Opened) -> None:
        """`enter` on its event log: those events, each in full."""
        from .events import EventsScreen

        title = f"Events of {safe.name(self.agent_name, 40)}"
        self.app.push_screen(EventsScreen(message.events, title))

    @work(exclusive=True, group="resolve", exit_on_error=False)
    async def action_resolve(self) -> None:
        box = self.query_one("#errors", OptionList)
        option = box.highlighted_option
        history = self.monitor.history
        if option is None or option.id is None:
            self.notify("no open error selected", timeout=3)
            return
        if history is None:
            self.notify("no history database: nothing to resolve", severity="warning")
            return
        try:
            done = await asyncio.to_thread(
                resolve_error, history.path, int(option.id), datetime.now(UTC)
            )
        except Exception as exc:  # a locked or read-only file: say so, keep the screen
            self.notify(f"could not resolve: {exc}", severity="error", markup=False)
            return
        self.notify("error resolved" if done else "it was already resolved", timeout=3)
        self.load_history()

    def action_range(self, key: str) -> None:
        self.range_key = key
        self.load_history()

    def action_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.load_history()
