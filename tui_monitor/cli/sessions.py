"""`tui-monitor sessions`: real agents' sessions from the history, one line each (what
`ccusage session` gives), or as JSON for scripts.

Reads the history read-only, so it works while a recorder writes it. Everything shown comes
from agents' own files and is hostile: every string goes through `safe.py` in the table and
is ASCII-escaped in JSON. Only click and the stdlib at import time (`--help` stays fast).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .context import Context, db_option, db_path, pass_ctx

if TYPE_CHECKING:
    from ..store.sessions import SessionSummary

FAMILIES = {
    "claude-code": "claude-code",
    "claude": "claude-code",
    "codex": "codex",
    "gemini": "gemini",
    "gemini-cli": "gemini",
}
"""--agent: the families sessions are read for, and the names people also call them by."""
UNKNOWN_COST = "unknown"
"""The cost of a session with usage no price was known for when it was recorded."""


def _family(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    found = FAMILIES.get(value.strip().lower())
    if found is None:
        from ..export.encode import quoted

        raise click.BadParameter(
            f"unknown agent {quoted(value)}: expected claude-code, codex or gemini "
            "(or claude, gemini-cli)"
        )
    return found


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    """--since as seconds, checked before anything is read."""
    if value is None:
        return None
    from ..when import parse_duration

    try:
        return parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the sessions as a JSON array.")
@click.option(
    "--since",
    metavar="DURATION",
    callback=_since,
    help="Only sessions active within this long: 90m, 12h, 7d, 2w.",
)
@click.option(
    "--agent",
    metavar="NAME",
    callback=_family,
    help="Only this agent's sessions: claude-code (claude), codex, gemini (gemini-cli).",
)
@db_option
@pass_ctx
def sessions(
    obj: Context, as_json: bool, since: float | None, agent: str | None, db: Path | None
) -> None:
    """Print the sessions of Claude Code, Codex and Gemini CLI in the history, one line
    each, the most recently active last: tokens by kind and cost (subagents included).

    A cost is "unknown" when some of the session's usage had no price when it was recorded.
    With no recorder running, the session files are imported into the history first (a note
    on stderr says so). No history (`[sessions] enabled = false`): no sessions (exit 0).
    """
    import time

    from ..store.queries import History
    from .importer import import_sessions

    path = db_path(obj, db)
    import_sessions(obj.settings(), path)
    found: list[SessionSummary] = []
    if path.exists():
        since_ms = None if since is None else int((time.time() - since) * 1000)
        families = None if agent is None else [agent]
        found = History(path).session_summaries(since_ms, families)
    else:
        click.echo(
            f"tui-monitor: no history at {path} yet: no sessions recorded (the recorder and "
            "the dashboard record them)",
            err=True,
        )
    if as_json:
        from ..export.encode import dumps

        click.echo(dumps([_document(s) for s in found], indent=2))
    else:
        _print_table(found)


def _document(s: SessionSummary) -> dict[str, Any]:
    """One session as `--json` gives it: exactly these fields (README, `tui-monitor
    sessions`)."""
    t = s.tokens
    return {
        "source": s.family,
        "session_id": s.session_id,
        "cwd": s.cwd,
        "models": list(s.models),
        "first_ts": _iso(s.first_ts),
        "last_ts": _iso(s.last_ts),
        "input_tokens": t.input,
        "output_tokens": t.output,
        "cache_read_tokens": t.cache_read,
        "cache_write_tokens": t.cache_write,
        "cost_usd": s.cost_usd,
    }


def _iso(when: datetime | None) -> str | None:
    from ..export.encode import iso
    from ..store.rows import to_ms

    return None if when is None else iso(to_ms(when))


def _local(when: datetime | None) -> str:
    return "-" if when is None else f"{when.astimezone():%Y-%m-%d %H:%M}"


_COLUMNS = (
    ("AGENT", "left"),
    ("SESSION", "left"),
    ("CWD", "left"),
    ("MODELS", "left"),
    ("FIRST", "left"),
    ("LAST", "left"),
    ("INPUT", "right"),
    ("OUTPUT", "right"),
    ("CACHE READ", "right"),
    ("CACHE WRITE", "right"),
    ("COST", "right"),
)
_WIDE = ("CWD", "MODELS")
"""Columns cut with an ellipsis to fit a terminal; into a pipe or file nothing is cut."""
WIDE_MIN = 12
"""Columns each of them keeps however narrow the terminal (its lines then wrap)."""


def _print_table(found: list[SessionSummary]) -> None:
    from rich.table import Table
    from rich.text import Text

    from .. import safe
    from .report import UNCUT_WIDTH, plain_console

    console = plain_console(UNCUT_WIDTH)
    if not found:
        console.print("No sessions recorded.")
        return
    rows = [
        (
            safe.name_text(s.family),
            safe.name_text(s.session_id, "bold"),
            safe.text(s.cwd or "-", limit=1024),
            safe.text(", ".join(safe.name(m) for m in s.models) or "-", limit=1024),
            Text(_local(s.first_ts)),
            Text(_local(s.last_ts)),
            *(Text(f"{n:,}") for n in (s.tokens.input, s.tokens.output, s.tokens.cache_read)),
            Text(f"{s.tokens.cache_write:,}"),
            Text(UNKNOWN_COST, style="yellow")
            if s.cost_usd is None
            else Text(f"${s.cost_usd:,.2f}"),
        )
        for s in found
    ]
    natural = {
        name: max([len(name)] + [r[i].cell_len for r in rows])
        for i, (name, _) in enumerate(_COLUMNS)
    }
    widths: dict[str, int | None] = dict.fromkeys(natural)
    if console.is_terminal:
        widths = _fit(natural, console.width)
        console.width = max(console.width, sum(w or 0 for w in widths.values()) + 2 * len(widths))
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name, justify in _COLUMNS:
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=True,
            overflow="ellipsis",
            width=widths[name],
        )
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _fit(natural: dict[str, int], width: int) -> dict[str, int | None]:
    """Column widths on a terminal `width` wide: every figure, date and id whole; CWD and
    MODELS share what is left (each at least WIDE_MIN, cut with an ellipsis)."""
    room = width - 2 * (len(natural) - 1)
    room -= sum(w for name, w in natural.items() if name not in _WIDE)
    cwd, models = natural["CWD"], natural["MODELS"]
    if cwd + models > room:
        models = min(models, max(WIDE_MIN, room // 2))
        cwd = min(cwd, max(WIDE_MIN, room - models))
    return {**natural, "CWD": cwd, "MODELS": models}
