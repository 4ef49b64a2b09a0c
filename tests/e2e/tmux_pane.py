"""The e2e tests' terminal: one private tmux server per test, driven like a person would.

Each test gets its own server (private socket, our own config file, no status line, so the
pane is exactly the size asked for). A shell runs the program and prints its exit status in
the pane when it ends. Teardown kills the server and makes sure the program is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import psutil
import pytest

POLL = 0.05
EXIT_MARK = "[tui-monitor e2e: exited with status"


class Tmux:
    """One private tmux server with (at most) one session, driven like a person would."""

    def __init__(self, tmp_path: Path) -> None:
        exe = shutil.which("tmux")
        if exe is None:
            pytest.fail("tmux is not installed: `make test` installs it (apt-get install tmux)")
        self.exe = exe
        self.socket = f"tuimon-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.conf = tmp_path / "tmux.conf"
        # No status line: the pane is the whole window. No Escape delay.
        self.conf.write_text("set -g status off\nset -g history-limit 0\nset -g escape-time 0\n")
        self.target = "e2e"
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
        """Start `argv` (with `env` on top of ours) in a cols x rows pane; returns its pid.

        A shell runs it and then prints its exit status, as a person would see it. (Not
        tmux's own `pane_dead_status`: Debian's tmux can miss a SIGCHLD through libutempter,
        tmux/tmux#311, and never learn the status.)
        """
        settings = [f"{k}={v}" for k, v in env.items()]
        cols, rows = size
        # The shell stays (until teardown): tmux may drop what a dying pane printed last.
        script = f'"$@"; echo "{EXIT_MARK} $?]"; exec sleep 3600'
        self.tmux(
            "new-session", "-d", "-s", self.target, "-x", str(cols), "-y", str(rows),
            "--", "sh", "-c", script, "sh", "env", "-u", "COLUMNS", "-u", "LINES",
            *settings, *argv,
        )  # fmt: skip
        shell = psutil.Process(int(self.display("#{pane_pid}")))
        deadline = time.monotonic() + 10
        while not (children := shell.children()):
            if time.monotonic() > deadline:
                pytest.fail(f"the program did not start:\n{self.screen()}")
            time.sleep(0.01)
        self.pid = children[0].pid  # `env` execs the program: this is the program's pid
        return self.pid

    def display(self, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", self.target, fmt).strip()

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.target)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.target, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.target, "-l", "--", text)

    def resize(self, cols: int, rows: int) -> None:
        self.tmux("resize-window", "-t", self.target, "-x", str(cols), "-y", str(rows))

    def size(self) -> tuple[int, int]:
        cols, rows = self.display("#{pane_width} #{pane_height}").split()
        return int(cols), int(rows)

    def dead(self, screen: str | None = None) -> int | None:
        """The program's exit status once the shell has printed it, else None."""
        found = re.search(rf"{re.escape(EXIT_MARK)} (\d+)\]", screen or self.screen())
        return int(found.group(1)) if found else None

    def wait_for(
        self, ok: Callable[[str], object], what: str, timeout: float = 15.0
    ) -> tuple[str, object]:
        """Poll the screen until `ok(screen)` is truthy; fail with the last screen if not."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            found = ok(screen)
            if found:
                return screen, found
            status = self.dead(screen)
            if status is not None:
                pytest.fail(f"the program exited ({status}) while waiting for {what}:\n{screen}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} on screen after {timeout:g}s; screen was:\n{screen}")
            time.sleep(POLL)

    def wait_text(self, *texts: str, timeout: float = 15.0) -> str:
        """Wait until every one of `texts` is on screen."""
        screen, _ = self.wait_for(
            lambda s: all(t in s for t in texts), " and ".join(map(repr, texts)), timeout
        )
        return screen

    def wait_exit(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while (status := self.dead()) is None:
            if time.monotonic() > deadline:
                pytest.fail(f"the program did not exit within {timeout:g}s:\n{self.screen()}")
            time.sleep(POLL)
        return status

    def close(self) -> None:
        """Kill the server (SIGHUP to the program), then make sure the program is gone."""
        self.tmux("kill-server", check=False)
        if self.pid is not None and not gone(self.pid, timeout=5):
            with contextlib.suppress(psutil.Error):
                psutil.Process(self.pid).kill()
            assert gone(self.pid, timeout=5), f"pid {self.pid} survived SIGKILL"


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
