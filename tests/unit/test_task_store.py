"""Task boards in the history: any recorded tick gives back the board shown at that tick.

Real files: a board directory scanned by the real scanner, diffed, written by the real writer
into a SQLite file in tmp_path, read back through History (as replay and attached viewers do).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from factories import snapshot

from tui_monitor.config import RetentionSettings, TaskBoardSettings
from tui_monitor.models import Snapshot, TaskBoard
from tui_monitor.store import tasks as task_store
from tui_monitor.store.queries import History
from tui_monitor.store.retention import prune
from tui_monitor.store.writer import Writer
from tui_monitor.tasks.diff import diff
from tui_monitor.tasks.scan import BoardScanner


def shown(board: TaskBoard) -> TaskBoard:
    return board.model_copy(update={"version": 0})


class Recording:
    """Scan, diff and write one tick at a time, remembering the board each tick showed."""

    def __init__(self, root: Path, db: Path) -> None:
        self.scanner = BoardScanner(TaskBoardSettings(name="work", root=root))
        self.writer = Writer(db)
        self.last: TaskBoard | None = None
        self.shown: dict[int, TaskBoard] = {}
        self.seq = 0

    def tick(self, ts: float | None = None) -> int:
        self.seq += 1
        self.scanner.scan()
        board = self.scanner.board()
        changes, events = diff(self.last, board, datetime.now(UTC))
        self.last = board
        when = None if ts is None else datetime.fromtimestamp(ts, UTC)
        snap: Snapshot = snapshot(self.seq, ts=when).model_copy(
            update={"tasks": (board,), "task_changes": tuple(changes), "events": tuple(events)}
        )
        batch = self.writer.write_batch([snap])
        self.shown[batch.last_tick] = board
        return batch.last_tick


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_every_tick_replays_the_board_it_showed(tmp_path: Path) -> None:
    root, db = tmp_path / "board", tmp_path / "h.db"
    write(root / "inbox/T-1.yaml", "title: one\npriority: HIGH\nlabels: [a, b]\n")
    write(root / "inbox/T-2.yaml", "title: two\ncreated: 2025-01-01T10:00:00Z\n")
    write(root / "inbox/bad.yaml", "title: [oops\n")
    rec = Recording(root, db)
    rec.tick()
    os.renames(root / "inbox/T-1.yaml", root / "assigned/w1/T-1.yaml")
    rec.tick()
    rec.tick()  # nothing changed: no rows, same board
    write(root / "assigned/w1/T-1.yaml", "title: one, edited\npriority: low\n")
    (root / "inbox/T-2.yaml").unlink()
    rec.tick()
    os.renames(root / "assigned/w1/T-1.yaml", root / "done/w1/T-1.yaml")
    rec.tick()
    rec.writer.close()
    history = History(db)
    # newest first (each read carries the cache forward), then oldest first (full reads)
    for order in (sorted(rec.shown), sorted(rec.shown, reverse=True), sorted(rec.shown)):
        for tick in order:
            replayed = history.tick(tick)
            assert replayed is not None
            assert replayed.tasks == (shown(rec.shown[tick]),), tick
    rows = sqlite3.connect(db).execute("SELECT tick, key FROM task_states ORDER BY id").fetchall()
    assert rows == [
        (1, ""), (1, "T-1"), (1, "T-2"), (1, "bad"),
        (2, "T-1"),
        (4, "T-1"), (4, "T-2"),
        (5, "T-1"),
    ]  # fmt: skip
    moves = history.task_moves("work", "T-1")
    assert [(m.column, m.agent) for m in moves] == [
        ("inbox", None), ("assigned", "w1"), ("assigned", "w1"), ("done", "w1"),
    ]  # fmt: skip
    assert [(m.column, m.agent) for m in history.task_moves("work", "T-1", upto_tick=2)] == [
        ("inbox", None),
        ("assigned", "w1"),
    ]
    assert history.task_boards() == {"work": shown(rec.shown[5])}


def test_a_board_that_left_the_config_leaves_the_history_too(tmp_path: Path) -> None:
    root, db = tmp_path / "board", tmp_path / "h.db"
    write(root / "inbox/T-1.yaml", "title: one\n")
    rec = Recording(root, db)
    first = rec.tick()
    snap = snapshot(2).model_copy(
        update={"task_changes": (task_store_change("work"),)}  # the watcher's "board gone"
    )
    gone = rec.writer.write_batch([snap]).last_tick
    rec.writer.close()
    history = History(db)
    assert [b.name for b in history.tick(first).tasks] == ["work"]  # type: ignore[union-attr]
    assert history.tick(gone).tasks == ()  # type: ignore[union-attr]


def task_store_change(board: str) -> object:
    from tui_monitor.models import TaskChange

    return TaskChange(board=board, key="")


def test_retention_keeps_every_board_after_the_cutoff(tmp_path: Path) -> None:
    root, db = tmp_path / "board", tmp_path / "h.db"
    day = 86400.0
    now = 1_700_000_000.0
    write(root / "inbox/T-1.yaml", "title: one\n")
    write(root / "inbox/T-2.yaml", "title: two\n")
    write(root / "inbox/T-3.yaml", "title: three\n")
    rec = Recording(root, db)
    rec.tick(ts=now - 40 * day)  # all three created long ago
    os.renames(root / "inbox/T-1.yaml", root / "assigned/a/T-1.yaml")
    (root / "inbox/T-3.yaml").unlink()
    rec.tick(ts=now - 35 * day)  # T-1 moved and T-3 gone before the cutoff
    os.renames(root / "assigned/a/T-1.yaml", root / "done/a/T-1.yaml")
    late = rec.tick(ts=now - 1 * day)
    before = History(db).tick(late)
    result = prune(rec.writer.conn, now, RetentionSettings(events_days=30, raw_hours=24 * 60))
    assert result.task_states == 3  # T-1 in the inbox; T-3 created, then its leaving
    after = History(db).tick(late)
    assert after is not None and before is not None and after.tasks == before.tasks
    kept = rec.writer.conn.execute("SELECT key, card IS NULL FROM task_states").fetchall()
    assert sorted(kept) == [("", 0), ("T-1", 0), ("T-1", 0), ("T-2", 0)]
    rec.writer.close()


def test_reading_a_board_is_cached_between_ticks(tmp_path: Path) -> None:
    root, db = tmp_path / "board", tmp_path / "h.db"
    for i in range(50):
        write(root / f"inbox/T-{i}.yaml", f"title: {i}\n")
    rec = Recording(root, db)
    rec.tick()
    second = rec.tick()
    rec.writer.close()
    conn = sqlite3.connect(db)
    a = task_store.boards_at(conn, second)
    b = task_store.boards_at(conn, second)
    assert a is b  # unchanged since the last read: not parsed again


def test_a_snapshot_document_carries_the_boards(tmp_path: Path) -> None:
    """`x` and `export snapshot`: the boards of the moment, read back into an equal model."""
    from tui_monitor.export import read_moment, read_snapshot, snapshot_document

    root, db = tmp_path / "board", tmp_path / "h.db"
    write(root / "inbox/T-1.yaml", "title: one\npriority: HIGH\nnotes: {a: [1, 2]}\n")
    write(root / "inbox/bad.yaml", "title: [oops\n")
    rec = Recording(root, db)
    tick = rec.tick()
    rec.writer.close()
    moment = read_moment(db, datetime.now(UTC))
    assert moment.tick == tick
    doc = snapshot_document(moment.snapshot)
    [board] = doc["tick"]["tasks"]
    assert board["name"] == "work" and [c["key"] for c in board["cards"]] == ["T-1", "bad"]
    assert board["cards"][0]["extra"] == {"notes": {"a": [1, 2]}}
    assert board["cards"][1]["problem"].startswith("invalid YAML")
    assert read_snapshot(doc).tasks == (shown(rec.shown[tick]),)
