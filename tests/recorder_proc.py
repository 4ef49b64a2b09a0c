"""The real `tui-monitor record` in a subprocess, its socket, and raw protocol lines to it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
DEADLINE = 30.0


def tui_monitor() -> str:
    return str(Path(sys.executable).parent / "tui-monitor")


def write_config(sock: Path, extra: str = "") -> None:
    """Fast ticks and flushes, no presets or GPUs, the socket at `sock`."""
    Path(os.environ["TUI_MONITOR_CONFIG"]).write_text(
        "interval = 0.2\n"
        "[presets]\nenabled = false\n"
        "[gpu]\nenabled = false\n"
        "[store]\nflush_interval = 0.2\n"
        f"[ingest]\nsocket = {json.dumps(str(sock))}\n" + extra
    )


@dataclass
class Recording:
    proc: subprocess.Popen[bytes]
    db: Path
    sock: Path
    _err: list[bytes] = field(default_factory=list)

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._err.append(line)

    @property
    def stderr(self) -> str:
        return b"".join(self._err).decode("utf-8", "replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@contextlib.contextmanager
def recording(db: Path, sock: Path, *args: str) -> Iterator[Recording]:
    """`tui-monitor record --db DB`, listening on `sock`; killed at the end if still alive."""
    proc = subprocess.Popen(
        [tui_monitor(), "record", "--db", str(db), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    rec = Recording(proc, db, sock)
    threading.Thread(target=rec._pump, daemon=True).start()
    try:
        wait_for("the socket", lambda: listening(sock) or rec.proc.poll() is not None)
        if rec.proc.poll() is not None:
            pytest.fail(f"recorder exited {rec.proc.returncode}: {rec.stderr}")
        yield rec
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def listening(sock: Path) -> bool:
    """Whether something accepts connections on `sock` (the file exists a moment earlier)."""
    try:
        if not stat.S_ISSOCK(os.lstat(sock).st_mode):
            return False
    except FileNotFoundError:
        return False
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(sock))
        except OSError:
            return False
    return True


def wait_for(what: str, fetch: Callable[[], T], timeout: float = DEADLINE) -> T:
    """What `fetch` returns once it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def exchange(sock: Path, messages: list[dict[str, Any]], timeout: float = DEADLINE) -> list[Any]:
    """Send protocol lines on one connection; their replies, in order."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(b"".join(json.dumps({"v": 1, **m}).encode() + b"\n" for m in messages))
        f = s.makefile("rb")
        return [json.loads(f.readline()) for _ in messages]


def query(db: Path, sql: str, *params: object) -> list[Any]:
    """Rows from the history, read the way a viewer reads it (read-only)."""
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
