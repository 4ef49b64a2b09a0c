"""`tui-monitor run`'s preparation: the environment and arguments each agent gets, the token,
the endpoint, the name rules, and reading the name back out of an environment block."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from tui_monitor.cli.run import default_name
from tui_monitor.client import AGENT_ENV, Reporter
from tui_monitor.collect.launched import is_run, name_in, valid_name
from tui_monitor.config import IngestSettings, OtlpSettings, Settings
from tui_monitor.errors import ServerError
from tui_monitor.models import AgentSample
from tui_monitor.otlp.wiring import (
    Receiver,
    codex_overrides,
    endpoint_url,
    family_of,
    receiver_of,
    resource_attributes,
    wire,
)
from tui_monitor.sessions.join import family_of as row_family

RECEIVER = Receiver("http://127.0.0.1:4318", "tok-EN_123")
USER = {"PATH": "/usr/bin", "HOME": "/home/u", "OTEL_RESOURCE_ATTRIBUTES": "team=infra,x=1"}


def test_claude_code_gets_telemetry_to_us_and_keeps_the_users_attributes() -> None:
    argv, env = wire(["/opt/bin/claude", "--resume"], USER, "reviewer", RECEIVER)
    assert argv == ["/opt/bin/claude", "--resume"]
    assert {k: env[k] for k in env if k not in USER} == {
        AGENT_ENV: "reviewer",
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer tok-EN_123",
    }
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "team=infra,x=1,tui_monitor.agent=reviewer"
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/u"
    assert next(iter(env)) == AGENT_ENV  # first in the block the recorder reads


def test_signal_specific_endpoints_and_prompt_logging_are_dropped() -> None:
    user = {
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "https://elsewhere/v1/logs",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-key=abc",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-key=abc",
        "OTEL_LOG_USER_PROMPTS": "1",
        "OTEL_RESOURCE_ATTRIBUTES": "tui_monitor.agent=old,team=a",
        "TUI_MONITOR_AGENT": "old",
    }
    _, env = wire(["claude"], user, "new", RECEIVER)
    assert "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT" not in env
    assert "OTEL_EXPORTER_OTLP_METRICS_HEADERS" not in env
    assert "OTEL_LOG_USER_PROMPTS" not in env
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == "Authorization=Bearer tok-EN_123"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "team=a,tui_monitor.agent=new"
    assert env[AGENT_ENV] == "new"


def test_codex_gets_its_otel_overrides_after_the_program_and_the_token_in_env() -> None:
    argv, env = wire(["codex", "exec", "fix it"], USER, "cx", RECEIVER)
    assert argv[0] == "codex" and argv[-2:] == ["exec", "fix it"]
    assert argv[1:5] == codex_overrides(RECEIVER)
    overrides = dict(a.split("=", 1) for a in argv[2:5:2])
    # Codex parses each value as TOML: it must be valid, with exactly Codex's shape.
    exporter = tomllib.loads(f"v = {overrides['otel.exporter']}")["v"]
    assert exporter == {
        "otlp-http": {"endpoint": "http://127.0.0.1:4318/v1/logs", "protocol": "binary"}
    }
    assert tomllib.loads(f"v = {overrides['otel.log_user_prompt']}")["v"] is False
    assert "tok-EN_123" not in " ".join(argv)  # arguments are world-readable; env is not
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == "Authorization=Bearer tok-EN_123"
    assert env["OTEL_RESOURCE_ATTRIBUTES"].endswith(",tui_monitor.agent=cx")
    assert "CLAUDE_CODE_ENABLE_TELEMETRY" not in env


def test_gemini_cli_gets_its_telemetry_variables() -> None:
    _, env = wire(["/usr/local/bin/gemini"], {}, "g", RECEIVER)
    assert env["GEMINI_TELEMETRY_ENABLED"] == "true"
    assert env["GEMINI_TELEMETRY_TARGET"] == "local"
    assert env["GEMINI_TELEMETRY_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
    assert env["GEMINI_TELEMETRY_OTLP_PROTOCOL"] == "http"
    assert env["GEMINI_TELEMETRY_LOG_PROMPTS"] == "false"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == "Authorization=Bearer tok-EN_123"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "tui_monitor.agent=g"


@pytest.mark.parametrize("argv", [["python", "worker.py"], ["./claude-wrapper"], ["node"]])
def test_anything_else_gets_the_name_only(argv: list[str]) -> None:
    out, env = wire(argv, USER, "w", RECEIVER)
    assert out == argv
    assert env == {AGENT_ENV: "w", **USER}


def test_without_a_receiver_claude_gets_the_name_only() -> None:
    argv, env = wire(["claude"], USER, "w", None)
    assert argv == ["claude"] and env == {AGENT_ENV: "w", **USER}


def test_family_by_basename() -> None:
    assert family_of("/home/u/.npm/bin/claude") == "claude-code"
    assert family_of("codex") == "codex"
    assert family_of("gemini") == "gemini"
    assert family_of("claude.sh") is None


def test_resource_value_is_percent_encoded() -> None:
    assert resource_attributes(None, "a,b=c") == "tui_monitor.agent=a%2Cb%3Dc"
    assert resource_attributes(" , ", "é") == "tui_monitor.agent=%C3%A9"


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1:4318", "http://127.0.0.1:4318"),
        ("localhost:9", "http://localhost:9"),
        ("0.0.0.0:4318", "http://127.0.0.1:4318"),
        ("[::1]:4318", "http://[::1]:4318"),
        ("[::]:4318", "http://[::1]:4318"),
    ],
)
def test_endpoint_is_somewhere_to_connect_to(listen: str, url: str) -> None:
    assert endpoint_url(listen) == url


def test_the_token_is_made_private_when_no_recorder_made_it(tmp_path: Path) -> None:
    sock = tmp_path / "rt" / "ingest.sock"
    settings = Settings(ingest=IngestSettings(socket=sock))
    receiver = receiver_of(settings)
    assert receiver is not None
    token_file = sock.parent / "otlp.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().strip() == receiver.token
    assert receiver_of(settings) == receiver  # the same token the next time (and the recorder)


def test_an_unsafe_token_file_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "t"
    token_file.write_text("abc\n")
    token_file.chmod(0o644)
    settings = Settings(otlp=OtlpSettings(token_file=token_file))
    with pytest.raises(ServerError, match="readable by others"):
        receiver_of(settings)


def test_otlp_off_means_no_receiver() -> None:
    assert receiver_of(Settings(otlp=OtlpSettings(enabled=False))) is None


@pytest.mark.parametrize("name", ["reviewer", "claude-3fa9c2", "a.b_c+d", "名前", "x#y", "#x"])
def test_valid_names(name: str) -> None:
    assert valid_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "a b", "tab\there", "x#2", "#1", "a\x1bb", "rtl\u202e", "z\u200b", "a\\b", "n" * 129],
)
def test_invalid_names(name: str) -> None:
    assert not valid_name(name)


def test_default_name_is_the_program_and_a_random_part() -> None:
    a, b = default_name("/usr/bin/claude"), default_name("/usr/bin/claude")
    assert a.startswith("claude-") and len(a) == len("claude-") + 6 and a != b
    assert valid_name(a)
    assert default_name("my agent\x1b.sh").startswith("myagent.sh-")
    assert default_name("...").startswith("agent-")
    assert valid_name(default_name("\u202e\t"))


def test_the_name_is_read_from_an_environment_block() -> None:
    assert name_in(b"A=1\0TUI_MONITOR_AGENT=rev\0B=2\0") == "rev"
    assert name_in(b"TUI_MONITOR_AGENT=first\0") == "first"
    assert name_in(b"XTUI_MONITOR_AGENT=no\0") is None
    assert name_in(b"TUI_MONITOR_AGENT=bad name\0") is None
    assert name_in(b"TUI_MONITOR_AGENT=\xff\xfe\0") is None
    assert name_in(b"TUI_MONITOR_AGENT=\0") is None
    assert name_in(b"") is None


@pytest.mark.parametrize(
    ("argv", "ours"),
    [
        (["/v/bin/python", "/v/bin/tui-monitor", "run", "--", "python", "a.py"], True),
        (["python3", "-m", "tui_monitor", "--config", "c", "run", "x"], True),
        (["/v/bin/python", "/v/bin/tui-monitor", "record"], False),
        (["python", "agent.py", "run"], False),
        ([], False),
    ],
)
def test_run_before_its_exec_is_recognised(argv: list[str], ours: bool) -> None:
    assert is_run(argv) is ours


def test_reporter_takes_its_name_from_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AGENT_ENV, "from-run")
    reporter = Reporter(path=Path(os.devnull), register=False)
    try:
        assert reporter.agent == "from-run"
    finally:
        reporter.close(timeout=0)
    monkeypatch.delenv(AGENT_ENV)
    with pytest.raises(ValueError, match="TUI_MONITOR_AGENT"):
        Reporter(register=False)


def test_a_row_run_named_is_still_of_its_agents_family() -> None:
    """Its name is no longer `claude`, so its sessions join it by what it runs."""

    def row(process: str, cmdline: str) -> AgentSample:
        return AgentSample(name="reviewer", kind="coding", source="run", status="idle",
                           pid=1, process=process, cmdline=cmdline)  # fmt: skip

    assert row_family(row("node", "node /usr/local/bin/claude --resume")) == "claude-code"
    assert row_family(row("bun", "bun /home/u/.bun/bin/codex")) == "codex"
    assert row_family(row("claude", "claude")) == "claude-code"
    assert row_family(row("vim", "vim claude")) is None
    assert row_family(row("node", "node server.js")) is None
