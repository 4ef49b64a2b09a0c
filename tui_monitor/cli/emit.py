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
@click.option("--agent", required=True, help="The agent the message is about.")
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
@click.option("--cost", "cost_usd", type=click.FloatRange(min=0), help="Usage: cost in USD.")
@click.option("--request-id", help="Usage: counted once however often it is sent.")
@click.option("--pid", type=click.IntRange(min=1), help="The agent's process id.")
@click.option(
    "--socket",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The ingest socket (default: from the config, or $XDG_RUNTIME_DIR/tui-monitor).",
)
@click.argument("message", required=False)
@pass_ctx
def emit(obj: Context, /, type_: str, socket: Path | None, **fields: Any) -> None:
    """Send one message to the running recorder (exit 1 with its reason if refused).

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
    path = socket or obj.settings().ingest.socket_path()
    try:
        send(message, path=path)
    except ClientError as exc:
        raise EmitFailed(str(exc)) from None
