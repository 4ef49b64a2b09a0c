"""End to end: the installed `tui-monitor` in tmux, with a task board whose files move.

A person opens the board (`T`), watches a card move as its file moves, resizes the terminal
to 80x24 (the columns become tabs) and leaves; every step is read off the screen.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import tomli_w
from tmux_pane import Tmux

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).parent / "tui-monitor"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def column_of(screen: str, task: str) -> str | None:
    """Which column's box the card `task` is drawn in (by its x position under the titles)."""
    lines = screen.splitlines()
    titles = next((line for line in lines if "Inbox" in line and "Assigned" in line), "")
    starts = {name: titles.find(f"─ {name}") for name in ("Inbox", "Assigned", "Done")}
    for line in lines:
        at = line.find(f"▌{task} ")
        if at >= 0:
            found = [n for n, x in sorted(starts.items(), key=lambda i: i[1]) if 0 <= x <= at]
            return found[-1] if found else None
    return None


def test_the_board_follows_a_moving_file_in_a_real_terminal(tmp_path: Path, tmux: Tmux) -> None:
    root = tmp_path / "board"
    for i in range(1, 25):
        write(
            root / f"inbox/T-{i:02d}.yaml",
            f"title: task {i}\npriority: {'high' if i < 4 else 'low'}\n",
        )
    write(root / "inbox/broken.yaml", "title: [oops\n")
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps({
        "interval": 1.0,
        "store": {"path": str(tmp_path / "history.db")},
        "presets": {"enabled": False},
        "gpu": {"enabled": False},
        "ingest": {"enabled": False},
        "tasks": [{"name": "e2e", "root": str(root)}],
    }))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "TUI_MONITOR_"))}
    env |= {"TERM": "xterm-256color", "TUI_MONITOR_CONFIG": str(config)}
    tmux.start([str(EXE)], env, (120, 36))
    tmux.wait_text("Tasks 0 wip", "⚠1 25›0›0", timeout=20)
    tmux.keys("T")
    screen = tmux.wait_text("Inbox 25 ⚠1 !3", "Assigned 0")
    assert column_of(screen, "T-01") == "Inbox"
    os.renames(root / "inbox/T-01.yaml", root / "assigned/coder/T-01.yaml")
    screen, _ = tmux.wait_for(lambda s: column_of(s, "T-01") == "Assigned", "T-01 assigned")
    assert "Inbox 24 ⚠1" in screen and "coder · high" in screen
    os.renames(root / "assigned/coder/T-01.yaml", root / "done/coder/T-01.yaml")
    tmux.wait_for(lambda s: column_of(s, "T-01") == "Done", "T-01 done")
    write(root / "inbox/T-00.yml", "title: urgent\npriority: critical\n")  # created
    tmux.wait_for(lambda s: column_of(s, "T-00") == "Inbox", "T-00 created")
    os.rename(root / "inbox/T-00.yml", root / "inbox/T-00.yaml")  # renamed: the same task
    (root / "done/bulk").mkdir()
    for i in range(2, 25):  # a bulk move
        os.rename(root / f"inbox/T-{i:02d}.yaml", root / f"done/bulk/T-{i:02d}.yaml")
    screen = tmux.wait_text("Inbox 2 ⚠1 !1", "Done 24")
    (root / "done/bulk/T-02.yaml").unlink()  # deleted
    tmux.wait_text("Done 23")
    tmux.resize(80, 24)
    screen = tmux.wait_text("e2e   Inbox 2   Assigned 0   Done 23  ←→")
    tmux.keys("Right", "Right")
    tmux.wait_text("T-24 task 24", "Done 23 ─")
    tmux.keys("Escape")
    tmux.wait_text("tasks 0 ⚠1")  # at 80 columns the Agents card carries the tasks
    tmux.keys("q")
    assert tmux.wait_exit() == 0
