"""The e2e tests' terminal: one private tmux server per test, driven like a person would.

Each test gets its own server (private socket, our own config file, no status line, so the
pane is exactly the size asked for). A shell runs the program and prints its exit status in
the pane when it ends. Teardown kills the server and makes sure the program is gone.

bench/ui.py and bench/ingest.py drive their panes with it too (a subclass with their own
socket names and polling; the program as the pane's own process, its output captured).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import psutil
import pytest

POLL = 0.05
EXIT_MARK = "[tui-monitor e2e: exited with status"


class Tmux:
    """One private tmux server with (at most) one session, driven like a person would."""

    prefix = "tuimon-test"
    """The start of the socket's name, so that `pgrep -af` tells whose server it is."""
    poll = POLL
    reap = False
    """Reap our exited children while waiting: set where this process is a subreaper, so
    that the orphaned servers and programs do not stay behind as zombies."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("tmux")
        if exe is None:
            self.fail("tmux is not installed: `make test` installs it (apt-get install tmux)")
        self.exe = exe
        self.workdir = workdir
        self.socket = f"{self.prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.conf = workdir / "tmux.conf"
        # No status line: the pane is the whole window. No Escape delay.
        self.conf.write_text("set -g status off\nset -g history-limit 0\nset -g escape-time 0\n")
        self.target = "e2e"
        self.pid: int | None = None
        self.server: int | None = None
        self.shell = True
        self.capture: Path | None = None
        """Everything the pane received, when started with `capture`."""
        self.launched = 0.0
        """perf_counter() when the program was let go."""
        self.seen = 0.0
        """perf_counter() when `wait_for` took the screen it returned."""

    def fail(self, message: str) -> NoReturn:
        """A test failure with the screen in it; the bench's subclass raises instead."""
        pytest.fail(message)

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
            self.fail(f"tmux {' '.join(args)[:200]} failed: {proc.stderr.strip()}")
        return proc.stdout

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        size: tuple[int, int],
        *,
        shell: bool = True,
        capture: bool = False,
        unset: Sequence[str] = (),
    ) -> int:
        """Start `argv` (with `env` on top of ours, less `unset`) in a cols x rows pane; returns
        its pid.

        With `shell`, a shell runs it and then prints its exit status, as a person would see
        it. (Not tmux's own `pane_dead_status`: Debian's tmux can miss a SIGCHLD through
        libutempter, tmux/tmux#311, and never learn the status.) Without, the program is the
        pane's own process: nothing else runs in the pane, and `dead()` never answers.

        With `capture`, every byte the pane receives is saved in `self.capture` (tmux
        `pipe-pane`): the program waits (`tmux wait-for`) until the capture runs, so its first
        byte is counted and `self.launched` is when it was let go.
        """
        if self.server is not None and not self.gone(self.server, timeout=5):
            # The last start's server, still exiting after its session went: a new-session
            # sent to it now fails with "server exited unexpectedly".
            self.tmux("kill-server", check=False)
            self.gone(self.server, timeout=5)
        settings = [f"{k}={v}" for k, v in env.items()]
        cols, rows = size
        go = f"go-{uuid.uuid4().hex[:6]}"
        gate = f"{shlex.join([self.exe, '-L', self.socket, 'wait-for', go])} && " if capture else ""
        # The shell stays (until teardown): tmux may drop what a dying pane printed last.
        run = f'"$@"; echo "{EXIT_MARK} $?]"; exec sleep 3600' if shell else 'exec "$@"'
        unsets = [arg for name in ("COLUMNS", "LINES", *unset) for arg in ("-u", name)]
        self.shell = shell
        self.launched = time.perf_counter()
        self.tmux(
            "new-session", "-d", "-s", self.target, "-x", str(cols), "-y", str(rows),
            "--", "sh", "-c", gate + run, "sh", "env", *unsets, *settings, *argv,
        )  # fmt: skip
        self.server = int(self.display("#{pid}"))
        pane = psutil.Process(int(self.display("#{pane_pid}")))
        gates = {self._child(pane)} if capture and shell else set()  # the waiting `tmux`
        if capture:
            self.capture = self.workdir / f"{self.socket}.out"
            self.capture.write_bytes(b"")
            self.tmux(
                "pipe-pane", "-O", "-t", self.target, f"cat >> {shlex.quote(str(self.capture))}"
            )
            self.launched = time.perf_counter()
            self.tmux("wait-for", "-S", go)
        # With the shell, `env` is its child and execs the program; without, the pane's.
        self.pid = self._child(pane, gates) if shell else pane.pid
        return self.pid

    def _child(self, parent: psutil.Process, skip: set[int] | None = None) -> int:
        deadline = time.monotonic() + 10
        while not (children := [c for c in parent.children() if c.pid not in (skip or ())]):
            if time.monotonic() > deadline:
                self.fail(f"the program did not start:\n{self.screen()}")
            time.sleep(0.01)
        return children[0].pid

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

    def written(self) -> int:
        """Bytes the pane has received so far (started with `capture`)."""
        assert self.capture is not None, "started without capture"
        return self.capture.stat().st_size

    def gone(self, pid: int, timeout: float = 0.0) -> bool:
        return gone(pid, timeout, poll=self.poll, reap=self.reap)

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
            self.seen = time.perf_counter()
            found = ok(screen)
            if found:
                return screen, found
            status = self.dead(screen)
            if status is not None:
                self.fail(f"the program exited ({status}) while waiting for {what}:\n{screen}")
            if not self.shell and self.pid is not None and self.gone(self.pid):
                self.fail(f"the program exited while waiting for {what}:\n{screen}")
            if time.monotonic() > deadline:
                self.fail(f"no {what} on screen after {timeout:g}s; screen was:\n{screen}")
            time.sleep(self.poll)

    def time_to(self, ok: Callable[[str], object], what: str, timeout: float = 15.0) -> float:
        """Seconds from the launch until the screen shows `ok` (as first polled)."""
        self.wait_for(ok, what, timeout)
        return self.seen - self.launched

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
                self.fail(f"the program did not exit within {timeout:g}s:\n{self.screen()}")
            time.sleep(self.poll)
        return status

    def close(self) -> None:
        """Kill the server (SIGHUP to the program), then make sure it and the program are gone."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.tmux("kill-server", check=False)
        for pid in (self.pid, self.server):
            if pid is not None and not self.gone(pid, timeout=5):
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).kill()
                if not self.gone(pid, timeout=5):
                    self.fail(f"pid {pid} survived SIGKILL")
        if self.capture is not None:
            self.capture.unlink(missing_ok=True)


def reap_children() -> None:
    """Collect our children that have exited (a subreaper also inherits orphans)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def gone(pid: int, timeout: float = 0.0, *, poll: float = POLL, reap: bool = False) -> bool:
    """True once `pid` has exited (a zombie counts: it runs no more)."""
    deadline = time.monotonic() + timeout
    while True:
        if reap:
            reap_children()
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
