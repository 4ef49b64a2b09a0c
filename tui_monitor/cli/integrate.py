"""`tui-monitor integrate claude-code|codex [--dry-run] [--uninstall]`: our hooks in the agent's
settings, so its sessions say working / needs input / idle the moment they change.

The editing is otlp/integrate.py's; here: where the files are, the token, the agent's version,
and what is printed (the diff, with the token masked, and where the backup went).
"""

from __future__ import annotations

import difflib
import os
import stat
import subprocess
from pathlib import Path

import click

from .context import Context, pass_ctx

_AGENTS = ("claude-code", "codex")
_MASK = "<hooks token>"


def _claude_settings() -> Path:
    base = os.environ.get("CLAUDE_CONFIG_DIR")
    return (Path(base).expanduser() if base else Path.home() / ".claude") / "settings.json"


def _codex_hooks() -> Path:
    base = os.environ.get("CODEX_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".codex") / "hooks.json"


def _claude_version(given: str | None) -> tuple[int, int, int]:
    from ..otlp.integrate import HTTP_MIN, IntegrateError, version

    text = given
    if text is None:
        try:
            done = subprocess.run(
                ["claude", "--version"], capture_output=True, text=True, timeout=20, check=False
            )
            text = done.stdout
        except (OSError, subprocess.TimeoutExpired):
            text = ""
    have = version(text or "")
    least = ".".join(map(str, HTTP_MIN))
    if have is None:
        raise IntegrateError(
            "cannot tell which Claude Code is installed (`claude --version`): give it with "
            f"--agent-version (HTTP hooks need {least} or later)"
        )
    if have < HTTP_MIN:
        raise IntegrateError(
            f"Claude Code {'.'.join(map(str, have))} runs no HTTP hooks: update it to "
            f"{least} or later"
        )
    return have


def _url(listen: tuple[str, int], agent: str) -> str:
    host, port = listen
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: the agent is on this machine
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/hooks/{agent}"


@click.command()
@click.argument("agent", type=click.Choice(_AGENTS))
@click.option("--dry-run", is_flag=True, help="Print the change; write nothing.")
@click.option("--uninstall", is_flag=True, help="Remove our hooks (and nothing else).")
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to edit (default: $CLAUDE_CONFIG_DIR/settings.json or "
    "~/.claude/settings.json; $CODEX_HOME/hooks.json or ~/.codex/hooks.json).",
)
@click.option(
    "--agent-version",
    metavar="X.Y.Z",
    help="Claude Code's version, when `claude --version` cannot say (it decides which "
    "events are written: a version rejects a settings file naming one it does not know).",
)
@pass_ctx
def integrate(obj: Context, agent: str, dry_run: bool, uninstall: bool,
              settings_file: Path | None, agent_version: str | None) -> None:  # fmt: skip
    """Add tui-monitor's hooks to AGENT's settings (claude-code, codex)."""
    from ..otlp import integrate as edit
    from ..otlp.token import load_token, read_token

    cfg = obj.settings().otlp
    url = _url(cfg.address(), agent)
    token_file = cfg.hooks_token_path()
    endpoint = f"/hooks/{agent}"
    entries = None
    token = ""
    if not uninstall:
        if dry_run:
            token = read_token(token_file) if token_file.exists() else _MASK
        else:
            token = load_token(token_file)
        if agent == "claude-code":
            have = _claude_version(agent_version)
            entries = edit.claude_entries(url, token, token_file, have)
        else:
            entries = edit.codex_entries(url, token_file)
    path = settings_file or (_claude_settings() if agent == "claude-code" else _codex_hooks())
    change = edit.plan(path, endpoint, entries, private=agent == "claude-code")
    was = _mode(path)
    # written before anything is printed: output cut short (`| head`) must not leave the
    # change half done behind an exit status of 0
    backup = edit.write(change) if change.changed and not dry_run else None
    if not change.changed:
        click.echo(f"{path}: no change ({'none of ours' if uninstall else 'ours are there'})")
    else:
        before = (change.before or "").splitlines(keepends=True)
        after = (change.after or "").splitlines(keepends=True)
        for line in difflib.unified_diff(before, after, str(path), str(path)):
            text = line.replace(token, _MASK) if token else line
            click.echo(text, nl=not text.endswith("\n"))
    if dry_run:
        click.echo("dry run: nothing written")
        return
    if change.changed:
        if backup is not None:
            click.echo(f"backed up the old file to {backup}")
        if change.after is None:
            click.echo(f"removed {path} (it held only our hooks)")
        else:
            click.echo(f"wrote {path}")
    if agent == "claude-code" and change.after is not None:
        _private(path, entries is not None, was)
    _notes(agent, uninstall, token_file)


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.resolve().stat().st_mode)
    except OSError:
        return None


def _private(path: Path, holds_token: bool, was: int | None) -> None:
    """The settings file holds the hooks token: readable by its owner only."""
    target = path.resolve()
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        if holds_token and (mode & 0o077 or (was is not None and was & 0o077)):
            os.chmod(target, 0o600)
            click.echo(
                f"made {target} readable by you only (0600, was {oct(was or mode)[2:]}): "
                "it holds the hooks token"
            )
        elif holds_token:
            click.echo(f"{target} holds the hooks token; it is readable by you only (0600)")
    except OSError as exc:
        click.echo(f"warning: {target}: cannot check its permissions: {exc.strerror}", err=True)


def _notes(agent: str, uninstall: bool, token_file: Path) -> None:
    if uninstall:
        return
    if agent == "claude-code":
        click.echo(
            "Claude Code sessions started from now on report their state to the recorder "
            f"(token: {token_file}); undo with `tui-monitor integrate claude-code --uninstall`"
        )
    else:
        click.echo(
            "Codex runs a new hook only once you trust it: open /hooks in Codex and trust "
            "the tui-monitor hooks (Codex before hook trust needs `[features] codex_hooks = "
            "true` in config.toml); undo with `tui-monitor integrate codex --uninstall`"
        )
