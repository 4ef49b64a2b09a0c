"""`tui-monitor tasks`: every configured task board, read once, as a table or as JSON."""

from __future__ import annotations

import json
import os
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from .. import safe
from ..errors import TuiMonitorError
from .context import Context, pass_ctx

PRIORITY_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "normal": "",
    "low": "dim",
}


class BoardProblem(TuiMonitorError):
    """A board (or none) that could not be read; the others were printed."""


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the tasks as a JSON array.")
@click.option("--board", "board_name", metavar="NAME", help="Only this board.")
@pass_ctx
def tasks(obj: Context, as_json: bool, board_name: str | None) -> None:
    """Print the task boards of the config ([[tasks]]): every task file, read once.

    Read-only: task files are never written, moved or locked.
    """
    from ..tasks.scan import BoardScanner

    settings = obj.settings()
    boards = settings.tasks
    if not boards:
        raise TuiMonitorError(
            f"no task boards configured: add a [[tasks]] table to {obj.config_file}"
        )
    if board_name is not None:
        boards = [b for b in boards if b.name == board_name]
        if not boards:
            names = ", ".join(b.name for b in settings.tasks)
            raise click.BadParameter(f"no board named {board_name!r} (boards: {names})")
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    for cfg in boards:
        scanner = BoardScanner(cfg)
        scanner.scan()
        board = scanner.board()
        if board.problem:
            problems.append(f"task board {cfg.name}: {board.problem}")
        for card in board.cards:
            row: dict[str, Any] = {
                "board": board.name,
                "id": card.id,
                "column": card.column,
                "agent": card.agent,
                "priority": card.priority,
                "status": card.status,
                "title": card.title,
                "path": os.path.join(board.root, card.path),
            }
            if card.problem:
                row["problem"] = card.problem
            rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=True, indent=2))
    else:
        _print_table(rows, several=len(boards) > 1)
    if problems:
        raise BoardProblem("; ".join(safe.clean(p, 500) for p in problems))


def _print_table(rows: list[dict[str, Any]], several: bool) -> None:
    from ..tasks.order import priority_rank
    from .report import UNCUT_WIDTH, plain_console

    table = Table(box=None, pad_edge=False, header_style="bold")
    if several:
        table.add_column("BOARD", no_wrap=True)
    for name in ("COLUMN", "ID", "PRIO", "AGENT", "STATUS", "TITLE"):
        table.add_column(name, no_wrap=name != "TITLE", overflow="fold")
    for r in rows:
        prio = r["priority"]
        style = PRIORITY_STYLE.get(str(prio).lower(), "") if priority_rank(prio) < 5 else ""
        title = (
            safe.text(f"⚠ {r['problem']}", "bold red", limit=300)
            if "problem" in r
            else safe.text(r["title"] or "", limit=300)
        )
        title.no_wrap = False  # the title column folds; the others stay one line
        cells = [
            Text(r["column"]),
            safe.text(r["id"], "bold", limit=64),
            safe.text(prio or "-", style, limit=16),
            safe.text(r["agent"] or "-", limit=32),
            safe.text(r["status"] or "-", limit=24),
            title,
        ]
        table.add_row(*([safe.text(r["board"], limit=32)] if several else []), *cells)
    # A terminal's width (titles fold); into a pipe or file, nothing cut or folded and no
    # trailing spaces, as `agents` and `status` do.
    plain_console(UNCUT_WIDTH).print(table)
