"""`tui-monitor db info|check|prune`: the history database."""

from __future__ import annotations

from pathlib import Path

import click

from .context import Context, db_option, db_path, pass_ctx


@click.group()
def db() -> None:
    """Inspect, check or prune the history database."""


@db.command("info")
@db_option
@pass_ctx
def db_info(obj: Context, db: Path | None) -> None:
    """Size, rows per table, time span and who is recording."""
    from ..store.lock import recorder_pid
    from ..store.queries import History
    from .report import print_db_info

    path = db_path(obj, db)
    print_db_info(History(path).info(), recorder_pid(path))


@db.command("check")
@db_option
@pass_ctx
def db_check(obj: Context, db: Path | None) -> None:
    """Full integrity check; exit 1 when the file is damaged."""
    from ..store.queries import History

    problems = History(db_path(obj, db)).check(full=True)
    for line in problems:
        click.echo(line)
    if problems != ["ok"]:
        raise SystemExit(1)


@db.command("prune")
@db_option
@pass_ctx
def db_prune(obj: Context, db: Path | None) -> None:
    """Apply retention now (a running recorder also does this by itself)."""
    import time

    from ..store.lock import RecorderLock, recorder_pid
    from ..store.retention import prune
    from ..store.writer import Writer

    settings = obj.settings()
    path = db_path(obj, db)
    if not path.exists():
        raise click.ClickException(f"{path}: no such database")
    pid = recorder_pid(path)
    if pid is not None:
        raise click.ClickException(
            f"a recorder (pid {pid}) is writing {path}; it prunes by itself every "
            f"{settings.store.prune_every:g}s"
        )
    with RecorderLock(path):
        store = Writer(path)
        try:
            result = store.run(lambda conn: prune(conn, time.time(), settings.store.retention))
        finally:
            store.close()
    for table, count in result.counts().items():
        click.echo(f"{table}: {count} rows removed")
