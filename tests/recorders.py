"""A real `tui-monitor record` subprocess, for tests that attach to it or report to it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT = 20.0


def tui_monitor() -> str:
    """The console script of this environment."""
    return str(Path(sys.executable).parent / "tui-monitor")


def write_config(
    path: Path, sock: Path, *, interval: float = 0.2, flush: float = 0.1, extra: str = ""
) -> Path:
    """A private config: no presets, no GPU, our own socket (the recorder and the apps
    under test read the same file)."""
    path.write_text(
        f"interval = {interval}\n"
        "[presets]\nenabled = false\n"
        "[gpu]\nenabled = false\n"
        f"[store]\nflush_interval = {flush}\n"
        f"[ingest]\nsocket = {json.dumps(str(sock))}\n" + extra
    )
    return path


@dataclass
class RecorderProcess:
    proc: subprocess.Popen[bytes]
    db: Path
    sock: Path
    stderr: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr_text(self) -> str:
        return self.stderr.read_text("utf-8", "replace")

    def ticks(self) -> int:
        """The id of the newest committed tick (0 before the first)."""
        with contextlib.closing(
            sqlite3.connect(f"{self.db.resolve().as_uri()}?mode=ro", uri=True)
        ) as conn:
            try:
                return int(conn.execute("SELECT coalesce(max(id), 0) FROM ticks").fetchone()[0])
            except sqlite3.OperationalError:  # not created yet
                return 0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig`, wait for the exit (SIGKILL after `timeout`); the exit code."""
        return stop_process(self.proc, sig, timeout)


def stop_process(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> int:
    """Send `sig` to a process started in its own session, wait for its exit (SIGKILL to its
    group after `timeout`); its exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
    return proc.returncode


def free_port() -> int:
    """A TCP port free on loopback now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


STARTED: list[RecorderProcess] = []
"""Every recorder a test started: conftest stops any still running when the test ends, so a
test failing half-way never leaves one behind (holding its port and its CPU)."""


def launch_recorder(db: Path, sock: Path, log: Path, *extra: str) -> RecorderProcess:
    """`tui-monitor record --db DB EXTRA...` (config from TUI_MONITOR_CONFIG), started: in
    STARTED, so conftest stops it whatever the test does."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [tui_monitor(), "record", "--db", str(db), *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    rec = RecorderProcess(proc, db, sock, log)
    STARTED.append(rec)
    return rec


def start_recorder(db: Path, sock: Path, log: Path) -> RecorderProcess:
    """`tui-monitor record --db DB`, once it listens and has committed a tick."""
    rec = launch_recorder(db, sock, log)
    proc = rec.proc
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        listening = False
        with contextlib.suppress(FileNotFoundError):
            listening = stat.S_ISSOCK(os.lstat(sock).st_mode)
        if listening and db.exists() and rec.ticks() > 0:
            return rec
        if proc.poll() is not None:
            pytest.fail(f"recorder exited {proc.returncode}:\n{rec.stderr_text()}")
        if time.monotonic() > deadline:
            rec.stop(signal.SIGKILL)
            pytest.fail(f"recorder not ready within {START_TIMEOUT}s:\n{rec.stderr_text()}")
        time.sleep(0.05)


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The console script with this test's environment (config, XDG dirs)."""
    return subprocess.run(
        [tui_monitor(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )


def wait_for(condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


async def eventually(
    condition: Callable[[], object], timeout: float = 20.0, what: str = ""
) -> None:
    """`wait_for` inside a running event loop: poll without blocking it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """A read-only query on a history file (what another process committed)."""
    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as c:
        return c.execute(sql).fetchall()
