"""`tui-monitor run [--name NAME] -- COMMAND...`: start an agent wired to the recorder.

It prepares the environment (and, for Codex, the arguments: otlp/wiring.py), then *execs* the
command: the agent takes over this very process. So its pid, its terminal, its process group
and its signals are its own (Ctrl+C, Ctrl+Z, a resize, `kill <pid>` reach it exactly as if the
shell had started it), its exit status is the shell's `$?`, and nothing of ours sits between
the keyboard and an interactive agent (no pty to relay, no signals to forward, no process left
waiting). The name reaches the recorder through the environment (collect/launched.py), so
nothing needs to run after the exec, and a recorder started later still names the agent.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import sys
from typing import NoReturn

import click

from ..errors import ServerError, TuiMonitorError
from .context import Context, pass_ctx

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


class BadName(click.ClickException):
    """A --name the recorder could not show as given: exit 2 with one line (a usage error
    would print the usage first)."""

    exit_code = 2


class LaunchFailed(TuiMonitorError):
    """The command could not be executed: 127 when it is not found, 126 when it cannot be
    run (as shells answer)."""

    prefix = "run: "

    def __init__(self, program: str, exc: OSError, found: bool) -> None:
        from ..safe import clean

        missing = isinstance(exc, FileNotFoundError) and not found
        if missing:
            why = "command not found" if "/" not in program else "no such file"
        elif isinstance(exc, FileNotFoundError):  # it is there: its #! interpreter is not
            why = "bad interpreter (the program its #! line names does not exist)"
        else:
            why = exc.strerror or str(exc)
        super().__init__(f"{clean(program, 200)}: {why}")
        self.exit_code = 127 if missing else 126


def default_name(program: str) -> str:
    """The program's name and a short random part: unique among agents running now and
    unlikely to meet an earlier run's in the history (`claude-3fa9c2`)."""
    base = _UNSAFE.sub("", os.path.basename(program))[:64].strip(".") or "agent"
    return f"{base}-{secrets.token_hex(3)}"


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--name",
    metavar="NAME",
    help="The agent's name in the table, the history and its reports (default: the "
    "program's name and a random part, e.g. claude-3fa9c2).",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- COMMAND [ARG]...")
@pass_ctx
def run(obj: Context, name: str | None, command: tuple[str, ...]) -> None:
    """Start an agent wired to the recorder; it takes over this terminal and process.

    Its row carries NAME from the first tick that sees it. Claude Code, Codex and Gemini CLI
    also send their telemetry (tokens, cost, tool use) to the recorder's OTLP receiver; any
    other program gets $TUI_MONITOR_AGENT, which the Python client reports under. Exit
    status, signals and keystrokes are the agent's own; 127 if COMMAND is not found.

    \b
    tui-monitor run -- claude
    tui-monitor run --name reviewer -- codex --model o3
    tui-monitor run --name worker -- python worker.py
    """
    from ..collect.launched import valid_name
    from ..otlp.wiring import family_of, receiver_of, wire

    if not command:
        raise click.UsageError("no command to run: tui-monitor run [--name NAME] -- COMMAND")
    if name is None:
        name = default_name(command[0])
    elif not valid_name(name):
        raise BadName(
            f"--name {name!r}: 1-128 visible characters, no spaces, not ending in #N "
            "(e.g. reviewer, claude-api)"
        )
    receiver = None
    if family_of(command[0]) is not None:  # only these send telemetry: the config is theirs
        settings = obj.settings()  # a config error stops here (exit 2), before the agent
        try:
            receiver = receiver_of(settings)
        except ServerError as exc:  # the agent still starts: only its telemetry stays home
            click.echo(f"tui-monitor: run: telemetry not wired: {exc}", err=True)
    argv, env = wire(command, os.environ, name, receiver)
    launch(argv, env)


def launch(argv: list[str], env: dict[str, str]) -> NoReturn:
    """Become `argv` (PATH searched as a shell would), with `env`; LaunchFailed if it cannot."""
    sys.stdout.flush()
    sys.stderr.flush()
    # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across exec:
    # the agent gets them as a shell would have left them (subprocess does the same).
    ignored = (signal.SIGPIPE, signal.SIGXFSZ)
    previous = {sig: signal.signal(sig, signal.SIG_DFL) for sig in ignored}
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        found = shutil.which(argv[0], path=env.get("PATH", os.defpath)) is not None
        raise LaunchFailed(argv[0], exc, found) from None
