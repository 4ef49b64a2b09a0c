"""What `tui-monitor run` puts around an agent so that it reports to this machine's recorder.

Every agent gets $TUI_MONITOR_AGENT (its name: the recorder names the process by it, and our
client library reports under it). The three agents that export OpenTelemetry natively also get
pointed at our receiver, with the bearer token, and their resource names the agent
(`tui_monitor.agent`), each the way its own documentation says:

- Claude Code (monitoring docs): `CLAUDE_CODE_ENABLE_TELEMETRY=1`, `OTEL_LOGS_EXPORTER` and
  `OTEL_METRICS_EXPORTER=otlp`, `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`, the endpoint and
  `OTEL_EXPORTER_OTLP_HEADERS`. Prompts are not asked for (`OTEL_LOG_USER_PROMPTS` unset).
- Codex (docs/config.md "otel", codex-rs config types): `-c otel.exporter={otlp-http={...}}`
  with the logs URL and `protocol="binary"`, and `-c otel.log_user_prompt=false`, right after
  the program name. Not the token: an argument is readable by every local user (`ps`), an
  environment only by ours. Codex's exporter (opentelemetry-otlp) adds the headers of
  `OTEL_EXPORTER_OTLP_HEADERS` to the ones its config names, so the token goes there.
- Gemini CLI (docs/cli/telemetry.md): `GEMINI_TELEMETRY_ENABLED`, `_TARGET=local`,
  `_OTLP_ENDPOINT`, `_OTLP_PROTOCOL=http` (it appends /v1/logs, /v1/metrics itself),
  `_LOG_PROMPTS=false`; the token in `OTEL_EXPORTER_OTLP_HEADERS`, which its OTLP/HTTP
  exporters read.

Signal-specific OTLP variables (`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, `..._HEADERS`, ...) would
win over ours and send the agent elsewhere (or without the token), so a wired agent goes
without them; attributes the user put in `OTEL_RESOURCE_ATTRIBUTES` are kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from ..client import AGENT_ENV
from ..config import Settings
from .token import load_token

Family = Literal["claude-code", "codex", "gemini"]
PROGRAMS: dict[str, Family] = {"claude": "claude-code", "codex": "codex", "gemini": "gemini"}
"""Program basename -> the agent it runs (the presets' names for them)."""
AGENT_ATTRIBUTE = "tui_monitor.agent"
"""The resource attribute that names the agent in its telemetry."""
RESOURCE_ENV = "OTEL_RESOURCE_ATTRIBUTES"
HEADERS_ENV = "OTEL_EXPORTER_OTLP_HEADERS"
_SIGNAL_VARS = tuple(
    f"OTEL_EXPORTER_OTLP_{signal}_{what}"
    for signal in ("LOGS", "METRICS", "TRACES")
    for what in ("ENDPOINT", "HEADERS", "PROTOCOL")
)
_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1"}


@dataclass(frozen=True, slots=True)
class Receiver:
    """Where the agent sends telemetry, and the token that lets it in."""

    endpoint: str
    """Base URL, e.g. http://127.0.0.1:4318 (exporters add /v1/logs, /v1/metrics)."""
    token: str


def receiver_of(settings: Settings) -> Receiver | None:
    """This config's receiver; None with `[otlp] enabled = false`. The token file is made
    (0600) when no recorder has made it yet, so an agent started first is let in by the
    recorder started later. ServerError when the token file is not safe to use."""
    cfg = settings.otlp
    if not cfg.enabled:
        return None
    token = load_token(cfg.token_path(settings.ingest.socket_path()))
    return Receiver(endpoint_url(cfg.listen), token)


def endpoint_url(listen: str) -> str:
    """`[otlp] listen` as a URL to connect to: a wildcard address becomes loopback."""
    host, _, port = listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    host = _WILDCARD.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def family_of(program: str) -> Family | None:
    """The agent a command runs, by its program's basename (as the presets know them)."""
    return PROGRAMS.get(os.path.basename(program))


def resource_attributes(existing: str | None, name: str) -> str:
    """`existing` (the user's `OTEL_RESOURCE_ATTRIBUTES`) with ours naming the agent in place
    of any earlier one; the value percent-encoded as the OTel spec's format requires."""
    kept = [
        part
        for part in (existing or "").split(",")
        if part.strip() and part.partition("=")[0].strip() != AGENT_ATTRIBUTE
    ]
    return ",".join([*kept, f"{AGENT_ATTRIBUTE}={quote(name, safe='')}"])


def wire(
    argv: Sequence[str], environ: Mapping[str, str], name: str, receiver: Receiver | None
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start `argv` as agent `name`, reporting to
    `receiver` when it is an agent that exports telemetry (None: the name only)."""
    env = {AGENT_ENV: name}  # first: the recorder finds it at the head of the environment
    env.update((k, v) for k, v in environ.items() if k != AGENT_ENV)
    args = list(argv)
    family = family_of(args[0]) if args else None
    if receiver is None or family is None:
        return args, env
    for var in _SIGNAL_VARS:
        env.pop(var, None)
    env[HEADERS_ENV] = f"Authorization=Bearer {receiver.token}"
    env[RESOURCE_ENV] = resource_attributes(environ.get(RESOURCE_ENV), name)
    if family == "claude-code":
        env.pop("OTEL_LOG_USER_PROMPTS", None)
        env.update(
            {
                "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
                "OTEL_LOGS_EXPORTER": "otlp",
                "OTEL_METRICS_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            }
        )
    elif family == "codex":
        args[1:1] = codex_overrides(receiver)
    else:
        env.update(
            {
                "GEMINI_TELEMETRY_ENABLED": "true",
                "GEMINI_TELEMETRY_TARGET": "local",
                "GEMINI_TELEMETRY_OTLP_ENDPOINT": receiver.endpoint,
                "GEMINI_TELEMETRY_OTLP_PROTOCOL": "http",
                "GEMINI_TELEMETRY_LOG_PROMPTS": "false",
            }
        )
    return args, env


def codex_overrides(receiver: Receiver) -> list[str]:
    """Codex's `-c` arguments: its log exporter to our receiver (TOML values; no token)."""
    url = f"{receiver.endpoint}/v1/logs"
    exporter = f'{{otlp-http={{endpoint="{url}",protocol="binary"}}}}'
    return ["-c", f"otel.exporter={exporter}", "-c", "otel.log_user_prompt=false"]
