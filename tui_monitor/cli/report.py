"""Plain terminal reports for `status` and `agents` (rich tables, untrusted text as Text)."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import fmt, safe
from ..collect.rules import Matcher
from ..models import AgentSample, Snapshot
from ..store.queries import DbInfo
from ..ui.columns import session_state, shown_status, status_style
from ..ui.model_names import newest_model, short_models

STATUS_STYLE = {
    "running": "green",
    "idle": "cyan",
    "waiting": "yellow",
    "unknown": "dim",
    "stopped": "yellow",
    "zombie": "red",
    "exited": "dim",
    "stale": "magenta",
}


def _origin(snap: Snapshot, origin: Mapping[str, Any]) -> Text:
    """Where the snapshot comes from: the recorder's newest tick, or a sample taken now."""
    if origin.get("from") != "recorder":
        return Text(f"sampled now ({origin.get('note', '')})", style="dim")
    ago = fmt.duration(time.time() - snap.ts.timestamp())
    at = f"{snap.ts.astimezone():%H:%M:%S}"
    return Text(f"from the recorder (pid {origin.get('pid')}), tick at {at} ({ago} ago)")


def _cost_line(snap: Snapshot) -> Text:
    c = snap.cost
    if c is None:
        return Text("- (no recorder: usage is known only to it)", style="dim")
    line = Text(
        f"today {fmt.cost(c.today, c.unknown_today)}  month {fmt.cost(c.month, c.unknown)}  "
        f"{fmt.usd(c.burn_per_hour)}/h"
    )
    for b in c.budgets:
        line.append(f"  {b.name} {b.pct:.0f}%", style="red" if b.exceeded else "")
    if c.unknown:
        line.append(
            f"  ({fmt.UNPRICED}: {c.unknown} usage records this month have no price and are"
            " not counted)",
            style="yellow",
        )
    return line


def _host_lines(snap: Snapshot, origin: Mapping[str, Any] | None = None) -> Table:
    h = snap.host
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    if origin is not None:
        grid.add_row("source", _origin(snap, origin))
    load = " ".join("-" if x is None else f"{x:.2f}" for x in (h.load_1, h.load_5, h.load_15))
    grid.add_row(
        "host",
        Text(f"{h.hostname}  up {fmt.duration(time.time() - h.boot_time)}  {h.cpu_count} cores"),
    )
    grid.add_row("cpu", f"{fmt.percent(h.cpu_utilization)}  load {load}")
    grid.add_row(
        "memory",
        f"{fmt.size(h.ram_used)} / {fmt.size(h.ram_total)}  "
        f"swap {fmt.size(h.swap_used)} / {fmt.size(h.swap_total)}",
    )
    grid.add_row("disk", f"read {fmt.rate(h.disk_read_bps)}  write {fmt.rate(h.disk_write_bps)}")
    grid.add_row("net", f"rx {fmt.rate(h.net_rx_bps)}  tx {fmt.rate(h.net_tx_bps)}")
    g = snap.gpu
    if not g.available:
        grid.add_row("gpu", Text(f"unavailable: {g.reason}", style="dim"))
    for gpu in g.gpus:
        if gpu.error:
            line = Text(f"{gpu.index} {gpu.name or ''}: {gpu.error}", style="red")
        else:
            temp = "-" if gpu.gpu_temperature is None else f"{gpu.gpu_temperature:.0f}C"
            power = "-" if gpu.power_w is None else f"{gpu.power_w:.0f}W"
            line = Text(
                f"{gpu.index} {gpu.name or ''}  util {fmt.percent(gpu.gpu_utilization)}  "
                f"mem {fmt.size(gpu.gpu_memory_used)} / {fmt.size(gpu.gpu_memory_total)}  "
                f"{temp}  {power}"
            )
        grid.add_row("gpu", line)
    if origin is not None:
        grid.add_row("cost", _cost_line(snap))
    if snap.sessions is not None:
        grid.add_row("sessions", _sessions_line(snap))
    return grid


def _sessions_line(snap: Snapshot) -> Text:
    """The session file readers: backfill progress, problems and the latest one."""
    s = snap.sessions
    assert s is not None
    line = Text(f"{s.sessions} sessions")
    if s.backfill:
        line.append(f"  importing, {fmt.size(s.backlog)} left", style="yellow")
    if s.problems:
        line.append(f"  {s.problems} problems", style="yellow")
        if s.last_problem:
            line.append(" (latest: ")
            line.append_text(safe.text(s.last_problem, "yellow", limit=300))
            line.append(")")
    return line


_COLUMNS = (
    ("NAME", "left"),
    ("KIND", "left"),
    ("STATUS", "left"),
    ("MODEL", "left"),
    ("PID", "right"),
    ("CPU%", "right"),
    ("MEM", "right"),
    ("GPU MEM", "right"),
    ("PROCS", "right"),
    ("UPTIME", "right"),
    ("TOKENS", "right"),
    ("COST", "right"),
    ("TASK", "left"),
    ("COMMAND", "left"),
)
_WIDE = ("TASK", "COMMAND")
"""Columns that share what is left of the width (cut with an ellipsis); the others never."""


_SESSION_COLUMNS = ("MODEL", "TOKENS")
"""Shown when some agent has a session read from its files (live only: not from history)."""


def _status_style(a: AgentSample) -> str:
    if session_state(a) is None:
        return STATUS_STYLE.get(a.status, "")
    return status_style(a)  # the table's: needs input in reverse yellow, inferred in italic


def agent_table(agents: Sequence[AgentSample], now: float) -> Table:
    sessions = any(a.session is not None for a in agents)
    tasks = any(a.task for a in agents)
    columns = [
        c
        for c in _COLUMNS
        if (c[0] != "TASK" or tasks) and (c[0] not in _SESSION_COLUMNS or sessions)
    ]
    models = short_models(m for a in agents if (m := newest_model(a)) is not None)
    rows = [
        (
            safe.name_text(a.name, "bold"),
            safe.name_text(a.kind),
            safe.name_text(shown_status(a), _status_style(a)),
            *([_model(a, models)] if sessions else []),
            Text("-" if a.pid is None else str(a.pid)),
            Text("-" if a.cpu_utilization is None else f"{a.cpu_utilization:.1f}"),
            Text(fmt.size(a.ram_used)),
            Text(fmt.size(a.gpu_memory_used)),
            Text(str(a.procs) if a.pid else "-"),
            Text(fmt.duration(a.uptime(now))),
            *([_tokens(a)] if sessions else []),
            Text(fmt.cost(a.cost, a.unpriced), style="yellow" if a.unpriced else ""),
            *([safe.text(a.task or "", limit=200)] if tasks else []),
            safe.text(a.cmdline, "dim", limit=200),
        )
        for a in agents
    ]
    # Figures are never cut: they keep their full width, NAME gives up to 12 columns and
    # TASK and COMMAND (expand + ratio) share what is left, down to nothing on a narrow one.
    table = Table(box=None, header_style="bold", pad_edge=False, expand=True)
    for i, (col, justify) in enumerate(columns):
        natural = max([len(col)] + [r[i].cell_len for r in rows])
        floor = 0 if col in _WIDE else min(natural, 12) if col == "NAME" else natural
        table.add_column(
            col,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=True,
            min_width=floor,
            overflow="ellipsis",
            ratio=1 if col in _WIDE else None,
        )
    for row in rows:
        table.add_row(*row)
    return table


def _model(a: AgentSample, models: Mapping[str, str]) -> Text:
    model = newest_model(a)
    return Text("-") if model is None else safe.name_text(models.get(model, model), limit=40)


def _tokens(a: AgentSample) -> Text:
    return Text("-" if a.session is None else fmt.count(a.session.tokens.total))


PIPE_WIDTH = 240
"""Columns of `status` into a pipe or file (one row per line)."""
UNCUT_WIDTH = 1 << 16
"""Columns of `agents` into a pipe or file: wide enough that nothing is ever cut."""


class _Stripped(io.TextIOBase):
    """Lines to `out` without their trailing spaces (rich pads every cell to its column)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.partial = ""

    def write(self, text: str) -> int:
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self.out.write(line.rstrip() + "\n")
        return len(text)

    def flush(self) -> None:
        self.out.flush()


def plain_console(width: int = PIPE_WIDTH) -> Console:
    """The terminal's width on a terminal; into pipes and files, `width` columns and no
    trailing spaces."""
    console = Console()
    if console.is_terminal:
        return console
    return Console(file=cast(TextIO, _Stripped(sys.stdout)), width=width)


def print_status(
    snap: Snapshot, origin: Mapping[str, Any] | None = None, console: Console | None = None
) -> None:
    console = console or plain_console()
    console.print(_host_lines(snap, origin))
    console.print()
    if snap.agents:
        console.print(Text(f"Agents ({len(snap.agents)})", style="bold underline"))
        console.print(agent_table(snap.agents, time.time()))
    else:
        console.print(
            "No agents found. Define one in the config file "
            "(`tui-monitor config init`, then edit it) or start a known agent program "
            "(`tui-monitor agents` lists the presets)."
        )
    for ev in snap.events:
        who = f"{safe.name(ev.agent)} {safe.name(ev.kind)}"
        console.print(safe.text(f"{ev.ts:%H:%M:%S} {who}: {ev.message}"))


def print_agents(
    matchers: Sequence[Matcher], snap: Snapshot, config: Path, console: Console | None = None
) -> None:
    console = console or plain_console(UNCUT_WIDTH)
    # On a terminal long rules are cut with an ellipsis to fit; into a pipe, never.
    limit = 36 if console.is_terminal else safe.CMDLINE_MAX
    console.print(Text(f"config: {config}", style="dim"))
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("RULE", "SOURCE", "KIND", "MATCHES ON"):
        table.add_column(col, no_wrap=True)
    table.add_column("MATCHED", ratio=1, min_width=12)
    for m in matchers:
        if m.rule is not None:
            r = m.rule
            parts = [
                f"{k}={v}"
                for k, v in (
                    ("process", r.process),
                    ("cmdline", r.cmdline),
                    ("cwd", r.cwd),
                    ("user", r.user),
                    ("pidfile", r.pidfile),
                )
                if v is not None
            ]
        else:
            assert m.preset is not None
            p = m.preset
            parts = [f"program={'|'.join(p.programs)}"] if p.programs else []
            parts += [f"module={'|'.join(p.modules)}"] if p.modules else []
            parts += [f"script~{p.script}"] if p.script else []
        found = [
            f"{a.name} {a.pid}"
            for a in snap.agents
            if a.pid is not None and a.source == m.source and a.name.split("#")[0] == m.name
        ]
        table.add_row(
            safe.name_text(m.name, "bold"),
            m.source,
            safe.name_text(m.kind),
            safe.text(" ".join(parts), limit=limit),
            Text("\n".join(found) if found else "-", style="green" if found else "dim"),
        )
    console.print(table)


def print_db_info(info: DbInfo, recorder: int | None, console: Console | None = None) -> None:
    console = console or plain_console()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("database", Text(str(info.path)))
    grid.add_row("size", f"{fmt.size(info.size)} (+ {fmt.size(info.wal_size)} WAL)")
    grid.add_row("schema", str(info.schema_version))
    grid.add_row("recorder", "none" if recorder is None else f"running (pid {recorder})")
    span = "empty"
    if info.first_tick is not None and info.last_tick is not None:
        length = fmt.duration((info.last_tick - info.first_tick).total_seconds())
        first, last = (f"{t:%Y-%m-%d %H:%M:%S}" for t in (info.first_tick, info.last_tick))
        span = f"{first} .. {last} UTC ({length})"
    grid.add_row("span", span)
    console.print(grid)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("TABLE")
    table.add_column("ROWS", justify="right")
    for name, count in info.rows.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
