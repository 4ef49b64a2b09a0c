"""`tui-monitor record`: the recorder headless, until SIGTERM, SIGHUP or Ctrl+C."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from .context import Context, db_option, db_path, interval_option, make_dirs, pass_ctx
from .metrics import metrics_option, with_metrics


@click.command()
@db_option
@interval_option("Seconds between ticks")
@click.option("-v", "--verbose", is_flag=True, help="Print a line for every committed batch.")
@metrics_option
@pass_ctx
def record(
    obj: Context, db: Path | None, interval: float | None, verbose: bool, metrics: str | None
) -> None:
    """Record snapshots to the history database until SIGTERM, SIGHUP or Ctrl+C (headless)."""
    from ..recorder import Recorder, install_signal_handlers
    from ..store.lock import RecorderLock, move_aside_if_corrupt
    from ..store.writer import Batch

    if interval is not None:
        obj.interval = interval
    settings = with_metrics(obj.settings(), metrics)
    path = db_path(obj, db)

    def committed(b: Batch) -> None:
        if verbose:
            click.echo(
                f"committed ticks {b.first_tick}-{b.last_tick} seq {b.first_seq}-{b.last_seq} "
                f"agent_rows {b.agent_rows}"
            )

    async def go(recorder: Recorder) -> None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
        await recorder.run(stop)

    make_dirs(path)
    with RecorderLock(path):
        moved = move_aside_if_corrupt(path)
        if moved:
            click.echo(f"tui-monitor: {moved}", err=True)
        recorder = Recorder(settings, path, on_commit=committed)
        recorder.say = lambda line: click.echo(f"tui-monitor: {line}", err=True)
        recorder.open()
        click.echo(
            f"recording to {path} (pid {os.getpid()}) every {settings.interval:g}s; "
            "Ctrl+C, SIGTERM or SIGHUP stops",
            err=True,
        )
        asyncio.run(go(recorder))
    writer = recorder.queue
    if writer is not None:
        lost = f"; {writer.lost} ticks could not be written" if writer.lost else ""
        click.echo(
            f"stopped: {writer.ticks_written} ticks in {writer.batches} batches{lost}", err=True
        )
