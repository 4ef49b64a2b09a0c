"""The command group: the dashboard (no command), `status`, `agents`, `record`, and `main`,
which turns every failure into one clear line on stderr and a non-zero exit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from ..config import Settings
from ..errors import TuiMonitorError
from ..models import Snapshot
from . import startup
from .context import Context, db_option, db_path, interval_option, make_dirs, pass_ctx

if TYPE_CHECKING:
    from ..ui.app import MonitorApp


class _NeverRaised(click.ClickException):
    pass


# click >= 8.2 raises this for a bare group (`tui-monitor`, `tui-monitor config`).
_NoArgsIsHelp: type[click.ClickException] = getattr(
    click.exceptions, "NoArgsIsHelpError", _NeverRaised
)
EXIT_CONFIG = 2
EXIT_INTERNAL = 70


class _PipeClosed(Exception):
    """A BrokenPipeError on its way to `main`: click's own handler would exit 1 in silence."""


class _Commands(click.Group):
    """The command group; every command runs inside its `invoke`."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _PipeClosed() from exc


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=True,
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="TUI_MONITOR_CONFIG",
    help="Config file (default: the platform config dir; env TUI_MONITOR_CONFIG). Named "
    "with --config it must exist; `config init` writes one.",
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
@click.option(
    "--read-only",
    "read_only",
    is_flag=True,
    help="Dashboard: no actions (t, K say read-only); config [ui] read_only does the same.",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="NAME",
    help="Dashboard: show this machine's agents too, over ssh (repeat for more; a [[hosts]] "
    "entry of that name, else NAME is the ssh destination). Default: every [[hosts]] entry.",
)
@click.option(
    "--follow-only",
    "follow_only",
    is_flag=True,
    help="Dashboard: only follow a `record`'s database, never record or take over (serve).",
)
@interval_option("Seconds between ticks, for the dashboard and any command")
@click.version_option(__version__, prog_name="tui-monitor")
@click.pass_context
def cli(
    ctx: click.Context,
    config: Path | None,
    db: Path | None,
    at: str | None,
    read_only: bool,
    hosts: tuple[str, ...],
    follow_only: bool,
    interval: float | None,
) -> None:
    """A terminal monitor for fleets of AI agents.

    Without a command: the dashboard. It records history itself, or, when a
    `tui-monitor record` is already writing the database, follows it read-only.
    """
    named = ctx.get_parameter_source("config") == click.core.ParameterSource.COMMANDLINE
    ctx.obj = Context(config, named=named, interval=interval)
    if ctx.invoked_subcommand is None:
        when = _when(at) if at is not None else None
        _run_ui(ctx.obj, db, when, read_only, hosts, follow_only)
        return
    startup.resume()  # the dashboard resumes the collector after its first screen
    if at is not None:
        raise click.UsageError("--at applies to the dashboard (no command), not to a command")
    if read_only:
        raise click.UsageError("--read-only applies to the dashboard (no command)")
    if hosts:
        raise click.UsageError("--host applies to the dashboard (no command)")
    if follow_only:
        raise click.UsageError("--follow-only applies to the dashboard (no command)")


def _when(text: str) -> float:
    from datetime import UTC, datetime

    from ..when import parse_when

    try:
        return parse_when(text, datetime.now(UTC)).timestamp()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


def _run_ui(
    obj: Context,
    db: Path | None,
    at: float | None = None,
    read_only: bool = False,
    hosts: tuple[str, ...] = (),
    follow_only: bool = False,
) -> None:
    from ..source import choose_source
    from ..store.queries import History
    from ..ui.app import make_app

    settings = obj.settings()
    if read_only:
        ui = settings.ui.model_copy(update={"read_only": True})
        settings = settings.model_copy(update={"ui": ui})
    if hosts:
        from pydantic import ValidationError

        from ..fleet.settings import choose_hosts

        try:
            chosen = choose_hosts(settings.hosts, hosts)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise click.BadParameter(msg, param_hint="--host") from None
        settings = settings.model_copy(update={"hosts": chosen})
    path = db or settings.store.db_path()
    if at is not None and not path.exists():
        raise click.ClickException(f"no history at {path} to replay (record some first)")
    make_dirs(path)
    from ..fleet_source import with_fleet

    source = with_fleet(settings, choose_source(settings, path, follow_only))
    app = make_app(
        settings,
        source,
        History(path),
        config=obj.config_file,
        start_at=at,
        on_first_screen=startup.resume,  # the dashboard resumes the collector once painted
    )
    with quit_on_signals(app):
        app.run()


QUIT_GRACE = 5.0
"""Seconds the dashboard has to close after SIGTERM/SIGHUP before the process just exits."""


@contextlib.contextmanager
def quit_on_signals(app: MonitorApp) -> Iterator[None]:
    """SIGTERM and SIGHUP (the terminal or the SSH session went away) quit the dashboard as
    `q` does: the recorder writes what it holds, the database and the socket are closed and
    removed. A hung-up terminal can keep it from closing: after QUIT_GRACE it just exits."""
    import signal
    import threading

    def on_signal(signum: int, frame: FrameType | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the dashboard's loop: unwind through the finally
            raise SystemExit(128 + signum) from None
        loop.call_soon_threadsafe(app.call_later, app.action_quit)
        timer = threading.Timer(QUIT_GRACE, os._exit, (128 + signum,))
        timer.daemon = True
        timer.start()

    signals = (signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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


def _status_snapshot(settings: Settings, db: Path) -> tuple[Snapshot, dict[str, Any]]:
    """What a recorder running on `db` last wrote (what agents reported, their cost); a
    fresh sample where none runs (or its history cannot be read). And which one it is."""
    import sqlite3

    from ..errors import SchemaError
    from ..source import recorded_snapshot
    from ..store.lock import recorder_pid

    pid = recorder_pid(db)
    if pid is not None:
        try:
            snap = recorded_snapshot(db, settings.budgets)
        except (sqlite3.Error, SchemaError, OSError) as exc:
            note = f"the recorder's history cannot be read: {exc}"
        else:
            if snap is not None:
                return snap, {"from": "recorder", "pid": pid, "db": str(db)}
            note = "the recorder has written no tick yet"
        return _take_snapshot(settings), {"from": "sampled", "note": note}
    return _take_snapshot(settings), {"from": "sampled", "note": f"no recorder runs on {db}"}


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot as JSON.")
@db_option
@pass_ctx
def status(obj: Context, as_json: bool, db: Path | None) -> None:
    """Print one snapshot of this machine and its agents, then exit.

    While a recorder runs on the database, its newest tick (with what agents reported and
    their cost); else a sample taken now.
    """
    snapshot, origin = _status_snapshot(obj.settings(), db_path(obj, db))
    if as_json:
        doc = {"source": origin, **snapshot.model_dump(mode="json")}
        click.echo(json.dumps(doc, ensure_ascii=True, indent=2))
        return
    from .report import print_status

    print_status(snapshot, origin)


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


def main(argv: list[str] | None = None) -> int:
    """Console script: run the CLI and turn every failure into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="tui-monitor", standalone_mode=False)
        sys.stdout.flush()  # a reader gone by now is met here, not at interpreter exit
    except (_PipeClosed, BrokenPipeError) as exc:
        if not _stdout_gone():  # a socket or a child's pipe: a real failure
            cause = exc.__cause__ if isinstance(exc, _PipeClosed) else exc
            return _internal(cause or exc)
        # e.g. `tui-monitor export events -o - | head`: what was asked for has been read
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
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
    except Exception as exc:
        if os.environ.get("TUI_MONITOR_DEBUG"):
            raise
        return _internal(exc)
    return 0


def _internal(exc: BaseException) -> int:
    click.echo(
        f"tui-monitor: internal error: {type(exc).__name__}: {exc} "
        "(set TUI_MONITOR_DEBUG=1 for the traceback)",
        err=True,
    )
    return EXIT_INTERNAL


def _stdout_gone() -> bool:
    """Whether stdout is a pipe or socket whose reader has left (poll reports an error or a
    hang-up on it), as opposed to another pipe that broke."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return False
    poller = select.poll()
    poller.register(fd, 0)  # POLLERR and POLLHUP are reported whatever is asked for
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))


from .config import config  # noqa: E402
from .db import db  # noqa: E402
from .demo import demo  # noqa: E402
from .emit import emit  # noqa: E402
from .export import export  # noqa: E402
from .integrate import integrate  # noqa: E402
from .record import record  # noqa: E402
from .run import run  # noqa: E402
from .serve import serve  # noqa: E402
from .sessions import sessions  # noqa: E402
from .stream import stream  # noqa: E402
from .tasks import tasks  # noqa: E402

for command in (
    config, db, demo, emit, export, integrate, record, run, serve, sessions, stream, tasks
):  # fmt: skip
    cli.add_command(command)

if __name__ == "__main__":
    sys.exit(main())
