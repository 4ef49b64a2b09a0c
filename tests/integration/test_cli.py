"""The real `tui-monitor` console script, run as a subprocess against real test agents."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import SpawnAgent

MiB = 1024 * 1024


def tui_monitor() -> list[str]:
    exe = Path(sys.executable).parent / "tui-monitor"
    return [str(exe)] if exe.exists() else [shutil.which("tui-monitor") or "tui-monitor"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*tui_monitor(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )


def write_config(text: str) -> Path:
    path = Path(os.environ["TUI_MONITOR_CONFIG"])
    path.write_text(text)
    return path


def test_status_json_shows_real_agents_from_config(spawn_agent: SpawnAgent) -> None:
    busy = spawn_agent("busy")
    alloc = spawn_agent("alloc")
    write_config(
        "interval = 0.5\n"
        f'[[agents]]\nname = "burner"\nkind = "worker"\ncmdline = "{busy.tag}"\n'
        f'[[agents]]\nname = "hog"\ncmdline = "{alloc.tag}"\n'
        '[[agents]]\nname = "absent"\nprocess = "no-such-program"\n'
    )
    out = run("status", "--json")
    assert out.returncode == 0, out.stderr
    snap = json.loads(out.stdout)
    agents = {a["name"]: a for a in snap["agents"]}
    assert agents["burner"]["pid"] == busy.pid
    assert agents["burner"]["kind"] == "worker"
    assert agents["burner"]["status"] == "running"
    assert agents["burner"]["cpu_utilization"] > 50  # real CPU over one real interval
    assert agents["hog"]["pid"] == alloc.pid
    assert agents["hog"]["ram_used"] >= 200 * MiB
    assert agents["absent"]["status"] == "exited" and agents["absent"]["pid"] is None
    assert snap["host"]["cpu_utilization"] is not None  # the second tick, not the blank first
    assert snap["host"]["ram_total"] > 0
    assert snap["gpu"]["available"] is False  # no GPU or driver on the test machines
    assert snap["gpu"]["reason"]
    assert snap["seq"] == 2 and snap["interval"] == 0.5
    assert out.stdout.isascii()


def test_status_table_is_readable(spawn_agent: SpawnAgent) -> None:
    idle = spawn_agent("idle")
    write_config(f'interval = 0.2\n[[agents]]\nname = "sleepy"\ncmdline = "{idle.tag}"\n')
    out = run("status")
    assert out.returncode == 0, out.stderr
    assert "Agents (1)" in out.stdout
    line = next(line for line in out.stdout.splitlines() if line.startswith("sleepy"))
    assert "idle" in line and str(idle.pid) in line
    assert "unavailable:" in out.stdout  # the GPU line says why


def test_status_without_agents_says_how_to_add_one() -> None:
    write_config("interval = 0.2\n[presets]\nenabled = false\n")
    out = run("status")
    assert out.returncode == 0, out.stderr
    assert "No agents found" in out.stdout and "config init" in out.stdout


def test_agents_lists_rules_presets_and_matches(spawn_agent: SpawnAgent) -> None:
    tag = f"tuimon-pair-{uuid.uuid4().hex[:8]}"  # not matched by another run's agents
    a = spawn_agent("idle", tag=tag)
    b = spawn_agent("idle", tag=tag)
    write_config(f'[[agents]]\nname = "pair"\ncmdline = "{tag}"\n')
    out = run("agents")
    assert out.returncode == 0, out.stderr
    assert f"pair {a.pid}" in out.stdout and f"pair#2 {b.pid}" in out.stdout
    for preset in ("claude", "codex", "aider", "gemini", "opencode", "goose", "ollama", "vllm"):
        assert preset in out.stdout
    assert "llama-server" in out.stdout


def test_hostile_cmdline_is_escaped_in_the_table(spawn_agent: SpawnAgent) -> None:
    evil = spawn_agent("hostile", "\x1b]0;pwned\x07[@click=app.quit][/]", "x" * 100_000)
    write_config(f'interval = 0.2\n[[agents]]\nname = "evil"\ncmdline = "{evil.tag}"\n')
    out = run("status")
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout
    row = next(line for line in out.stdout.splitlines() if line.startswith("evil"))
    assert "\\x1b" in row
    js = run("status", "--json")
    agent = next(a for a in json.loads(js.stdout)["agents"] if a["name"] == "evil")
    assert "[@click=app.quit][/]" in agent["cmdline"] and "\\x1b]0;pwned\\x07" in agent["cmdline"]
    assert len(agent["cmdline"]) <= 2048


def test_config_path_init_show(tmp_path: Path) -> None:
    path = Path(os.environ["TUI_MONITOR_CONFIG"])
    assert run("config", "path").stdout.strip() == str(path)
    out = run("config", "init")
    assert out.returncode == 0 and path.exists()
    again = run("config", "init")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert run("config", "init", "--force").returncode == 0
    shown = run("config", "show")
    assert shown.returncode == 0, shown.stderr
    assert tomllib.loads(shown.stdout)["interval"] == 1.0
    other = tmp_path / "other.toml"
    other.write_text("interval = 3\n")
    assert tomllib.loads(run("--config", str(other), "config", "show").stdout)["interval"] == 3.0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[agents]]\nname = "x"\ncmdline = "(["\n', "agents[0].cmdline: invalid regular"),
        ("interval = 100\n", "interval: Input should be less than or equal to 60"),
        ("[[agents]\n", "invalid TOML"),
    ],
)
def test_invalid_config_is_one_line_and_exit_2(text: str, needle: str) -> None:
    path = write_config(text)
    for args in (("status",), ("agents",), ("config", "show")):
        out = run(*args)
        assert out.returncode == 2
        assert out.stdout == ""
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, out.stderr
        assert lines[0].startswith(f"tui-monitor: config error: {path}: ")
        assert needle in lines[0]


def test_bad_env_override_is_one_line() -> None:
    os.environ["TUI_MONITOR_INTERVAL"] = "soon"
    try:
        out = run("status")
    finally:
        del os.environ["TUI_MONITOR_INTERVAL"]
    assert out.returncode == 2
    assert out.stderr.strip().startswith("tui-monitor: config error: environment")
    assert "Traceback" not in out.stderr


def test_usage_errors_and_help() -> None:
    for args in ((), ("status",), ("agents",), ("config",), ("config", "init")):
        out = run(*args, "--help")
        assert out.returncode == 0 and "Usage:" in out.stdout
    bad = run("status", "--bogus")
    assert bad.returncode == 2
    assert "No such option '--bogus'" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert run("nosuchcommand").returncode == 2
    bare = run("config")  # a bare group prints its help, not an error
    assert bare.returncode == 0 and "Usage:" in bare.stdout and bare.stderr == ""
    assert run("--version").stdout.startswith("tui-monitor, version")


def test_output_into_a_closed_pipe_is_not_an_error() -> None:
    write_config("interval = 0.2\n")
    proc = subprocess.run(
        f"{tui_monitor()[0]} agents | head -c 10 >/dev/null",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr


def test_at_needs_a_time_it_can_read_and_a_history(tmp_path: Path) -> None:
    bad = run("--db", str(tmp_path / "h.db"), "--at", "half past")
    assert bad.returncode == 2
    assert "--at" in bad.stderr and "half past" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = run("--db", str(tmp_path / "h.db"), "--at", "10m")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1].endswith("to replay (record some first)")
    wrong = run("--at", "10m", "status")
    assert wrong.returncode == 2 and "--at applies to the dashboard" in wrong.stderr
