"""`tui-monitor export snapshot|metrics|events`: history to files (docs/export.md).

Only click and the stdlib at import time: the dashboard's start-up pays for this module, the
store and pydantic are imported when an export really runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .context import Context

if TYPE_CHECKING:
    from ..export.outfile import Sink

LONG_EXPORT = 20_000
"""Rows from which an export shows a progress bar (on a terminal's stderr only)."""
LEVELS = ("debug", "info", "warning", "error", "critical")


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        (
            click.option(
                "-o",
                "--output",
                metavar="PATH",
                help="File to write, or a directory for a generated name (default: the "
                "working directory); - writes to stdout.",
            ),
            click.option("--force", is_flag=True, help="Replace an existing file."),
            click.option(
                "--db",
                type=click.Path(dir_okay=False, path_type=Path),
                help="History database (default: history.db in the user data dir).",
            ),
        )
    ):
        fn = option(fn)
    return fn


def _range(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        (
            click.option(
                "--since",
                metavar="TIME",
                default="1h",
                show_default=True,
                help="Start: 90m, 2d, 14:05, '2026-11-21 14:05', RFC 3339, @EPOCH.",
            ),
            click.option("--until", metavar="TIME", default="now", show_default=True, help="End."),
            click.option("--agent", metavar="NAME", help="Only this agent."),
            click.option(
                "--csv-raw",
                is_flag=True,
                help="CSV: leave cells starting with = + - @ tab or CR as they are "
                "(default: a leading ' keeps spreadsheets from running them).",
            ),
        )
    ):
        fn = option(fn)
    return fn


@click.group()
def export() -> None:
    """Save a snapshot, metrics or events from the history (files are 0600, never
    overwritten without --force, written whole or not at all)."""


def _db(obj: Context, db: Path | None) -> Path:
    return db or obj.settings().store.db_path()


def _time(text: str, hint: str, now: datetime) -> datetime:
    from ..when import parse_when

    try:
        return parse_when(text, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None


def _span(since: str, until: str) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    start, end = _time(since, "--since", now), _time(until, "--until", now)
    if start > end:
        raise click.BadParameter(
            f"{start:%Y-%m-%d %H:%M:%S} UTC is after --until ({end:%Y-%m-%d %H:%M:%S} UTC)",
            param_hint="--since",
        )
    return start, end


SUFFIX_FORMATS = {"csv": "csv", "json": "json", "ndjson": "ndjson", "jsonl": "ndjson"}
"""File suffixes that name a format: a file so named holds that format or is not written."""


def _format(fmt: str | None, output: str | None, known: tuple[str, ...], what: str) -> str:
    """The format: --format, else the one the output's suffix names, else the first known.

    A file whose suffix names another format than the one written is refused (`events -o
    out.json` wrote NDJSON into a .json file): one line, exit 2."""
    suffix = ""
    if output not in (None, "-") and not (output.endswith(("/", os.sep)) or Path(output).is_dir()):
        suffix = Path(output).suffix.lower().lstrip(".")
    named = SUFFIX_FORMATS.get(suffix)
    if named is None or named == fmt or (fmt is None and named in known):
        return fmt or named or known[0]
    if fmt is None:
        problem = f"{what} are written as {' or '.join(known)}, not {named}"
        hint = f"name it .{' or .'.join(known)}"
    else:
        problem, hint = f"a .{suffix} file cannot hold {fmt}", f"name it .{fmt}"
    raise click.BadParameter(f"{output}: {problem} ({hint})", param_hint="--output")


def _sink(output: str | None, name: str) -> Sink:
    from ..export.outfile import target

    if output == "-":
        return sys.stdout.buffer
    return target(output, name)


class _Progress:
    """A progress bar on stderr, shown only on a terminal and only for long exports."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.shown = sys.stderr.isatty()
        self.bar: Any = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.shown or total < LONG_EXPORT:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _run(sink: Sink | None, write: Callable[[], Any]) -> Any:
    """Run an export (or its read: no `sink`), turning its failures into one line (exit 1)."""
    from ..errors import ExportError

    try:
        return write()
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    except BrokenPipeError:
        raise
    except FileExistsError as exc:
        raise click.ClickException(f"{exc.filename} already exists (use --force)") from None
    except OSError as exc:
        where = sink if isinstance(sink, Path) else "the history" if sink is None else "stdout"
        raise click.ClickException(f"cannot write {where}: {exc.strerror or exc}") from None


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _done(path: Path | None, what: str) -> None:
    if path is None:
        click.echo(f"wrote {what} to stdout", err=True)
    else:
        click.echo(f"wrote {what} to {path}")


FORMATS = {"metrics": ("csv", "json"), "events": ("ndjson", "csv")}
"""Each range export's formats, the default first."""


def _export_range(
    obj: Context,
    db: Path | None,
    what: str,
    unit: str,
    span: tuple[str, str],
    agent: str | None,
    output: str | None,
    fmt: str | None,
    write: Callable[..., Any],
) -> None:
    """What `export metrics` and `export events` share: the time range, the format, the file
    name, the progress bar and the one-line result. `write(db, sink, start, end, fmt=...,
    progress=...)` does the export."""
    from ..export import outfile

    start, end = _span(*span)
    fmt = _format(fmt, output, FORMATS[what], what)
    path = _db(obj, db)
    sink = _sink(output, outfile.default_name(what, agent=agent, at=end, suffix=fmt))
    bar = _Progress(f"exporting {what}")
    try:
        written = _run(sink, lambda: write(path, sink, start, end, fmt=fmt, progress=bar))
    finally:
        bar.close()
    _done(written.path, _count(written.rows, unit))


@export.command("snapshot", short_help="One recorded moment as versioned JSON.")
@click.option(
    "--at",
    "at",
    metavar="TIME",
    help="The recorded moment: the last tick at or before it (14:05, 90m, RFC 3339, ...; "
    "before the history, its oldest tick, said on stderr). Default: the newest tick.",
)
@_common
@click.pass_obj
def snapshot_cmd(
    obj: Context, at: str | None, output: str | None, force: bool, db: Path | None
) -> None:
    """Everything on the dashboard at one moment, as a versioned JSON document.

    \b
    tui-monitor export snapshot --at 14:05 -o incident.json
    """
    from .. import export as ex
    from ..export import outfile
    from ..when import shown_instead

    when = _time(at or "now", "--at", datetime.now(UTC))
    _format(None, output, ("json",), "snapshots")
    path = _db(obj, db)
    budgets = obj.settings().budgets
    moment = _run(None, lambda: ex.read_moment(path, when, budgets=budgets))
    snap = moment.snapshot
    # A time asked for and not found is said, in the dashboard's words (`g`, `--at`).
    instead = shown_instead(when, snap.ts, "exported") if at is not None else None
    if instead is not None:
        click.echo(f"tui-monitor: {instead}", err=True)
    doc = ex.snapshot_document(
        snap, events=moment.events, alerts=moment.alerts, errors=moment.errors
    )
    sink = _sink(output, outfile.default_name("snapshot", at=snap.ts))
    written = _run(sink, lambda: outfile.deliver(sink, [ex.dumps(doc, indent=2) + "\n"], force))
    _done(written, f"the snapshot of {doc['ts']} ({len(snap.agents)} agents)")


@export.command("metrics", short_help="Host and agent metrics per tick, CSV or JSON.")
@_range
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    help="Default: from the output's suffix (.csv, .json), else csv.",
)
@_common
@click.pass_obj
def metrics_cmd(
    obj: Context,
    since: str,
    until: str,
    agent: str | None,
    csv_raw: bool,
    fmt: str | None,
    output: str | None,
    force: bool,
    db: Path | None,
) -> None:
    """Per tick: the host's and every agent's CPU, memory, GPU memory, processes.

    \b
    tui-monitor export metrics --since 1h --agent planner --format csv -o ~/exports/
    """
    from functools import partial

    from .. import export as ex

    write = partial(ex.export_metrics, agent=agent, csv_safe=not csv_raw, force=force)
    _export_range(obj, db, "metrics", "row", (since, until), agent, output, fmt, write)


@export.command("events", short_help="The event log as NDJSON or CSV.")
@_range
@click.option("--level", type=click.Choice(LEVELS), help="Only this level and above.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["ndjson", "csv"]),
    help="Default: from the output's suffix (.ndjson, .jsonl, .csv), else ndjson.",
)
@_common
@click.pass_obj
def events_cmd(
    obj: Context,
    since: str,
    until: str,
    agent: str | None,
    csv_raw: bool,
    level: str | None,
    fmt: str | None,
    output: str | None,
    force: bool,
    db: Path | None,
) -> None:
    """The event log: lifecycle changes, reported events, alerts.

    \b
    tui-monitor export events --since 2d --level warning --format ndjson -o -
    """
    from functools import partial

    from .. import export as ex

    write = partial(
        ex.export_events, agent=agent, min_level=level, csv_safe=not csv_raw, force=force
    )
    _export_range(obj, db, "events", "event", (since, until), agent, output, fmt, write)
