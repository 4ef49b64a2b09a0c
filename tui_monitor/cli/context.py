"""What every command shares: the `--config` and `--interval` it was given, and `--db`."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import INTERVAL_MAX, INTERVAL_MIN

if TYPE_CHECKING:
    from ..config import Settings


class Context:
    """The group's options, handed to every command (`ctx.obj`)."""

    def __init__(
        self, config: Path | None, *, named: bool = False, interval: float | None = None
    ) -> None:
        self.config = config
        self.named = named
        """Whether --config named the file (it must exist then), not TUI_MONITOR_CONFIG."""
        self.interval = interval
        """--interval, already checked against the config's bounds; it wins over both."""

    def settings(self) -> Settings:
        from ..config import load_settings

        settings = load_settings(self.config, must_exist=self.named)
        if self.interval is not None:
            settings = settings.model_copy(update={"interval": self.interval})
        return settings

    @property
    def config_file(self) -> Path:
        from ..config import config_path

        return self.config or config_path()


pass_ctx = click.make_pass_decorator(Context)


def db_option(fn: Any) -> Any:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        help="History database (default: history.db in the user data dir; config store.path).",
    )(fn)


def db_path(obj: Context, db: Path | None) -> Path:
    return db or obj.settings().store.db_path()


def _interval(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    """--interval, held to the bounds of the config's `interval` (nan and inf included)."""
    if value is not None and not (math.isfinite(value) and INTERVAL_MIN <= value <= INTERVAL_MAX):
        raise click.BadParameter(
            f"{value:g} is not between {INTERVAL_MIN:g} and {INTERVAL_MAX:g} seconds"
        )
    return value


def interval_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--interval",
        type=float,
        metavar="SECONDS",
        callback=_interval,
        help=f"{help_text} ({INTERVAL_MIN:g}-{INTERVAL_MAX:g}; default: the config's interval).",
    )


def make_dirs(db: Path) -> None:
    """The database's missing directories, created 0700 and named on stderr (one that cannot
    be created is the recorder's to report: `record` exits, the dashboard turns history off)."""
    from ..errors import StoreError
    from ..store.files import make_private_dirs

    try:
        created = make_private_dirs(db.parent)
    except StoreError:
        return
    for directory in created:
        click.echo(f"tui-monitor: created {directory} (mode 0700) for the history", err=True)
