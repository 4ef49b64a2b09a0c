"""Nothing left behind: the dashboard quit with `q` or hung up (SIGHUP, the terminal or the SSH
session went away) removes its socket, and SQLite its -wal and -shm (every connection closed)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from recorder_proc import query
from tmux_pane import Tmux

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).parent / "tui-monitor"


def start(tmux: Tmux, tmp_path: Path, short_dir: Path, interval: float = 0.5) -> tuple[Path, Path]:
    db, sock = tmp_path / "h.db", short_dir / "ingest.sock"
    config = tmp_path / "c.toml"
    config.write_text(
        f"interval = {interval}\n[presets]\nenabled = false\n[gpu]\nenabled = false\n"
        f"[ingest]\nsocket = {json.dumps(str(sock))}\n"
    )
    env = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "TUI_MONITOR_"))}
    env |= {"TERM": "xterm-256color", "TUI_MONITOR_CONFIG": str(config)}
    tmux.start([str(EXE), "--db", str(db)], env, (100, 30))
    tmux.wait_text("LIVE", "ingest 0 in", timeout=20)
    tmux.wait_for(lambda _: Path(f"{db}-wal").exists() and sock.exists(), "the wal and socket")
    return db, sock


def left(db: Path, sock: Path) -> list[str]:
    return [p.name for p in (Path(f"{db}-wal"), Path(f"{db}-shm"), sock) if p.exists()]


def test_q_leaves_no_wal_shm_or_socket(tmux: Tmux, tmp_path: Path, short_dir: Path) -> None:
    db, sock = start(tmux, tmp_path, short_dir, interval=5.0)
    with socket.socket(socket.AF_UNIX) as agent:  # an agent connected, as agents stay
        agent.connect(str(sock))
        # Accepted, not yet in a tick (they come every 5 s here): the recorder takes one
        # more tick on its way out, so its cleanup takes a while.
        agent.sendall(b'{"v":1,"type":"event","agent":"a","message":"m"}\n')
        assert agent.makefile("rb").readline() == b'{"ok":true}\n'
        tmux.keys("q")
        assert tmux.wait_exit(15) == 0
    assert left(db, sock) == []
    assert query(db, "SELECT message FROM events WHERE agent = 'a'") == [("m",)]


def test_sighup_quits_the_dashboard_cleanly(tmux: Tmux, tmp_path: Path, short_dir: Path) -> None:
    db, sock = start(tmux, tmp_path, short_dir)
    assert tmux.pid is not None
    os.kill(tmux.pid, signal.SIGHUP)
    assert tmux.gone(tmux.pid, timeout=15)
    assert left(db, sock) == []
