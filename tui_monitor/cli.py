"""Entry points. Every failure is one clear line on stderr and a non-zero exit."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import click
import tomli_w

from . import __version__, startup
from .config import SAMPLE_CONFIG, ConfigError, Settings, config_path, load_settings
from .models import Snapshot
from .recorder import AlreadyRecording
from .store.schema import SchemaError


class _NeverRaised(click.ClickException):
    pass


# click >= 8.2 raises this for a bare group (`tui-monitor`, `tui-monitor config`).
_NoArgsIsHelp: type[click.ClickException] = getattr(
    click.exceptions, "NoArgsIsHelpError", _NeverRaised
)
EXIT_CONFIG = 2
EXIT_INTERNAL = 70


class _Ctx:
    def __init__(self, config: Path | None) -> None:
        self.config = config

    def settings(self) -> Settings:
        return load_settings(self.config)

    @property
    def config_file(self) -> Path:
        return self.config or config_path()


pass_ctx = click.make_pass_decorator(_Ctx)


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
    ctx.obj = _Ctx(config)
    if ctx.invoked_subcommand is None:
        _run_ui(ctx.obj, db, _when(at) if at is not None else None)
        return
    startup.resume()  # the dashboard resumes the collector after its first screen
    if at is not None:
        raise click.UsageError("--at applies to the dashboard (no command), not to a command")


def _when(text: str) -> float:
    from datetime import UTC, datetime

    from .when import parse_when

    try:
        return parse_when(text, datetime.now(UTC)).timestamp()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


def _run_ui(obj: _Ctx, db: Path | None, at: float | None = None) -> None:
    from .source import choose_source
    from .store.queries import History
    from .ui.app import make_app

    settings = obj.settings()
    path = db or settings.store.db_path()
    if at is not None and not path.exists():
        raise click.ClickException(f"no history at {path} to replay (record some first)")
    source = choose_source(settings, path)
    app = make_app(settings, source, History(path), config=obj.config_file, start_at=at)
    app.run()


def _take_snapshot(settings: Settings) -> Snapshot:
    """Two ticks one interval apart, so CPU% and rates are real, not first-tick blanks."""
    from .sampler import Sampler

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
def status(obj: _Ctx, as_json: bool) -> None:
    """Print one snapshot of this machine and its agents, then exit."""
    snapshot = _take_snapshot(obj.settings())
    if as_json:
        click.echo(json.dumps(snapshot.model_dump(mode="json"), ensure_ascii=True, indent=2))
        return
    from .report import print_status

    print_status(snapshot)


@cli.command()
@pass_ctx
def agents(obj: _Ctx) -> None:
    """List agent rules and presets, and which processes each one matched."""
    from .report import print_agents
    from .sampler import Sampler

    settings = obj.settings()
    sampler = Sampler(settings)
    try:
        snapshot = asyncio.run(sampler.tick())
    finally:
        sampler.close()
    print_agents(sampler.agents.matchers, snapshot, obj.config_file)


def _db_option(fn: Any) -> Any:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        help="History database (default: history.db in the user data dir; config store.path).",
    )(fn)


def _db_path(obj: _Ctx, db: Path | None) -> Path:
    return db or obj.settings().store.db_path()


@cli.command()
@_db_option
@click.option("-v", "--verbose", is_flag=True, help="Print a line for every committed batch.")
@pass_ctx
def record(obj: _Ctx, db: Path | None, verbose: bool) -> None:
    """Record snapshots to the history database until SIGTERM or Ctrl+C (headless)."""
    from .recorder import Recorder, RecorderLock, install_signal_handlers, move_aside_if_corrupt
    from .store.writer import Batch

    settings = obj.settings()
    path = _db_path(obj, db)

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
    writer = recorder.writer
    if writer is not None:
        click.echo(f"stopped: {writer.ticks_written} ticks in {writer.batches} batches", err=True)


_UNDECODABLE = re.compile("[\udc80-\udcff]")
"""What Python makes of argv bytes that are not UTF-8 (surrogateescape)."""


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


class EmitFailed(click.ClickException):
    """The recorder refused the message or could not be reached: exit 1 with its reason."""

    exit_code = 1


@cli.command()
@click.option("--agent", required=True, help="The agent the message is about.")
@click.option(
    "--type",
    "type_",
    type=click.Choice(["event", "error", "heartbeat", "register", "usage"]),
    default="event",
    show_default=True,
)
@click.option(
    "--level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"]),
    help="Event level (default info).",
)
@click.option("--kind", help="Event kind, or the agent's kind for register.")
@click.option("--data", help="Event data: a JSON object.")
@click.option("--status", help="Heartbeat: the agent's status (e.g. idle, thinking).")
@click.option("--task", help="Heartbeat: what it is working on.")
@click.option("--queue-depth", type=click.IntRange(min=0), help="Heartbeat: items waiting.")
@click.option("--error-type", help="Error: its type (default Error).")
@click.option("--stack", help="Error: the stack trace text.")
@click.option("--model", help="Usage: the model name.")
@click.option("--input-tokens", type=click.IntRange(min=0))
@click.option("--output-tokens", type=click.IntRange(min=0))
@click.option("--cache-read-tokens", type=click.IntRange(min=0))
@click.option("--cache-write-tokens", type=click.IntRange(min=0))
@click.option("--cost", "cost_usd", type=click.FloatRange(min=0), help="Usage: cost in USD.")
@click.option("--request-id", help="Usage: counted once however often it is sent.")
@click.option("--pid", type=click.IntRange(min=1), help="The agent's process id.")
@click.option(
    "--socket",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The ingest socket (default: from the config, or $XDG_RUNTIME_DIR/tui-monitor).",
)
@click.argument("message", required=False)
@pass_ctx
def emit(obj: _Ctx, /, type_: str, socket: Path | None, **fields: Any) -> None:
    """Send one message to the running recorder (exit 1 with its reason if refused).

    \b
    tui-monitor emit --agent planner "picked up ticket 42"
    tui-monitor emit --agent planner --type error --error-type Timeout "no reply"
    tui-monitor emit --agent planner --type heartbeat --status busy --queue-depth 3
    """
    from .client import ClientError, send

    message: dict[str, Any] = {"v": 1, "type": type_}
    if fields.get("data") is not None:
        try:
            fields["data"] = json.loads(fields["data"], parse_constant=_no_constant)
        except (json.JSONDecodeError, ValueError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise click.BadParameter(f"not JSON: {reason}", param_hint="--data") from None
    for key, value in fields.items():
        if isinstance(value, str) and _UNDECODABLE.search(value):
            name = "MESSAGE" if key == "message" else f"--{key.replace('_', '-')}"
            raise click.BadParameter("not valid UTF-8", param_hint=name)
    message.update({k: v for k, v in fields.items() if v is not None})
    path = socket or obj.settings().ingest.socket_path()
    try:
        send(message, path=path)
    except ClientError as exc:
        raise EmitFailed(str(exc)) from None


@cli.group()
def db() -> None:
    """Inspect, check or prune the history database."""


@db.command("info")
@_db_option
@pass_ctx
def db_info(obj: _Ctx, db: Path | None) -> None:
    """Size, rows per table, time span and who is recording."""
    from .recorder import recorder_pid
    from .report import print_db_info
    from .store.queries import History

    path = _db_path(obj, db)
    print_db_info(History(path).info(), recorder_pid(path))


@db.command("check")
@_db_option
@pass_ctx
def db_check(obj: _Ctx, db: Path | None) -> None:
    """Full integrity check; exit 1 when the file is damaged."""
    from .store.queries import History

    problems = History(_db_path(obj, db)).check(full=True)
    for line in problems:
        click.echo(line)
    if problems != ["ok"]:
        raise SystemExit(1)


@db.command("prune")
@_db_option
@pass_ctx
def db_prune(obj: _Ctx, db: Path | None) -> None:
    """Apply retention now (a running recorder also does this by itself)."""
    import time

    from .recorder import RecorderLock, recorder_pid
    from .store.retention import prune
    from .store.writer import Store

    settings = obj.settings()
    path = _db_path(obj, db)
    if not path.exists():
        raise click.ClickException(f"{path}: no such database")
    pid = recorder_pid(path)
    if pid is not None:
        raise click.ClickException(
            f"a recorder (pid {pid}) is writing {path}; it prunes by itself every "
            f"{settings.store.prune_every:g}s"
        )
    with RecorderLock(path):
        store = Store(path)
        try:
            result = store.run(lambda conn: prune(conn, time.time(), settings.store.retention))
        finally:
            store.close()
    for table, count in result.counts().items():
        click.echo(f"{table}: {count} rows removed")


@cli.group()
def config() -> None:
    """Show, locate or create the config file."""


@config.command("path")
@pass_ctx
def config_path_cmd(obj: _Ctx) -> None:
    """Print where the config file is read from."""
    click.echo(str(obj.config_file))


@config.command("show")
@pass_ctx
def config_show(obj: _Ctx) -> None:
    """Print the effective settings (file + environment) as TOML."""
    data: dict[str, Any] = obj.settings().model_dump(mode="json", exclude_none=True)
    click.echo(tomli_w.dumps(data), nl=False)


@config.command("init")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@pass_ctx
def config_init(obj: _Ctx, force: bool) -> None:
    """Write a commented sample config file."""
    path = obj.config_file
    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SAMPLE_CONFIG)
    click.echo(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    """Console script: run the CLI and turn every failure into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="tui-monitor", standalone_mode=False)
    except ConfigError as exc:
        click.echo(f"tui-monitor: config error: {exc}", err=True)
        return EXIT_CONFIG
    except SchemaError as exc:
        click.echo(f"tui-monitor: {exc}", err=True)
        return EXIT_CONFIG
    except AlreadyRecording as exc:
        click.echo(f"tui-monitor: {exc}", err=True)
        return 1
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


from .cli_demo import demo  # noqa: E402

cli.add_command(demo)

from .cli_export import export  # noqa: E402

cli.add_command(export)

if __name__ == "__main__":
    sys.exit(main())
