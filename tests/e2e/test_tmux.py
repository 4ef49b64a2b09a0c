"""End to end: the installed `tui-monitor` in a real terminal (tmux), watching real agents.

What a person at an 100x30 terminal does: sees the agents, moves the cursor, filters, opens an
agent, goes back, resizes the terminal, quits. Every step is checked on the screen text.

The terminal is tmux_pane.Tmux (the `tmux` fixture): a private tmux server per test.
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest
import tomli_w
from tmux_pane import Tmux, gone

if TYPE_CHECKING:
    from conftest import AgentProcess, SpawnAgent

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).parent / "tui-monitor"
NAME = "e2e-worker"
SELECTED = re.compile(r"╭─ (\S+) CPU %")
"""The dashboard chart's title names the selected agent."""


def rows_named(screen: str, prefix: str) -> list[list[str]]:
    """The agent-table rows (split on whitespace) whose first cell starts with `prefix`."""
    pattern = re.compile(rf"^\s*{re.escape(prefix)}(#\d+)?\s")
    return [line.split() for line in screen.splitlines() if pattern.match(line)]


def _config(tmp_path: Path, tag: str) -> Path:
    path = tmp_path / "e2e-config.toml"
    data = {
        "interval": 0.5,
        "store": {"path": str(tmp_path / "history.db")},
        "presets": {"enabled": False},
        "agents": [{"name": NAME, "kind": "e2e", "cmdline": re.escape(tag)}],
    }
    path.write_text(tomli_w.dumps(data))
    return path


def _env(config: Path, term: str) -> dict[str, str]:
    """The test's isolated dirs (set by `isolated_dirs`), this config and this terminal."""
    isolated = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "TUI_MONITOR_"))}
    return isolated | {"TERM": term, "TUI_MONITOR_CONFIG": str(config)}


def _fleet(spawn_agent: SpawnAgent) -> tuple[str, dict[str, AgentProcess]]:
    """Two idle and one busy agent under one tag: named in start order by the one rule."""
    tag = f"tuimon-e2e-{uuid.uuid4().hex[:12]}"
    agents = [spawn_agent(kind, tag=tag) for kind in ("idle", "idle", "busy")]
    return tag, dict(zip((NAME, f"{NAME}#2", f"{NAME}#3"), agents, strict=True))


def _table(screen: str) -> dict[str, dict[str, str]]:
    """Agent name -> {column: value} for the leading one-word columns (name .. pid)."""
    line = next((line for line in screen.splitlines() if " NAME " in line), "")
    header = [word for word in line.split() if word not in ("▲", "▼")]  # the sort arrow
    if "PID" not in header:
        return {}
    cols = [c.lower() for c in header[: header.index("PID") + 1]]
    return {row[0]: dict(zip(cols, row, strict=False)) for row in rows_named(screen, NAME)}


def _all_rows(expected: dict[str, AgentProcess]) -> Callable[[str], bool]:
    """A screen check: every agent's row, with its pid; the busy one seen running."""

    def ok(screen: str) -> bool:
        table = _table(screen)
        return (
            set(table) == set(expected)
            and all(table[n]["pid"] == str(a.pid) for n, a in expected.items())
            and table[f"{NAME}#3"]["status"] == "running"
        )

    return ok


def _selected(screen: str) -> str | None:
    found = SELECTED.search(screen)
    return found.group(1) if found else None


TERMINAL_MODES = ("alternate_on", "cursor_flag", "mouse_any_flag", "mouse_sgr_flag")


def _modes(tmux: Tmux) -> dict[str, str]:
    values = tmux.display(" ".join(f"#{{{m}}}" for m in TERMINAL_MODES)).split()
    return dict(zip(TERMINAL_MODES, values, strict=True))


def _terminal_restored(tmux: Tmux) -> None:
    """After exit: main screen back, cursor shown, mouse reporting off, no dashboard left."""
    assert _modes(tmux) == dict.fromkeys(TERMINAL_MODES, "0") | {"cursor_flag": "1"}
    screen = tmux.screen()
    assert not rows_named(screen, NAME) and "q Quit" not in screen, screen


def _no_program_left(pid: int, config: Path) -> None:
    assert gone(pid, timeout=5), f"pid {pid} still runs after the exit status was printed"
    for proc in psutil.process_iter(["cmdline"]):
        if not any("tui-monitor" in part for part in proc.info["cmdline"] or ()):
            continue
        try:
            env = proc.environ()
        except psutil.Error:
            continue
        assert env.get("TUI_MONITOR_CONFIG") != str(config), f"left behind: {proc}"


def test_dashboard_keys_resize_and_quit(
    tmux: Tmux, spawn_agent: SpawnAgent, tmp_path: Path
) -> None:
    tag, agents = _fleet(spawn_agent)
    config = _config(tmp_path, tag)
    pid = tmux.start([str(EXE)], _env(config, "xterm-256color"), (100, 30))
    assert tmux.size() == (100, 30)

    screen, _ = tmux.wait_for(_all_rows(agents), "three agents with their pids", timeout=20)
    assert "tui-monitor" in screen.splitlines()[0]
    assert " LIVE " in screen.splitlines()[0]
    assert "Agents 3/3" in screen
    assert _modes(tmux)["alternate_on"] == "1"
    tmux.wait_text("/ Filter", "q Quit", "? Help")  # the footer fills in a moment later

    # j: the cursor moves one row down; the chart follows the selected agent.
    screen, before = tmux.wait_for(_selected, "a selected agent in the chart title")
    order = [row[0] for row in rows_named(screen, NAME)]
    assert before in order[:-1], screen
    below = order[order.index(before) + 1]
    tmux.keys("j")
    tmux.wait_for(lambda s: _selected(s) == below, f"{below} selected after j")

    # / filter: one row left while typing; Enter keeps the filter and leaves the box.
    tmux.keys("/")
    tmux.wait_text("filter: text or regex")
    tmux.type("worker#2")
    screen, _ = tmux.wait_for(lambda s: list(_table(s)) == [f"{NAME}#2"], "only #2 filtered")
    tmux.keys("Enter")
    screen, _ = tmux.wait_for(
        lambda s: list(_table(s)) == [f"{NAME}#2"] and _selected(s) == f"{NAME}#2",
        "the filtered agent selected",
    )
    assert "worker#2" in screen.split(" NAME ")[0], "the filter text stays in its box"

    # Escape: the filter goes, all rows come back, the cursor stays on the agent.
    tmux.keys("Escape")
    screen, _ = tmux.wait_for(
        lambda s: len(_table(s)) == 3 and "worker#2" not in s.split(" NAME ")[0],
        "all rows back after Escape",
    )
    assert _selected(screen) == f"{NAME}#2"

    # Enter: the agent screen, with this agent's details and pid.
    tmux.keys("Enter")
    idle2 = agents[f"{NAME}#2"]
    screen = tmux.wait_text("esc Back")
    screen, _ = tmux.wait_for(
        lambda s: (
            re.search(rf"│agent\s+{re.escape(NAME)}#2\s", s)
            and re.search(rf"│pids\s+{idle2.pid}\s", s)
        ),
        "the agent's details with its pid",
    )
    assert re.search(r"│status\s+idle\s", screen), screen
    assert re.search(r"│kind\s+e2e \(config\)", screen), screen

    def tree_shown(screen: str) -> object:
        # The details wrap the whole command line now, so at 100x30 the tree is further down
        # the focused details pane: End scrolls there (again, as the tree loads a tick later).
        found = re.search(rf"│\s*{idle2.pid}\s+python\s", screen)
        if not found:
            tmux.keys("End")
        return found

    tmux.wait_for(tree_shown, "process tree")

    # Escape: back on the dashboard, same agent selected.
    tmux.keys("Escape")
    screen, _ = tmux.wait_for(  # the footer follows the screen a moment later
        lambda s: _all_rows(agents)(s) and "/ Filter" in s, "the dashboard and its footer again"
    )
    assert _selected(screen) == f"{NAME}#2"

    # Resize: smaller (80x24, chart makes room) and bigger (120x40, more columns).
    tmux.resize(80, 24)
    screen, _ = tmux.wait_for(
        lambda s: (
            _all_rows(agents)(s)
            and re.search(r"\d\d:\d\d:\d\d\s*$", s.splitlines()[0])
            and len(s.splitlines()[0]) <= 80
            and " KIND " not in s
        ),
        "the dashboard at 80x24",
    )
    assert tmux.size() == (80, 24)
    assert _selected(screen) is None, "no chart below 100 columns"
    assert tmux.dead() is None
    tmux.resize(120, 40)
    screen, _ = tmux.wait_for(
        lambda s: _all_rows(agents)(s) and " KIND " in s and _selected(s) == f"{NAME}#2",
        "the dashboard at 120x40 with the KIND column and the chart",
    )
    assert tmux.size() == (120, 40)
    assert all(_table(screen)[n]["kind"] == "e2e" for n in agents), "the KIND column"

    # q: the program exits cleanly and nothing is left running.
    tmux.keys("q")
    assert tmux.wait_exit() == 0, tmux.screen()
    _terminal_restored(tmux)
    _no_program_left(pid, config)
    assert (tmp_path / "history.db").stat().st_size > 0, "it recorded where the config said"


def test_term_screen(tmux: Tmux, spawn_agent: SpawnAgent, tmp_path: Path) -> None:
    """A plainer terminal type (TERM=screen, as in GNU screen and old tmux setups) works too."""
    tag, agents = _fleet(spawn_agent)
    config = _config(tmp_path, tag)
    pid = tmux.start([str(EXE)], _env(config, "screen"), (100, 30))
    screen, _ = tmux.wait_for(_all_rows(agents), "three agents with their pids", timeout=20)
    assert "Agents 3/3" in screen
    screen, before = tmux.wait_for(_selected, "a selected agent in the chart title")
    tmux.keys("j")
    tmux.wait_for(lambda s: _selected(s) not in (None, before), "another agent after j")
    tmux.resize(80, 24)
    tmux.wait_for(
        lambda s: _all_rows(agents)(s) and " KIND " not in s,
        "the dashboard at 80x24",
    )
    tmux.keys("q")
    assert tmux.wait_exit() == 0, tmux.screen()
    _terminal_restored(tmux)
    _no_program_left(pid, config)


def test_replay_a_moment_from_the_command_line(
    tmux: Tmux, spawn_agent: SpawnAgent, tmp_path: Path
) -> None:
    """Record a little, quit; `tui-monitor --at TIME` shows that moment; `[` steps back;
    Escape goes live; q quits."""
    tag, agents = _fleet(spawn_agent)
    config = _config(tmp_path, tag)
    env = _env(config, "xterm-256color")
    tmux.start([str(EXE)], env, (100, 30))
    tmux.wait_for(_all_rows(agents), "three agents with their pids", timeout=20)
    time.sleep(3.0)  # several ticks with all three, recorded (0.5 s apart)
    moment = datetime.now().astimezone().replace(microsecond=0)
    time.sleep(1.5)
    tmux.keys("q")
    assert tmux.wait_exit() == 0, tmux.screen()
    tmux.tmux("kill-session", "-t", tmux.target)

    pid = tmux.start([str(EXE), "--at", f"{moment:%Y-%m-%d %H:%M:%S}"], env, (100, 30))

    def clock(screen: str) -> datetime | None:
        found = re.search(r"(\d\d):(\d\d):(\d\d)\s*$", screen.splitlines()[0])
        if not found:
            return None
        h, m, s = map(int, found.groups())
        return moment.replace(hour=h, minute=m, second=s)

    screen, _ = tmux.wait_for(
        lambda s: " REPLAY " in s.splitlines()[0] and _all_rows(agents)(s),
        "the replayed moment with the three agents",
        timeout=20,
    )
    shown = clock(screen)
    assert shown is not None and moment - timedelta(seconds=2) <= shown <= moment, screen
    tmux.keys("[", "[", "[")  # ticks are 0.5 s apart: three steps back cross a second
    screen, _ = tmux.wait_for(
        lambda s: (c := clock(s)) is not None and c < shown, "an earlier tick after [ [ ["
    )
    assert " REPLAY " in screen.splitlines()[0]
    tmux.keys("Escape")
    tmux.wait_for(lambda s: " LIVE " in s.splitlines()[0], "live again after Escape")
    tmux.keys("q")
    assert tmux.wait_exit() == 0, tmux.screen()
    _no_program_left(pid, config)
