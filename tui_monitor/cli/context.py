"""What every command shares: the `--config` it was given, and the `--db` option."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..config import Settings


class Context:
    """The group's options, handed to every command (`ctx.obj`)."""

    def __init__(self, config: Path | None) -> None:
        self.config = config

    def settings(self) -> Settings:
        from ..config import load_settings

        return load_settings(self.config)

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
