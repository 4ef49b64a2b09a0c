"""What every command shares: the `--config` and `--interval` it was given, and `--db`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

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
