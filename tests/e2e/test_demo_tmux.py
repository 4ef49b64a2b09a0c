"""End to end: the installed `tui-monitor demo --agents 4` in a real terminal (tmux).

The agents are on screen within seconds of the first frame, with the pids of real processes;
`q`, Ctrl+C, SIGTERM or SIGHUP ends the program and every demo process with it (checked by pid).

Each test gets its own tmux server (private socket, no status line) and its own TMPDIR, so
the demo's workdir, socket and agent command lines carry a path unique to the test.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
from demo_procs import demo_processes
from tmux_pane import POLL, Tmux, gone

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).parent / "tui-monitor"
NAMES = ("planner", "coder-1", "embedder", "indexer")
"""What `--agents 4` starts: a worker, a CPU burster, a memory grower, a spawner."""


def _pids_on_screen(screen: str) -> dict[str, int]:
    """Agent name -> the pid in its table row (rows without a pid are left out)."""
    pids: dict[str, int] = {}
    for name in NAMES:
        row = re.search(rf"^\s*{re.escape(name)}\s+\S+\s+\S+\s+(\d+)\s", screen, re.MULTILINE)
        if row:
            pids[name] = int(row.group(1))
    return pids


def _start_demo(tmux: Tmux, short_dir: Path) -> tuple[int, dict[int, str]]:
    """Start the demo; wait for every agent on screen with its pid; return the program's pid
    and every demo process (agents and the spawner's children) it started."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "TUI_MONITOR_"))}
    env |= {"TERM": "xterm-256color", "TMPDIR": str(short_dir)}
    pid = tmux.start([str(EXE), "demo", "--agents", "4"], env, (120, 40))
    tmux.wait_for(lambda s: "tui-monitor" in s.partition("\n")[0], "the first frame", 30)
    screen, _ = tmux.wait_for(
        lambda s: len(_pids_on_screen(s)) == len(NAMES), "every demo agent with a pid", 10
    )
    shown = _pids_on_screen(screen)
    seen: dict[int, str] = {}
    deadline = time.monotonic() + 15
    while not any("--child-of indexer" in c for c in seen.values()):
        seen |= demo_processes(str(short_dir))
        if time.monotonic() > deadline:
            pytest.fail(f"the spawn agent started no child: {seen}")
        time.sleep(0.1)
    for name, agent_pid in shown.items():
        assert f"--name {name} " in seen.get(agent_pid, ""), (name, agent_pid, seen)
        assert psutil.Process(agent_pid).ppid() == pid, "the demo itself started the agents"
    return pid, seen


def _nothing_left(pid: int, seen: dict[int, str], short_dir: Path) -> None:
    assert gone(pid, timeout=5), f"the demo (pid {pid}) still runs"
    deadline = time.monotonic() + 5
    while left := [p for p in seen if not gone(p)] + list(demo_processes(str(short_dir))):
        if time.monotonic() > deadline:
            pytest.fail(f"demo processes left behind: {left}")
        time.sleep(POLL)
    assert not list(short_dir.iterdir()), "the demo's temporary workdir is removed"


def test_q_quits_and_stops_every_demo_process(tmux: Tmux, short_dir: Path) -> None:
    pid, seen = _start_demo(tmux, short_dir)
    tmux.keys("q")
    assert tmux.wait_exit(15) == 0, tmux.screen()
    _nothing_left(pid, seen, short_dir)


def test_ctrl_c_quits_and_stops_every_demo_process(tmux: Tmux, short_dir: Path) -> None:
    pid, seen = _start_demo(tmux, short_dir)
    tmux.keys("C-c")
    assert tmux.wait_exit(15) == 0, tmux.screen()
    _nothing_left(pid, seen, short_dir)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_every_demo_process(
    tmux: Tmux, short_dir: Path, sig: signal.Signals
) -> None:
    """`kill PID`, or SIGHUP as when the SSH connection drops: the fleet goes with it."""
    pid, seen = _start_demo(tmux, short_dir)
    os.kill(pid, sig)
    assert tmux.wait_exit(15) == 128 + sig, tmux.screen()
    _nothing_left(pid, seen, short_dir)
