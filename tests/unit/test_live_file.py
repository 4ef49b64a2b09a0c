"""store/live.py: the recorder's newest tick's live parts beside the database, and how a
viewer of the history puts them back on the rows it read."""

from __future__ import annotations

import os
from pathlib import Path

from factories import agent, snapshot
from session_rows import session

from tui_monitor.models import OtlpStatus
from tui_monitor.store.live import live_of, live_path, read_live, with_live, write_live


def live_tick(seq: int = 5):  # type: ignore[no-untyped-def]
    claude = agent("claude", kind="claude-code", source="preset").model_copy(
        update={"session": session("claude:1a2b3c4d"), "metrics": {"cost_usd": 0.5}}
    )
    plain = agent("worker")
    return snapshot(seq, [claude, plain]).model_copy(
        update={"otlp": OtlpStatus(listening="127.0.0.1:4318", requests=3, records=9)}
    )


def test_written_private_and_read_back_onto_the_history_rows(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tick = live_tick()
    write_live(db, live_of(tick, pid=4242))
    assert live_path(db).stat().st_mode & 0o777 == 0o600
    live = read_live(db, 4242, newer_than=0.0)
    assert live is not None and set(live.agents) == {"claude"}  # only rows with live parts
    stored = snapshot(5, [agent("claude", kind="claude-code", source="preset"), agent("worker")])
    shown = with_live(stored, live)
    claude, worker = shown.agents
    assert claude.session == tick.agents[0].session and claude.metrics == {"cost_usd": 0.5}
    assert worker.session is None and worker == stored.agents[1]
    assert shown.otlp == tick.otlp


def test_another_recorders_stale_or_broken_file_is_not_used(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tick = live_tick()
    write_live(db, live_of(tick, pid=4242))
    assert read_live(db, 4243, newer_than=0.0) is None  # another recorder wrote it
    assert read_live(db, None, newer_than=0.0) is None  # nobody records now
    assert read_live(db, 4242, newer_than=tick.ts.timestamp()) is None  # seen already
    live_path(db).write_bytes(b"\x00garbage{")
    assert read_live(db, 4242, newer_than=0.0) is None
    live_path(db).write_bytes(b" " * (5 << 20))
    assert read_live(db, 4242, newer_than=0.0) is None
    live_path(db).unlink()
    assert read_live(db, 4242, newer_than=0.0) is None
    assert with_live(tick, None) is tick


def test_a_symlink_in_the_live_files_place_is_not_followed(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    os.symlink(target, live_path(db))
    write_live(db, live_of(live_tick(), pid=1))  # renamed over the link, never through it
    assert target.read_text() == "keep" and not live_path(db).is_symlink()
