"""`tui-monitor emit`: one message to the running recorder, from a shell script."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from .context import Context, pass_ctx

_UNDECODABLE = re.compile("[\udc80-\udcff]")
"""What Python makes of argv bytes that are not UTF-8 (surrogateescape)."""


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


class EmitFailed(click.ClickException):
    """The recorder refused the message or could not be reached: exit 1 with its reason."""

    exit_code = 1


@click.command()
@click.option(
    "--agent",
    required=True,
    envvar="TUI_MONITOR_AGENT",
    help="The agent the message is about (default: $TUI_MONITOR_AGENT, which "
    "`tui-monitor run --name NAME` sets).",
)
@click.option(
    "--type",
    "type_",
    type=click.Choice(["event", "error", "heartbeat", "register", "usage"]),
    default="event",
    show_default=True,
)
@click.option(
    "--level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"]),
    help="Event level (default info).",
)
@click.option("--kind", help="Event kind, or the agent's kind for register.")
@click.option("--data", help="Event data: a JSON object.")
@click.option("--status", help="Heartbeat: the agent's status (e.g. idle, thinking).")
@click.option("--task", help="Heartbeat: what it is working on.")
@click.option("--queue-depth", type=click.IntRange(min=0), help="Heartbeat: items waiting.")
@click.option("--error-type", help="Error: its type (default Error).")
@click.option("--stack", help="Error: the stack trace text.")
@click.option("--model", help="Usage: the model name.")
@click.option("--input-tokens", type=click.IntRange(min=0))
@click.option("--output-tokens", type=click.IntRange(min=0))
@click.option("--cache-read-tokens", type=click.IntRange(min=0))
@click.option("--cache-write-tokens", type=click.IntRange(min=0))
@click.option(
    "--cache-write-1h-tokens",
    type=click.IntRange(min=0),
    help="Usage: the part of the cache writes made with a one-hour TTL.",
)
@click.option("--cost", "cost_usd", type=click.FloatRange(min=0), help="Usage: cost in USD.")
@click.option("--request-id", help="Usage: counted once however often it is sent.")
@click.option("--pid", type=click.IntRange(min=1), help="The agent's process id.")
@click.option(
    "--socket",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The ingest socket (default: from the config, or $XDG_RUNTIME_DIR/tui-monitor).",
)
@click.option(
    "--ack",
    type=click.Choice(["stored", "accepted"]),
    default="stored",
    show_default=True,
    help="Exit 0 once the message is in the history (stored), or as soon as the recorder "
    "has accepted it into memory (accepted: faster; a recorder crash can still lose it).",
)
@click.argument("message", required=False)
@pass_ctx
def emit(obj: Context, /, type_: str, socket: Path | None, ack: str, **fields: Any) -> None:
    """Send one message to the running recorder; exit 0 once it is stored in the history
    (exit 1 with the reason if refused or not stored).

    \b
    tui-monitor emit --agent planner "picked up ticket 42"
    tui-monitor emit --agent planner --type error --error-type Timeout "no reply"
    tui-monitor emit --agent planner --type heartbeat --status busy --queue-depth 3
    """
    from ..client import ClientError, send

    message: dict[str, Any] = {"v": 1, "type": type_}
    if fields.get("data") is not None:
        try:
            fields["data"] = json.loads(fields["data"], parse_constant=_no_constant)
        except (json.JSONDecodeError, ValueError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise click.BadParameter(f"not JSON: {reason}", param_hint="--data") from None
        except RecursionError:
            raise click.BadParameter("nested too deeply", param_hint="--data") from None
    for key, value in fields.items():
        if isinstance(value, str) and _UNDECODABLE.search(value):
            name = "MESSAGE" if key == "message" else f"--{key.replace('_', '-')}"
            raise click.BadParameter("not valid UTF-8", param_hint=name)
    message.update({k: v for k, v in fields.items() if v is not None})
    settings = obj.settings()
    path = socket or settings.ingest.socket_path()
    stored = ack == "stored"
    # A commit comes within an interval (the tick takes it) and a flush interval.
    wait = settings.interval + settings.store.flush_interval + 5.0 if stored else 5.0
    try:
        send(message, path=path, timeout=wait, stored=stored)
    except ClientError as exc:
        raise EmitFailed(str(exc)) from None
