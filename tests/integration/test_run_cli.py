"""`tui-monitor run` as a shell runs it: the installed program, real subprocesses, exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "tui-monitor")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, "run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def test_the_agent_is_this_process_and_its_exit_status_is_ours() -> None:
    proc = subprocess.Popen(
        [EXE, "run", "--name", "w", "--", "sh", "-c", 'echo "$$ $TUI_MONITOR_AGENT"; exit 7'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (7, f"{proc.pid} w\n", "")


def test_death_by_a_signal_is_reported_as_such() -> None:
    done = run("--", "sh", "-c", "kill -TERM $$")
    assert done.returncode == -signal.SIGTERM


def test_sigpipe_is_the_agents_default_again() -> None:
    # Python ignores SIGPIPE; an ignored signal would stay ignored across the exec.
    done = run("--", "sh", "-c", "grep SigIgn /proc/$$/status")
    ignored = int(done.stdout.split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1))
    assert not ignored & (1 << (signal.SIGXFSZ - 1))


def test_options_after_the_command_are_the_commands() -> None:
    done = run("sh", "-c", 'echo "$1 $TUI_MONITOR_AGENT"', "sh", "--name")
    assert done.returncode == 0
    assert done.stdout.startswith("--name sh-")


def test_no_command_is_a_usage_error() -> None:
    done = run("--name", "x")
    assert done.returncode == 2
    assert "no command to run" in done.stderr and "Usage:" in done.stderr


@pytest.mark.parametrize("name", ["two words", "x#2", "esc\x1b]0;t\x07", ""])
def test_a_bad_name_is_one_line_and_exit_2(name: str) -> None:
    done = run("--name", name, "--", "true")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("tui-monitor: error: --name")
    assert "\x1b" not in done.stderr


def test_a_missing_command_is_127_in_one_line() -> None:
    done = run("--", "no-such-agent-here", "--flag")
    assert done.returncode == 127
    assert done.stderr == "tui-monitor: run: no-such-agent-here: command not found\n"


def test_a_command_that_cannot_run_is_126(tmp_path: Path) -> None:
    script = tmp_path / "agent"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    done = run("--", str(script))
    assert done.returncode == 126
    assert done.stderr == f"tui-monitor: run: {script}: Permission denied\n"


def test_an_unsafe_token_file_still_starts_the_agent(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("abc\n")
    token.chmod(0o644)
    Path(os.environ["TUI_MONITOR_CONFIG"]).write_text(f'[otlp]\ntoken_file = "{token}"\n')
    claude = tmp_path / "bin" / "claude"
    claude.parent.mkdir()
    claude.write_text('#!/bin/sh\necho "$TUI_MONITOR_AGENT ${OTEL_EXPORTER_OTLP_HEADERS:-none}"\n')
    claude.chmod(0o755)
    done = run("--name", "c", "--", "claude", env={"PATH": f"{claude.parent}:{os.defpath}"})
    assert done.returncode == 0 and done.stdout == "c none\n"
    assert done.stderr.count("\n") == 1 and "telemetry not wired" in done.stderr
    assert "readable by others" in done.stderr


def test_only_agents_that_export_telemetry_make_the_token() -> None:
    token = Path(os.environ["XDG_RUNTIME_DIR"]) / "tui-monitor" / "otlp.token"
    done = run("--", "sh", "-c", "echo ${OTEL_EXPORTER_OTLP_HEADERS:-none}")
    assert done.stdout == "none\n" and not token.exists()


def test_emit_reports_under_the_name_run_gave() -> None:
    missing = Path(os.environ["XDG_RUNTIME_DIR"]) / "nobody.sock"
    done = subprocess.run(
        [EXE, "emit", "--socket", str(missing), "hello"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TUI_MONITOR_AGENT": "from-run"},
    )
    assert done.returncode == 1  # it got as far as the socket: --agent came from the name
    assert "no tui-monitor recorder is listening" in done.stderr


def test_a_config_error_stops_a_telemetry_agent_before_it_starts(tmp_path: Path) -> None:
    Path(os.environ["TUI_MONITOR_CONFIG"]).write_text("[otlp]\nlisten = 'nowhere'\n")
    claude = tmp_path / "bin" / "claude"
    claude.parent.mkdir()
    claude.write_text("#!/bin/sh\necho started\n")
    claude.chmod(0o755)
    done = run("--", "claude", env={"PATH": f"{claude.parent}:{os.defpath}"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("tui-monitor: config error:")
    other = run("--", "sh", "-c", "echo started")  # needs nothing from the config
    assert (other.returncode, other.stdout) == (0, "started\n")


def test_a_hostile_missing_command_is_shown_inert() -> None:
    done = run("--", "agent\x1b]0;owned\x07")
    assert done.returncode == 127
    assert done.stderr == "tui-monitor: run: agent\\x1b]0;owned\\x07: command not found\n"
