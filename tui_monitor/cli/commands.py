"""The command group: the dashboard (no command), `status`, `agents`, `record`, and `main`,
which turns every failure into one clear line on stderr and a non-zero exit."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import click

from .. import __version__
from ..config import Settings
from ..errors import TuiMonitorError
from ..models import Snapshot
from . import startup
from .context import Context, db_option, db_path, pass_ctx


class _NeverRaised(click.ClickException):
    pass


# click >= 8.2 raises this for a bare group (`tui-monitor`, `tui-monitor config`).
_NoArgsIsHelp: type[click.ClickException] = getattr(
    click.exceptions, "NoArgsIsHelpError", _NeverRaised
)
EXIT_CONFIG = 2
EXIT_INTERNAL = 70


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="TUI_MONITOR_CONFIG",
    help="Config file (default: the platform config dir; env TUI_MONITOR_CONFIG).",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="History database for the dashboard (default: history.db in the user data dir).",
)
@click.option(
    "--at",
    "at",
    metavar="TIME",
    help="Open the dashboard replaying this moment of the history: 14:05, "
    "'2026-11-21 14:05', 90m (ago), 2h30m. Escape goes live.",
)
@click.version_option(__version__, prog_name="tui-monitor")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, db: Path | None, at: str | None) -> None:
    """A terminal monitor for fleets of AI agents.

    Without a command: the dashboard. It records history itself, or, when a
    `tui-monitor record` is already writing the database, follows it read-only.
    """
    ctx.obj = Context(config)
    if ctx.invoked_subcommand is None:
        _run_ui(ctx.obj, db, _when(at) if at is not None else None)
        return
    startup.resume()  # the dashboard resumes the collector after its first screen
    if at is not None:
        raise click.UsageError("--at applies to the dashboard (no command), not to a command")


def _when(text: str) -> float:
    from datetime import UTC, datetime

    from ..when import parse_when

    try:
        return parse_when(text, datetime.now(UTC)).timestamp()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


def _run_ui(obj: Context, db: Path | None, at: float | None = None) -> None:
    from ..source import choose_source
    from ..store.queries import History
    from ..ui.app import make_app

    settings = obj.settings()
    path = db or settings.store.db_path()
    if at is not None and not path.exists():
        raise click.ClickException(f"no history at {path} to replay (record some first)")
    source = choose_source(settings, path)
    app = make_app(
        settings,
        source,
        History(path),
        config=obj.config_file,
        start_at=at,
        on_first_screen=startup.resume,  # the dashboard resumes the collector once painted
    )
    app.run()


def _take_snapshot(settings: Settings) -> Snapshot:
    """Two ticks one interval apart, so CPU% and rates are real, not first-tick blanks."""
    from ..sampler import Sampler

    async def go() -> Snapshot:
        sampler = Sampler(settings)
        try:
            await sampler.tick()
            await asyncio.sleep(settings.interval)
            return await sampler.tick()
        finally:
            sampler.close()

    return asyncio.run(go())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot as JSON.")
@pass_ctx
def status(obj: Context, as_json: bool) -> None:
    """Print one snapshot of this machine and its agents, then exit."""
    snapshot = _take_snapshot(obj.settings())
    if as_json:
        click.echo(json.dumps(snapshot.model_dump(mode="json"), ensure_ascii=True, indent=2))
        return
    from .report import print_status

    print_status(snapshot)


@cli.command()
@pass_ctx
def agents(obj: Context) -> None:
    """List agent rules and presets, and which processes each one matched."""
    from ..sampler import Sampler
    from .report import print_agents

    settings = obj.settings()
    sampler = Sampler(settings)
    try:
        snapshot = asyncio.run(sampler.tick())
    finally:
        sampler.close()
    print_agents(sampler.agents.matchers, snapshot, obj.config_file)


@cli.command()
@db_option
@click.option("-v", "--verbose", is_flag=True, help="Print a line for every committed batch.")
@pass_ctx
def record(obj: Context, db: Path | None, verbose: bool) -> None:
    """Record snapshots to the history database until SIGTERM or Ctrl+C (headless)."""
    from ..recorder import Recorder, RecorderLock, install_signal_handlers, move_aside_if_corrupt
    from ..store.writer import Batch

    settings = obj.settings()
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

    with RecorderLock(path):
        moved = move_aside_if_corrupt(path)
        if moved:
            click.echo(f"tui-monitor: {moved}", err=True)
        recorder = Recorder(settings, path, on_commit=committed)
        recorder.open()
        click.echo(
            f"recording to {path} (pid {os.getpid()}) every {settings.interval:g}s; "
            "Ctrl+C or SIGTERM stops",
            err=True,
        )
        asyncio.run(go(recorder))
    writer = recorder.queue
    if writer is not None:
        click.echo(f"stopped: {writer.ticks_written} ticks in {writer.batches} batches", err=True)


def main(argv: list[str] | None = None) -> int:
    """Console script: run the CLI and turn every failure into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="tui-monitor", standalone_mode=False)
    except TuiMonitorError as exc:
        click.echo(f"tui-monitor: {exc.prefix}{exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        return 130
    except _NoArgsIsHelp as exc:  # a bare group: its help is what was asked for
        click.echo(exc.format_message())
        return 0
    except click.ClickException as exc:
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            click.echo(exc.ctx.get_usage(), err=True)
        click.echo(f"tui-monitor: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # e.g. `tui-monitor status | head`: not an error
        return 0
    except Exception as exc:
        if os.environ.get("TUI_MONITOR_DEBUG"):
            raise
        click.echo(
            f"tui-monitor: internal error: {type(exc).__name__}: {exc} "
            "(set TUI_MONITOR_DEBUG=1 for the traceback)",
            err=True,
        )
        return EXIT_INTERNAL
    return 0


from .config import config  # noqa: E402
from .db import db  # noqa: E402
from .demo import demo  # noqa: E402
from .emit import emit  # noqa: E402
from .export import export  # noqa: E402
from .tasks import tasks  # noqa: E402

for command in (config, db, demo, emit, export, tasks):
    cli.add_command(command)

if __name__ == "__main__":
    sys.exit(main())
