"""`tui-monitor config path|show|init`: the config file."""

from __future__ import annotations

from typing import Any

import click
import tomli_w

from ..config import SAMPLE_CONFIG
from .context import Context, pass_ctx


@click.group()
def config() -> None:
    """Show, locate or create the config file."""


@config.command("path")
@pass_ctx
def config_path_cmd(obj: Context) -> None:
    """Print where the config file is read from."""
    click.echo(str(obj.config_file))


@config.command("show")
@pass_ctx
def config_show(obj: Context) -> None:
    """Print the effective settings (file + environment) as TOML, once they are valid
    (the keymap included: checked against the dashboard's real bindings)."""
    settings = obj.settings()
    if settings.keymap:
        from ..ui.keymap import check_keymap

        check_keymap(settings.keymap, obj.config_file)
    data: dict[str, Any] = settings.model_dump(mode="json", exclude_none=True)
    click.echo(tomli_w.dumps(data), nl=False)


@config.command("init")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@pass_ctx
def config_init(obj: Context, force: bool) -> None:
    """Write a commented sample config file."""
    path = obj.config_file
    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SAMPLE_CONFIG)
    click.echo(f"wrote {path}")
