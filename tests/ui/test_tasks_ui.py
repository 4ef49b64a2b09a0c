"""The Tasks screen over real task directories, with the real in-process recorder.

The tick interval is 60 s: a card that moves on screen was carried there by the watcher's
push between ticks, not by a snapshot.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from factories import fleet, screen_text, snapshot, wait_until
from textual.pilot import Pilot

from tui_monitor.config import (
    GpuSettings,
    IngestSettings,
    PresetSettings,
    Settings,
    StoreSettings,
    TaskBoardSettings,
)
from tui_monitor.models import TaskBoard
from tui_monitor.source import LiveSource, ScriptedSource
from tui_monitor.store.queries import History
from tui_monitor.tasks.scan import BoardScanner
from tui_monitor.ui.app import MonitorApp, make_app
from tui_monitor.ui.screens.task_detail import TaskDetailScreen
from tui_monitor.ui.screens.tasks import TasksScreen
from tui_monitor.ui.widgets.agent_table import AgentTable
from tui_monitor.ui.widgets.task_column import TaskColumn


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def board_settings(root: Path) -> TaskBoardSettings:
    return TaskBoardSettings(name="work", root=root, archive="archive")


@asynccontextmanager
async def live_board(
    tmp_path: Path, size: tuple[int, int] = (140, 40), interval: float = 60.0
) -> AsyncIterator[tuple[MonitorApp, Pilot[None], Path]]:
    root = tmp_path / "board"
    write(root / "inbox/T-1.yaml", "id: T-1\ntitle: write the parser\npriority: HIGH\n")
    write(root / "inbox/T-2.yml", "id: T-2\ntitle: review\npriority: low\nowner: ann\n")
    write(root / "done/w2/T-3.yaml", "title: shipped\nstatus: assigned\n")
    write(root / "inbox/broken.yaml", "title: [oops\n")
    db = tmp_path / "history.db"
    settings = Settings(
        interval=interval,
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.1),
        ingest=IngestSettings(enabled=False),
        tasks=[board_settings(root)],
    )
    app = make_app(settings, LiveSource(settings, db), History(db), utc=True)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: bool(app.tasks), timeout=15, what="the first scan")
        yield app, pilot, root
        await pilot.press("q")


def column(app: MonitorApp, name: str) -> TaskColumn:
    return app.screen.query_one(f"#col-{name}", TaskColumn)


def keys(app: MonitorApp, name: str) -> list[str]:
    return [c.key for c in column(app, name).cards]


async def test_the_board_follows_files_between_ticks(tmp_path: Path) -> None:
    async with live_board(tmp_path) as (app, pilot, root):
        await pilot.press("T")
        await wait_until(pilot, lambda: isinstance(app.screen, TasksScreen), what="the board")
        await wait_until(pilot, lambda: keys(app, "inbox") == ["T-1", "T-2", "broken"])
        text = screen_text(app)
        assert "Inbox 3 ⚠1" in text and "Assigned 0" in text and "Done 1" in text
        assert "invalid YAML" in text and "assigned≠done" in text
        seq = app.live.snapshot.seq if app.live.snapshot else 0
        os.renames(root / "inbox/T-1.yaml", root / "assigned/w1/T-1.yaml")
        await wait_until(pilot, lambda: keys(app, "assigned") == ["T-1"], what="T-1 assigned")
        assert keys(app, "inbox") == ["T-2", "broken"]
        os.renames(root / "assigned/w1/T-1.yaml", root / "done/w1/T-1.yaml")
        await wait_until(pilot, lambda: "T-1" in keys(app, "done"), what="T-1 done")
        write(root / "inbox/T-2.yml", "id: T-2\ntitle: review, edited\n")
        await wait_until(pilot, lambda: "review, edited" in screen_text(app), what="the edit shown")
        (root / "inbox/broken.yaml").unlink()
        await wait_until(pilot, lambda: keys(app, "inbox") == ["T-2"], what="broken gone")
        write(root / "inbox/T-4.yaml", "title: brand new\npriority: critical\n")
        await wait_until(pilot, lambda: keys(app, "inbox") == ["T-4", "T-2"], what="T-4 created")
        os.rename(root / "inbox/T-2.yml", root / "inbox/T-2.yaml")
        await wait_until(
            pilot, lambda: [c.path for c in column(app, "inbox").cards][1] == "inbox/T-2.yaml"
        )
        for i in range(200):
            write(root / f"inbox/B-{i:03d}.yaml", f"title: bulk {i}\n")
        await wait_until(pilot, lambda: len(keys(app, "inbox")) == 202, what="200 created")
        (root / "done/bulk").mkdir()
        for i in range(200):  # as a `git pull` moves them
            os.rename(root / f"inbox/B-{i:03d}.yaml", root / f"done/bulk/B-{i:03d}.yaml")
        await wait_until(pilot, lambda: len(keys(app, "done")) == 202, what="200 moved")
        assert keys(app, "inbox") == ["T-4", "T-2"]
        assert "Done 202" in screen_text(app)
        assert app.live.snapshot is not None and app.live.snapshot.seq == seq  # no tick came


async def test_keys_filter_and_the_detail_view(tmp_path: Path) -> None:
    async with live_board(tmp_path) as (app, pilot, root):
        await pilot.press("T")
        await wait_until(pilot, lambda: keys(app, "inbox") == ["T-1", "T-2", "broken"])
        await pilot.press("j")
        assert column(app, "inbox").selected.key == "T-2"  # type: ignore[union-attr]
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen))
        await wait_until(pilot, lambda: "history: loading" not in screen_text(app))
        text = screen_text(app)
        assert str(root / "inbox/T-2.yml") in text and "owner" in text and "ann" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, TasksScreen))
        await pilot.press("/")
        await pilot.press(*"prio:high")
        await wait_until(pilot, lambda: keys(app, "inbox") == ["T-1"], what="the filter")
        assert "Inbox 1/3" in screen_text(app)
        await pilot.press("escape")  # clears the filter first
        await wait_until(pilot, lambda: len(keys(app, "inbox")) == 3)
        await pilot.press("right", "right")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen))
        assert re.search(r"status +assigned  \(≠ done: as written\)", screen_text(app))


async def test_at_80x24_the_columns_are_tabs(tmp_path: Path) -> None:
    async with live_board(tmp_path, size=(80, 24)) as (app, pilot, _root):
        await pilot.press("T")
        await wait_until(pilot, lambda: isinstance(app.screen, TasksScreen))
        await wait_until(pilot, lambda: "Inbox 3" in screen_text(app))
        lines = screen_text(app).splitlines()
        assert "work   Inbox 3   Assigned 0   Done 1   Archive 0  ←→" in lines[1]
        assert column(app, "inbox").display and not column(app, "done").display
        await pilot.press("right", "right")
        assert column(app, "done").display and not column(app, "inbox").display
        assert "T-3 shipped" in screen_text(app)


def scripted_board(tmp_path: Path) -> TaskBoard:
    root = tmp_path / "board"
    write(root / "assigned/planner/T-1.yaml", "title: plan the sprint\npriority: critical\n")
    write(root / "assigned/planner/T-2.yaml", 'title: "\\e[31mred [bold]x[/bold]"\n')
    write(root / "inbox/T-3.yaml", "title: later\n")
    scanner = BoardScanner(board_settings(root))
    scanner.scan()
    return scanner.board(version=1)


async def test_the_dashboard_card_and_the_agents_tasks(tmp_path: Path) -> None:
    board = scripted_board(tmp_path)
    snap = snapshot(1, fleet()).model_copy(update={"tasks": (board,)})
    settings = Settings(
        gpu=GpuSettings(enabled=False), presets=PresetSettings(enabled=False),
        tasks=[board_settings(tmp_path / "board")],
    )  # fmt: skip
    app = make_app(settings, ScriptedSource([snap]), None, utc=True)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.pause()
        text = screen_text(app)
        assert "Tasks 2 wip" in text and "1›2›0" in text
        table = app.screen.query_one(AgentTable)
        header = [str(c.label).split()[0] for c in table.columns.values()]
        assert "TASKS" in header
        row = dict(zip(header, table.rendered_rows()[table.visible_names.index("planner")],
                       strict=True))  # fmt: skip
        assert row["TASKS"] == "2"
        app.open_agent("planner")
        await wait_until(pilot, lambda: "tasks: 2 assigned" in screen_text(app))
        text = screen_text(app)
        assert "plan the sprint" in text and "\\x1b[31mred [bold]x[/bold]" in text


async def test_without_boards_the_dashboard_has_no_tasks_column(tmp_path: Path) -> None:
    app = make_app(Settings(gpu=GpuSettings(enabled=False)), ScriptedSource([snapshot(1, fleet())]))
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.pause()
        labels = [str(c.label) for c in app.screen.query_one(AgentTable).columns.values()]
        assert not any("TASKS" in label for label in labels)
        assert "Tasks" not in screen_text(app).splitlines()[1]


async def test_a_replayed_tick_shows_the_board_shown_then(tmp_path: Path) -> None:
    async with live_board(tmp_path, interval=0.5) as (app, pilot, root):
        await pilot.press("T")
        db = tmp_path / "history.db"
        await wait_until(pilot, lambda: keys(app, "inbox") == ["T-1", "T-2", "broken"])
        # a committed tick that carries this board (nothing moves meanwhile)
        history = History(db)
        latest = None

        def stored() -> bool:
            nonlocal latest
            latest = history.latest() if db.exists() else None
            return latest is not None and bool(latest.tasks)

        await wait_until(pilot, stored, timeout=15, what="a stored tick with the board")
        assert latest is not None
        then = latest.ts.timestamp()
        shown = {c: keys(app, c) for c in ("inbox", "assigned", "done", "archive")}
        os.renames(root / "inbox/T-1.yaml", root / "assigned/w1/T-1.yaml")
        (root / "inbox/broken.yaml").unlink()
        await wait_until(pilot, lambda: keys(app, "assigned") == ["T-1"])
        assert await app.replay_at(then)
        await wait_until(pilot, lambda: app.replaying and keys(app, "assigned") == [])
        assert {c: keys(app, c) for c in shown} == shown
        assert "REPLAY" in screen_text(app).splitlines()[0]
        app.go_live()
        await wait_until(pilot, lambda: keys(app, "assigned") == ["T-1"], what="live again")
        await wait_until(
            pilot, lambda: len(history.task_moves("work", "T-1")) == 2, timeout=15,
            what="the move stored",
        )  # fmt: skip
        await pilot.press("right", "enter")  # T-1's details: where it has been
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen))
        await wait_until(
            pilot,
            lambda: "assigned  w1" in screen_text(app) and "inbox     -" in screen_text(app),
            timeout=15, what="T-1's moves",
        )  # fmt: skip
