"""End to end: the installed `tui-monitor demo --agents 4` in a real terminal (tmux).

The agents are on screen within seconds of the first frame, with the pids of real processes;
`q`, Ctrl+C, SIGTERM or SIGHUP ends the program and every demo process with it (checked by pid).

Each test gets its own tmux server (private socket, no status line) and its own TMPDIR, so
the demo's workdir, socket and agent command lines carry a path unique to the test.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

POLL = 0.05
EXE = Path(sys.executable).parent / "tui-monitor"
EXIT_MARK = "[tui-monitor demo e2e: exited with status"
AGENT = "tui_monitor.demo.agent"
NAMES = ("planner", "coder-1", "embedder", "indexer")
"""What `--agents 4` starts: a worker, a CPU burster, a memory grower, a spawner."""


def gone(pid: int, timeout: float = 0.0) -> bool:
    """True once `pid` has exited (a zombie counts: it runs no more)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)


def demo_processes(marker: str) -> dict[int, str]:
    """pid -> cmdline of the live demo agents and their children under `marker` (our TMPDIR)."""
    found: dict[int, str] = {}
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        if AGENT in cmdline and marker in cmdline and proc.info["status"] != "zombie":
            found[proc.pid] = cmdline
    return found


class Tmux:
    """One private tmux server with one session; the program runs under a shell that prints
    its exit status (tmux's own pane_dead_status can miss it, tmux/tmux#311)."""

    def __init__(self, tmp_path: Path) -> None:
        exe = shutil.which("tmux")
        if exe is None:
            pytest.fail("tmux is not installed: `make test` installs it (apt-get install tmux)")
        self.exe = exe
        self.socket = f"tuimon-demo-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.conf = tmp_path / "tmux.conf"
        self.conf.write_text("set -g status off\nset -g history-limit 0\nset -g escape-time 0\n")
        self.target = "demo"
        self.pid: int | None = None

    def tmux(self, *args: str, check: bool = True) -> str:
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        proc = subprocess.run(
            [self.exe, "-L", self.socket, "-f", str(self.conf), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=10,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def start(self, argv: list[str], env: Mapping[str, str], size: tuple[int, int]) -> int:
        settings = [f"{k}={v}" for k, v in env.items()]
        cols, rows = size
        script = f'"$@"; echo "{EXIT_MARK} $?]"; exec sleep 3600'
        self.tmux(
            "new-session", "-d", "-s", self.target, "-x", str(cols), "-y", str(rows),
            "--", "sh", "-c", script, "sh", "env", "-u", "COLUMNS", "-u", "LINES",
            *settings, *argv,
        )  # fmt: skip
        shell = psutil.Process(int(self.tmux("display-message", "-p", "#{pane_pid}").strip()))
        deadline = time.monotonic() + 10
        while not (children := shell.children()):
            if time.monotonic() > deadline:
                pytest.fail(f"the program did not start:\n{self.screen()}")
            time.sleep(0.01)
        self.pid = children[0].pid  # `env` execs the program: this is the program's pid
        return self.pid

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.target)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.target, *keys)

    def dead(self, screen: str | None = None) -> int | None:
        found = re.search(rf"{re.escape(EXIT_MARK)} (\d+)\]", screen or self.screen())
        return int(found.group(1)) if found else None

    def wait_for(self, ok: Callable[[str], object], what: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if ok(screen):
                return screen
            status = self.dead(screen)
            if status is not None:
                pytest.fail(f"the program exited ({status}) while waiting for {what}:\n{screen}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} on screen after {timeout:g}s; screen was:\n{screen}")
            time.sleep(POLL)

    def wait_exit(self, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while (status := self.dead()) is None:
            if time.monotonic() > deadline:
                pytest.fail(f"the program did not exit within {timeout:g}s:\n{self.screen()}")
            time.sleep(POLL)
        return status

    def close(self) -> None:
        self.tmux("kill-server", check=False)
        if self.pid is not None and not gone(self.pid, timeout=5):
            with contextlib.suppress(psutil.Error):
                psutil.Process(self.pid).kill()


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    term = Tmux(tmp_path)
    try:
        yield term
    finally:
        term.close()


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
    screen = tmux.wait_for(
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
    assert tmux.wait_exit() == 0, tmux.screen()
    _nothing_left(pid, seen, short_dir)


def test_ctrl_c_quits_and_stops_every_demo_process(tmux: Tmux, short_dir: Path) -> None:
    pid, seen = _start_demo(tmux, short_dir)
    tmux.keys("C-c")
    assert tmux.wait_exit() == 0, tmux.screen()
    _nothing_left(pid, seen, short_dir)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_every_demo_process(
    tmux: Tmux, short_dir: Path, sig: signal.Signals
) -> None:
    """`kill PID`, or SIGHUP as when the SSH connection drops: the fleet goes with it."""
    pid, seen = _start_demo(tmux, short_dir)
    os.kill(pid, sig)
    assert tmux.wait_exit() == 128 + sig, tmux.screen()
    _nothing_left(pid, seen, short_dir)
