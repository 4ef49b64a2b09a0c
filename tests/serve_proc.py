"""A real `tui-monitor serve` subprocess on a free loopback port, and the URL it printed."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.recorders import free_port, stop_process, tui_monitor

START_TIMEOUT = 20.0
URL = re.compile(r"(http://\S+/)\?token=(\S+)")


@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    port: int
    base: str = ""
    """http://127.0.0.1:PORT/"""
    token: str = ""
    _err: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base}?token={self.token}"

    @property
    def stderr(self) -> str:
        return b"".join(self._err).decode("utf-8", "replace")

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._err.append(line)

    def sessions(self) -> list[psutil.Process]:
        """The app processes it runs now (its live children)."""
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        return stop_process(self.proc, sig, timeout)


@contextlib.contextmanager
def serving(db: Path, *args: str) -> Iterator[ServeProcess]:
    """`tui-monitor serve --db DB --port FREE ARGS`, once it prints its URL; stopped (its
    whole process group killed if need be) at the end."""
    port = free_port()
    proc = subprocess.Popen(
        [tui_monitor(), "serve", "--db", str(db), "--port", str(port), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    server = ServeProcess(proc, port)
    threading.Thread(target=server._pump, daemon=True).start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (found := URL.search(server.stderr)):
            if proc.poll() is not None:
                pytest.fail(f"serve exited {proc.returncode}:\n{server.stderr}")
            if time.monotonic() > deadline:
                pytest.fail(f"serve printed no URL within {START_TIMEOUT}s:\n{server.stderr}")
            time.sleep(0.05)
        server.base, server.token = found.group(1), found.group(2)
        yield server
    finally:
        server.stop()
