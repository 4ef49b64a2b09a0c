"""`tui-monitor demo`: a real fleet of demo agent processes, watched on the dashboard.

Only click and the standard library at module level: `tui-monitor --help` imports this.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..config import Settings
    from ..demo.fleet import Fleet

MAX_AGENTS = 50
"""As demo.fleet.MAX_AGENTS (not imported here: it brings pydantic along)."""
QUIT_GRACE = 5.0
"""Seconds the dashboard has to close after SIGTERM/SIGHUP before the process just exits."""


@click.command()
@click.option(
    "--agents",
    "count",
    type=click.IntRange(1, MAX_AGENTS),
    default=6,
    show_default=True,
    metavar="N",
    help=f"How many demo agents to start (1-{MAX_AGENTS}).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Keep the demo's history in DIR/history.db, to look at later with "
    "`tui-monitor --db DIR/history.db`. Default: a temporary directory, removed at exit.",
)
def demo(count: int, keep: Path | None) -> None:
    """Start a fleet of demo agents and watch them on the dashboard.

    The agents are real processes that report over the ingest socket like real
    ones: heartbeats, events, errors and token usage with costs. Some burn CPU in
    bursts, one grows its memory, one keeps child processes, one crashes every few
    minutes and is restarted, one stops its heartbeats and goes stale.

    q or Ctrl+C quits and stops every demo process (so do SIGTERM and SIGHUP). The
    demo has settings of its own (no presets, its own socket, a daily budget of
    $1 an agent that runs out within minutes) and never reads your config file or
    touches your history.
    """
    import atexit
    import shutil

    from ..demo.fleet import Fleet, demo_settings
    from ..store.lock import recorder_pid

    runtime = Path(tempfile.mkdtemp(prefix="tui-monitor-demo-", dir=_short_tmp()))
    caught: int | None = None
    try:
        workdir = runtime
        if keep is not None:
            try:
                keep.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise click.ClickException(f"cannot create {keep}: {exc.strerror}") from None
            workdir = keep
        fleet = Fleet(runtime / "ingest.sock", count)
        settings = demo_settings(workdir, fleet)
        db = settings.store.db_path()
        pid = recorder_pid(db)
        if pid is not None:
            raise click.ClickException(f"{db} is being recorded by pid {pid}; pick another --keep")
        atexit.register(fleet.stop)  # however the interpreter ends, short of SIGKILL
        try:
            caught = _watch(settings, fleet)
        finally:
            fleet.stop()
            atexit.unregister(fleet.stop)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    if caught is not None:
        raise SystemExit(128 + caught)
    if keep is not None:
        click.echo(f"demo history kept in {db}; open it with: tui-monitor --db {db}", err=True)


def _short_tmp() -> str:
    """The temp dir, unless its path is too long for a Unix socket inside it."""
    base = tempfile.gettempdir()
    return base if len(base) <= 60 else "/tmp"


def _watch(settings: Settings, fleet: Fleet) -> int | None:
    """Start the fleet and show the dashboard as plain `tui-monitor` does; returns the
    signal that ended it, if one did."""
    import asyncio
    import threading

    from ..source import LiveSource
    from ..store.queries import History
    from ..ui.app import make_app
    from . import startup

    db = settings.store.db_path()
    app = make_app(settings, LiveSource(settings, db), History(db), on_first_screen=startup.resume)
    caught: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        first = not caught
        caught.append(signum)
        fleet.stop()  # first: whatever becomes of the dashboard now, no agent outlives us
        if not first:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the dashboard's loop: unwind through the finally
            raise SystemExit(128 + signum) from None
        loop.call_soon_threadsafe(app.call_later, app.action_quit)
        # A hung-up terminal can keep the dashboard from closing: do not wait forever.
        timer = threading.Timer(QUIT_GRACE, os._exit, (128 + signum,))
        timer.daemon = True
        timer.start()

    signals = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        fleet.start()
        app.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return caught[0] if caught else None
