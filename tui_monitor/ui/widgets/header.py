"""One line: product, host, mode (live / attached / replay @ time) and the snapshot's clock."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ... import fmt, safe
from ...models import IngestStats, OtlpStatus, SessionsStatus

MODE_STYLE = {
    "live": "bold green",
    "attached": "bold cyan",
    "replay": "bold magenta",
    "scripted": "bold",
}


class HeaderBar(Static):
    """The clock shows the snapshot's time, so a frozen source gives a frozen header."""

    DEFAULT_CSS = "HeaderBar { height: 1; }"
    _tip: str | None = None
    _shown: tuple[object, ...] | None = None
    """The last `show` arguments, to lay them out again at a new width."""

    def on_resize(self) -> None:
        if self._shown is not None:
            self.show(*self._shown)  # type: ignore[arg-type]

    def show(
        self,
        host: str,
        mode: str,
        detail: str,
        clock: str,
        note: str = "",
        ingest: IngestStats | None = None,
        sessions: SessionsStatus | None = None,
        otlp: OtlpStatus | None = None,
    ) -> None:
        self._shown = (host, mode, detail, clock, note, ingest, sessions, otlp)
        text = Text.assemble(
            ("tui-monitor", "bold"),
            "  ",
            safe.text(host, "bold"),
            "  ",
            (f" {mode.upper()} ", f"reverse {MODE_STYLE.get(mode, 'bold')}"),
        )
        if detail:
            text.append(f" {detail}", "dim")
        if note:
            text.append("  ")
            text.append(safe.text(note, "bold red"))
        grid = Table.grid(expand=True, padding=(0, 1), collapse_padding=True, pad_edge=False)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True)
        right = _right(sessions, ingest, otlp, clock, compact=False)
        essential = text.cell_len - (len(f" {detail}") if detail else 0)
        if self.size.width and essential + 1 + right.cell_len > self.size.width:
            # a narrow terminal: the counters give way before the mode does
            right = _right(sessions, ingest, otlp, clock, compact=True)
        grid.add_row(text, right)
        self.update(grid)
        # The latest problem's file and line, on hover (the header has room for the count).
        tip = sessions.last_problem if sessions is not None and sessions.problems else None
        tip = None if tip is None else f"session files: {safe.clean(tip, 1000)}"
        if self._tip != tip:
            self._tip = tip
            self.tooltip = None if tip is None else Text(tip)  # a Text: never markup


def _right(
    sessions: SessionsStatus | None,
    ingest: IngestStats | None,
    otlp: OtlpStatus | None,
    clock: str,
    *,
    compact: bool,
) -> Text:
    """The counters and the clock. Compact (too narrow for all of it beside the mode): a
    receiver that has taken nothing and refused nothing says nothing, and ingest leaves out
    `stored` while everything received is stored."""
    right = _sessions(sessions)
    right.append_text(_ingest(ingest, compact))
    right.append_text(_otlp(otlp, compact))
    right.append(clock, "bold")
    return right


def _count(n: int) -> str:
    return f"{n:,}" if n < 100_000 else f"{n / 1000:,.0f}k"


def _sessions(status: SessionsStatus | None) -> Text:
    """Session files: how much is left to import while backfilling; then only problems."""
    if status is None:
        return Text()
    if status.backfill:
        return Text.assemble(
            ("sessions: importing ", "dim"), (fmt.size(status.backlog), "bold"), (" left  ", "dim")
        )
    if status.problems:
        problems = "problem" if status.problems == 1 else "problems"
        return Text.assemble(
            ("sessions: ", "dim"),
            (_count(status.problems), "bold yellow"),
            (f" {problems}  ", "yellow"),
        )
    return Text()


def _otlp(status: OtlpStatus | None, compact: bool = False) -> Text:
    """Agents' telemetry and hooks: records and hook payloads in, requests refused; why it
    is off when it is."""
    if status is None or status.listening is None:
        return Text()
    if status.listening.startswith("off"):  # compact: the reason is in `status`
        return Text("otlp off  " if compact else f"otlp {safe.clean(status.listening, 60)}  ",
                    "yellow")  # fmt: skip
    if compact and not (status.records or status.hooks or status.rejected):
        return Text()
    text = Text.assemble(("otlp ", "dim"), (_count(status.records), "bold"), (" in ", "dim"))
    if status.hooks:
        text.append_text(Text.assemble((_count(status.hooks), "bold"), (" hooks ", "dim")))
    if status.rejected:
        text.append(_count(status.rejected), "bold yellow")
        text.append(" rejected ", "yellow")
    text.append(" ")
    return text


def _ingest(stats: IngestStats | None, compact: bool = False) -> Text:
    """What agents sent: lines in, stored, rejected (the socket's state when it is down)."""
    if stats is None:
        return Text()
    if not stats.listening or stats.listening.startswith("not listening"):
        return Text("ingest off  ", "dim")
    if compact and not (stats.received or stats.rejected):
        return Text()
    text = Text.assemble(("ingest ", "dim"), (_count(stats.received), "bold"), (" in ", "dim"))
    if compact and not stats.rejected and stats.stored == stats.received:
        return text.append(" ")
    text.append_text(Text.assemble((_count(stats.stored), "bold"), (" stored ", "dim")))
    text.append(_count(stats.rejected), "bold yellow" if stats.rejected else "bold")
    text.append(" rejected  ", "yellow" if stats.rejected else "dim")
    return text
