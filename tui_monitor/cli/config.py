"""`tui-monitor config path|show|init`: the config file."""

from __future__ import annotations

from typing import Any

import click
import tomli_w

from .context import Context, pass_ctx

SAMPLE_CONFIG = """\
# tui-monitor configuration. Environment variables override these values:
# TUI_MONITOR_INTERVAL=2, TUI_MONITOR_GPU__TIMEOUT=1, TUI_MONITOR_PRESETS__ENABLED=false.

interval = 1.0                       # seconds between ticks (0.2 - 60)

[presets]
enabled = true                       # find claude, codex, aider, ollama, vllm, ... by themselves
exclude = []                         # e.g. ["ollama"]

[gpu]
enabled = true
timeout = 2.0                        # seconds before an NVML call counts as hung

[mcp]
enabled = true                       # find the MCP servers in each agent's process tree
builtin = true                       # by the usual names: npx @modelcontextprotocol/server-*, ...
patterns = []                        # more: regexes on the command line, a (?P<name>...) group

# One [[agents]] table per agent. A rule matching several separate processes yields
# one agent per process tree: name, name#2, name#3, ...
#
# [[agents]]
# name = "planner"                   # shown in the table; unique
# kind = "worker"                    # free-form label
# cmdline = "python .* -m planner"   # regex searched in the joined command line
# process = "planner"                # or: exact process name
# cwd = "/srv/planner"               # or: working-directory prefix
# user = "svc"                       # optional extra condition
# pidfile = "/run/planner.pid"       # or: the pid in this file

# One [[tasks]] table per task board: a directory of YAML task files that move from
# inbox/ to assigned/<agent>/ to done/<agent>/ (read only, never written).
#
# [[tasks]]
# name = "work"
# root = "~/src/project/tasks"
# archive = "archive"                # optional: archive/YYYY-MM/ folders
"""


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
    click.echo(prices_note(len(settings.prices.root)))
    click.echo(tomli_w.dumps(data), nl=False)


def prices_note(configured: int) -> str:
    """Comment lines saying where usage is priced from, and as of which price data."""
    import textwrap

    from ..cost import builtin

    table = f"{configured} below" if configured else "none set"
    text = (
        "Prices come from, in this order: the agent's own cost_usd; [prices] "
        f"({table}: an exact model name first, then the longest matching pattern); the "
        f"built-in table, {builtin.describe()}. A model none of them knows has unknown cost, "
        "never $0. Usage is priced once, when it is recorded."
    )
    return textwrap.fill(text, width=92, initial_indent="# ", subsequent_indent="# ")


@config.command("init")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@pass_ctx
def config_init(obj: Context, force: bool) -> None:
    """Write a commented sample config file."""
    path = obj.config_file
    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists (use --force to overwrite)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SAMPLE_CONFIG)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
    click.echo(f"wrote {path}")
