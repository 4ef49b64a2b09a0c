"""`tui-monitor record` ended by a signal leaves nothing behind: no socket, no -wal/-shm."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from recorder_proc import exchange, query, recording, wait_for, write_config


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_record_cleanly(short_dir: Path, sig: signal.Signals) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    db = short_dir / "h.db"
    with recording(db, sock) as rec:
        assert exchange(sock, [{"type": "event", "agent": "a", "ack": "stored"}]) == [{"ok": True}]
        wait_for("the -wal", lambda: Path(f"{db}-wal").exists())
        assert rec.stop(sig) == 0, rec.stderr
    assert not sock.exists()
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    assert query(db, "SELECT count(*) FROM events WHERE agent = 'a'") == [(1,)]
