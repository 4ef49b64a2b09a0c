"""The live watcher on real directories: files created, moved, edited, deleted, bulk-moved and
renamed reach the board (and the events) within a bounded wait, never by sleeping."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from tui_monitor.config import TaskBoardSettings
from tui_monitor.models import AgentEvent, TaskBoard, TaskCard
from tui_monitor.tasks.watch import TaskWatcher

WAIT = 10.0
"""Seconds a change may take to show (it takes ~50 ms; the margin is for a loaded CI box)."""


class Watched:
    def __init__(self, watcher: TaskWatcher) -> None:
        self.watcher = watcher
        self.updates: list[tuple[TaskBoard, ...]] = []
        self.events: list[AgentEvent] = []
        watcher.subscribe(self.updates.append)

    def cards(self) -> dict[str, TaskCard]:
        boards = self.watcher.boards
        return {c.key: c for c in boards[0].cards} if boards else {}

    async def until(self, check: Callable[[dict[str, TaskCard]], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not check(self.cards()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {sorted(self.cards())}")
            await asyncio.sleep(0.01)

    def take_events(self) -> list[AgentEvent]:
        _, _, events = self.watcher.take()
        self.events += events
        return events


@asynccontextmanager
async def watching(
    root: Path, seed: dict[str, TaskBoard] | None = None, rescan: float = 30.0
) -> AsyncIterator[Watched]:
    cfg = TaskBoardSettings(name="b", root=root, rescan=rescan)
    watcher = TaskWatcher([cfg], seed)
    w = Watched(watcher)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await asyncio.wait_for(watcher.watching.wait(), WAIT)
        yield w
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)


def task(path: Path, text: str = "title: t\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def test_create_move_edit_delete_follow_the_files(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    async with watching(tmp_path) as w:
        assert [e.kind for e in w.take_events()] == ["task.scanned"]
        task(tmp_path / "inbox/T-1.yaml", "id: T-1\ntitle: first\n")
        await w.until(lambda c: "T-1" in c, "T-1 created")
        (tmp_path / "assigned/x").mkdir(parents=True)
        os.rename(tmp_path / "inbox/T-1.yaml", tmp_path / "assigned/x/T-1.yaml")
        await w.until(lambda c: c.get("T-1", None) is not None and c["T-1"].agent == "x"
                      and len(c) == 1, "T-1 assigned to x")  # fmt: skip
        (tmp_path / "done/x").mkdir(parents=True)
        os.rename(tmp_path / "assigned/x/T-1.yaml", tmp_path / "done/x/T-1.yaml")
        await w.until(lambda c: c["T-1"].column == "done" and len(c) == 1, "T-1 done")
        task(tmp_path / "done/x/T-1.yaml", "id: T-1\ntitle: first, edited\n")
        await w.until(lambda c: c["T-1"].title == "first, edited", "the edit")
        (tmp_path / "done/x/T-1.yaml").unlink()
        await w.until(lambda c: not c, "T-1 gone")
        kinds = [(e.kind, e.agent) for e in w.take_events()]
        assert kinds == [
            ("task.created", "b"),
            ("task.assigned", "x"),
            ("task.completed", "x"),
            ("task.removed", "x"),
        ]
        assert w.events[-2].data["from"]["column"] == "assigned"  # the completion


async def test_a_bulk_move_of_200_files_is_one_update(tmp_path: Path) -> None:
    for i in range(200):
        task(tmp_path / f"inbox/B-{i:03d}.yaml")
    (tmp_path / "done/w").mkdir(parents=True)
    async with watching(tmp_path) as w:
        w.take_events()
        before = len(w.updates)
        for i in range(200):  # as a `git pull` does it: renames, one after another
            os.rename(tmp_path / f"inbox/B-{i:03d}.yaml", tmp_path / f"done/w/B-{i:03d}.yaml")
        await w.until(lambda c: sum(x.column == "done" for x in c.values()) == 200, "200 done")
        # Debounced: one update, two if the box stalled the renames for 40 ms midway.
        assert 1 <= len(w.updates) - before <= 2
        assert Counter(e.kind for e in w.take_events()) == {"task.completed": 200}


async def test_rename_between_yml_and_yaml_is_the_same_task(tmp_path: Path) -> None:
    task(tmp_path / "inbox/T-1.yml", "title: one\n")
    async with watching(tmp_path) as w:
        w.take_events()
        os.rename(tmp_path / "inbox/T-1.yml", tmp_path / "inbox/T-1.yaml")
        await w.until(lambda c: c["T-1"].path == "inbox/T-1.yaml", "the .yaml name")
        os.rename(tmp_path / "inbox/T-1.yaml", tmp_path / "inbox/T-1.yml")
        await w.until(lambda c: c["T-1"].path == "inbox/T-1.yml", "the .yml name again")
        assert len(w.cards()) == 1
        assert w.take_events() == []  # same task, same column: no event


async def test_a_root_created_later_is_picked_up_by_the_rescan(tmp_path: Path) -> None:
    root = tmp_path / "later"
    cfg = TaskBoardSettings(name="b", root=root, rescan=1.0)
    watcher = TaskWatcher([cfg])
    stop = asyncio.Event()
    running = asyncio.create_task(watcher.run(stop))
    try:
        await asyncio.wait_for(watcher.scanned.wait(), WAIT)
        assert watcher.boards[0].problem is not None
        task(root / "inbox/T-1.yaml")
        deadline = time.monotonic() + WAIT
        while not watcher.boards[0].cards:
            assert time.monotonic() < deadline, "the rescan never found the new root"
            await asyncio.sleep(0.02)
        assert watcher.boards[0].problem is None
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)


async def test_a_restart_reports_only_what_changed_meanwhile(tmp_path: Path) -> None:
    task(tmp_path / "inbox/T-1.yaml")
    task(tmp_path / "inbox/T-2.yaml")
    async with watching(tmp_path) as w:
        stored = w.watcher.boards[0]
    os.rename(tmp_path / "inbox/T-2.yaml", tmp_path / "inbox/T-2.gone")
    task(tmp_path / "assigned/x/T-1.yaml")
    (tmp_path / "inbox/T-1.yaml").unlink()
    async with watching(tmp_path, seed={"b": stored}) as w:
        boards, changes, events = w.watcher.take()
        assert sorted((e.kind, e.data["id"]) for e in events) == [
            ("task.assigned", "T-1"),
            ("task.removed", "T-2"),
        ]
        assert sorted(c.key for c in changes) == ["T-1", "T-2"]
    async with watching(tmp_path, seed={"b": boards[0]}) as w:
        assert w.watcher.take()[1:] == ((), [])  # nothing moved: nothing to store or say


async def test_the_watcher_never_writes_to_the_board(tmp_path: Path) -> None:
    tmp_path = tmp_path / "board"
    task(tmp_path / "inbox/T-1.yaml")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    async with watching(tmp_path) as w:
        os.rename(tmp_path / "inbox/T-1.yaml", tmp_path / "inbox/T-2.yaml")
        await w.until(lambda c: "T-2" in c, "T-2")
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert set(after) == {tmp_path / "inbox", tmp_path / "inbox/T-2.yaml"}
    assert after[tmp_path / "inbox/T-2.yaml"] == before[tmp_path / "inbox/T-1.yaml"]


async def test_a_first_scan_stores_the_board_and_every_card(tmp_path: Path) -> None:
    """What the history gets of a board it never saw: the board itself and all its cards."""
    from tui_monitor.store.tasks import change_rows
    from tui_monitor.tasks.diff import ALL

    task(tmp_path / "inbox/T-1.yaml")
    task(tmp_path / "done/w/T-2.yaml")
    async with watching(tmp_path) as w:
        _, changes, _ = w.watcher.take()
        assert [c.key for c in changes] == ["", ALL]
        rows = change_rows(7, 1000, changes)
        assert [(r[0], r[2], r[3]) for r in rows] == [
            (7, "b", ""),
            (7, "b", "T-1"),
            (7, "b", "T-2"),
        ]
