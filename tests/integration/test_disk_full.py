"""`tui-monitor record` on a real, small filesystem that fills up: it says "disk full", holds
what it was told, and writes all of it once space returns (no stuck state, no restart)."""

from __future__ import annotations

from pathlib import Path

from places import fill, tmpfs
from recorder_proc import exchange, query, recording, wait_for, write_config


def test_a_full_disk_holds_new_agents_and_writes_everything_when_space_returns(
    short_dir: Path,
) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    with tmpfs(short_dir / "disk", "2m") as disk:
        db = disk / "h.db"
        with recording(db, sock) as rec:
            assert exchange(sock, [{"type": "event", "agent": "before", "message": "b"}]) == [
                {"ok": True}
            ]
            wait_for("the first event", lambda: query(db, "SELECT 1 FROM events"))
            filler = fill(disk)
            # A new agent while the disk is full: the case that used to leave stale ids.
            full = [
                {"type": "event", "agent": "new-while-full", "message": f"f{i}"} for i in range(20)
            ]
            assert exchange(sock, full) == [{"ok": True}] * 20
            wait_for("the failure in the log", lambda: "database or disk is full" in rec.stderr)
            filler.unlink()
            after = [
                {"type": "event", "agent": "after", "message": f"a{i}", "ack": "stored"}
                for i in range(20)
            ]
            assert exchange(sock, after) == [{"ok": True}] * 20  # stored, so written
            assert rec.stop() == 0
        messages = {m for (m,) in query(db, "SELECT message FROM events")}
        agents = {a for (a,) in query(db, "SELECT name FROM agents")}
    assert {f"f{i}" for i in range(20)} <= messages
    assert {f"a{i}" for i in range(20)} <= messages
    assert {"before", "new-while-full", "after"} <= agents
    assert rec.stderr.count("writing the history failed") == 1, rec.stderr
    assert "works again" in rec.stderr
    assert "UNIQUE" not in rec.stderr and "cannot rollback" not in rec.stderr
