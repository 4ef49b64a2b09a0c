"""`tui-monitor serve`: the dashboard in a browser (web/), read-only, loopback by default."""

from __future__ import annotations

import asyncio
import logging
import shlex
import signal
import sys
from pathlib import Path

import click

from ..listen import is_loopback
from .context import Context, db_option, db_path, pass_ctx

DEFAULT_SESSIONS = 4
MAX_SESSIONS = 32
PUBLIC_RISK = (
    "tui-monitor serve: --public: {where} can be reached from other machines. Anyone who "
    "has the token (it is in the URL below) sees every agent here, its command line, paths, "
    "errors and cost, and drives a read-only dashboard. This is plain HTTP: the token and "
    "every screen cross the network unencrypted, for anyone on the path to read and reuse. "
    "Prefer the default, loopback, and reach it through SSH: "
    "ssh -L {port}:127.0.0.1:{port} THIS-HOST (docs/serve.md)."
)


class _Refused(click.ClickException):
    exit_code = 2


def url_for(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def app_command(obj: Context, db: Path) -> str:
    """Each session's process: this dashboard, read-only, following `db` and never recording;
    `exec` so that the shell textual-serve starts it with is the app itself (signals reach it)."""
    argv = [sys.executable, "-m", "tui_monitor.cli"]
    if obj.config is not None and obj.named:
        argv += ["--config", str(obj.config)]  # TUI_MONITOR_CONFIG reaches it in the env
    if obj.interval is not None:
        argv += ["--interval", repr(obj.interval)]
    argv += ["--db", str(db), "--read-only", "--follow-only"]
    return "exec " + shlex.join(argv)


class _OneLine(logging.Formatter):
    """textual-serve logs some failures with a traceback; ours are one line each."""

    def formatException(self, ei: object) -> str:
        return ""

    def format(self, record: logging.LogRecord) -> str:
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return super().format(record)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port."
)
@click.option(
    "--public",
    is_flag=True,
    help="Allow a --host that is not loopback (prints the risk; read docs/serve.md).",
)
@click.option(
    "--max-sessions",
    type=click.IntRange(1, MAX_SESSIONS),
    default=DEFAULT_SESSIONS,
    show_default=True,
    help="Browser pages open at once (each is one dashboard process).",
)
@db_option
@pass_ctx
def serve(
    obj: Context, host: str, port: int, public: bool, max_sessions: int, db: Path | None
) -> None:
    """Show the dashboard in a browser: read-only, following `tui-monitor record`.

    Prints a URL with a random token; only requests that bring it are served. Ctrl+C or
    SIGTERM stops it and every session.
    """
    if not is_loopback(host) and not public:
        raise _Refused(f"--host {host} is not a loopback address; add --public to listen there")
    obj.settings()  # a bad config is one line here, not a broken page per browser
    path = db_path(obj, db).absolute()
    from ..store.lock import recorder_pid
    from ..web.auth import new_token
    from ..web.server import DashboardServer

    handler = logging.StreamHandler()
    handler.setFormatter(_OneLine("tui-monitor serve: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    if public and not is_loopback(host):
        click.echo(PUBLIC_RISK.format(where=f"{host}:{port}", port=port), err=True)
    if recorder_pid(path) is None:
        click.echo(
            f"tui-monitor serve: no recorder runs on {path}; the pages say so until "
            "`tui-monitor record` does",
            err=True,
        )
    token = new_token()
    server = DashboardServer(
        app_command(obj, path), host, port, token=token, max_sessions=max_sessions
    )

    def ready() -> None:
        click.echo(
            f"serving the dashboard (read-only, at most {max_sessions} sessions) at\n"
            f"    {url_for(host, port, token)}\nCtrl+C or SIGTERM stops it",
            err=True,
        )

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        await server.run(stop, ready)

    asyncio.run(go())
    click.echo(f"stopped: {server.started} sessions served", err=True)
