"""End to end: `t` and `K` in the installed `tui-monitor`, itself running inside tmux.

The monitor runs in window 0 of a private tmux server (-L); a stand-in agent runs in window 1
under a shell, as a person's agent would. Its agent screen shows the pane's TTY, and `t`
there makes window 1 the active one (tmux itself says so). `K` shows the tree, `t` in the
confirmation sends TERM, and the stand-in's whole tree (a root, two children, two
grandchildren) is gone.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import tomli_w
from tmux_pane import Tmux, gone

from tests.conftest import SpawnAgent

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).parent / "tui-monitor"
AGENTS = Path(__file__).resolve().parents[1] / "agents"
NAME = "standin"


def start_monitor(tmp_path: Path, tmux: Tmux, tag: str, *flags: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps({
        "interval": 0.5,
        "store": {"path": str(tmp_path / "history.db")},
        "presets": {"enabled": False},
        "gpu": {"enabled": False},
        "ingest": {"enabled": False},
        "otlp": {"enabled": False},
        "agents": [{"name": NAME, "kind": "e2e", "cmdline": re.escape(tag)}],
    }))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "TUI_MONITOR_"))}
    env |= {"TERM": "xterm-256color", "TUI_MONITOR_CONFIG": str(config)}
    tmux.start([str(EXE), *flags], env, (120, 36))


def agent_in_window(tmux: Tmux, tag: str) -> int:
    """An idle stand-in under a shell in window 1 (not selected); the stand-in's pid."""
    command = shlex.join([sys.executable, str(AGENTS / "idle.py"), "--tag", tag])
    shell = int(
        tmux.tmux("new-window", "-d", "-t", "e2e:1", "-P", "-F", "#{pane_pid}", command + "; true")
    )
    deadline = time.monotonic() + 10
    while not (kids := psutil.Process(shell).children()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert kids, "the stand-in did not start"
    return kids[0].pid


def test_t_on_the_agent_screen_switches_to_the_window_the_agent_runs_in(
    tmp_path: Path, tmux: Tmux
) -> None:
    tag = f"tuimon-act-{uuid.uuid4().hex[:10]}"
    start_monitor(tmp_path, tmux, tag)
    pid = agent_in_window(tmux, tag)
    shell = psutil.Process(pid).ppid()  # its argv holds the tag too: the agent's root
    tmux.wait_text(NAME, str(shell), timeout=20)
    assert tmux.display("#{window_index}") == "0"
    tmux.keys("Enter")  # the agent screen: its TTY is the pane's
    tmux.wait_text(f"tty {tmux.tmux('display', '-p', '-t', 'e2e:1', '#{pane_tty}').strip()}")
    tmux.keys("t")
    deadline = time.monotonic() + 10
    while tmux.display("#{window_index}") != "1":
        if time.monotonic() > deadline:
            pytest.fail(f"window 1 never became active:\n{tmux.screen()}")
        time.sleep(0.05)
    assert tmux.display("#{pane_pid}") != ""  # the agent's pane is the one shown now
    assert psutil.Process(pid).is_running()


def test_k_with_confirmation_ends_the_whole_tree(
    tmp_path: Path, tmux: Tmux, spawn_agent: SpawnAgent
) -> None:
    tag = f"tuimon-act-{uuid.uuid4().hex[:10]}"
    family = spawn_agent("family", tag=tag)
    pids = [family.pid, *map(int, family.ready_fields[2:])]
    start_monitor(tmp_path, tmux, tag)
    tmux.wait_text(NAME, str(family.pid), timeout=20)
    tmux.keys("K")
    screen = tmux.wait_text("and its whole process tree?", f"pid {family.pid}")
    assert re.search(r"children\s+4", screen), screen
    tmux.keys("t")
    # The toast wraps: "... and its tree (5 processes): 5 | ended".
    tmux.wait_for(lambda s: "(5 processes): 5 ended" in re.sub(r"[\s│▌]+", " ", s), "report")
    family.proc.wait(5)  # our child: reaped here; the others were reparented and reaped
    for pid in pids:
        assert gone(pid, timeout=5), f"pid {pid} survived"


def test_read_only_says_so_and_sends_nothing(
    tmp_path: Path, tmux: Tmux, spawn_agent: SpawnAgent
) -> None:
    tag = f"tuimon-act-{uuid.uuid4().hex[:10]}"
    family = spawn_agent("family", tag=tag)
    start_monitor(tmp_path, tmux, tag, "--read-only")
    tmux.wait_text(NAME, str(family.pid), timeout=20)
    tmux.keys("K")
    tmux.wait_text("read-only")
    assert "whole process tree" not in tmux.screen()
    assert psutil.Process(family.pid).is_running()
