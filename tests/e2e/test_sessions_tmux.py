"""End to end: a real process named `claude` in a project directory and the transcript its
session writes there; the installed `tui-monitor` in tmux shows one row for both: the
process's pid with the session's model, tokens, cost and inferred state. A second session,
with no process, full of hostile text, is its own row, escaped; the app keeps running.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest
import tomli_w
from standins import claude_process, monitor_env
from tmux_pane import Tmux

from tests.claude_transcripts import Ledger, Transcript
from tui_monitor import fmt

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).parent / "tui-monitor"
M = 1_000_000
HOSTILE_MODEL = "claude-\x1b]0;pwned\x07-\u202eevil"
HOSTILE_DIR = "proj\x1b[31mRED"


def cost(t: tuple[int, int, int, int, int]) -> float:
    inp, out, read, write, write_1h = t
    return (inp * 3.0 + out * 15.0 + read * 0.3 + (write - write_1h) * 3.75 + write_1h * 6.0) / M


def row_of(screen: str, pid: int) -> str | None:
    return next((line for line in screen.splitlines() if f" {pid} " in line), None)


def test_a_claude_process_row_carries_its_sessions_tokens_and_cost(
    tmp_path: Path, tmux: Tmux
) -> None:
    with claude_process(tmp_path) as (project, pid):
        _watch(tmp_path, project, pid, tmux)


def _watch(tmp_path: Path, project: Path, pid: int, tmux: Tmux) -> None:
    projects = Path(os.environ["CLAUDE_CONFIG_DIR"]) / "projects"
    truth = Ledger()
    t = Transcript(projects / "-project" / "s-e2e.jsonl", "4f1c2d3e-aaaa-4bbb-8ccc-000000000001",
                   cwd=str(project), ledger=truth, start=time.time() + 0.5)  # fmt: skip
    for i in range(3):
        t.user()
        t.response(f"m{i}", input=40, output=900 + i, cache_read=20_000, cache_write=3_000,
                   cache_write_1h=1_000, copies=3, tools=("Bash",))  # fmt: skip
    t.response("m-end", input=5, output=77, end_turn=True)
    (tmp_path / HOSTILE_DIR).mkdir()
    bad = Transcript(projects / "-bad" / "s-bad.jsonl", "bad\x1b[2Jsession",
                     cwd=str(tmp_path / HOSTILE_DIR), branch="\x1b[5mblink", ledger=Ledger(),
                     start=time.time() - 30)  # fmt: skip
    bad.user()
    bad.response("b1", model=HOSTILE_MODEL, output=5)

    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps({
        "interval": 1.0,
        "store": {"path": str(tmp_path / "history.db")},
        "gpu": {"enabled": False},
        "ingest": {"enabled": False},
        "prices": {"claude-sonnet-4-5*": {"input": 3.0, "output": 15.0, "cache_read": 0.3,
                                          "cache_write": 3.75, "cache_write_1h": 6.0}},
    }))  # fmt: skip
    env = monitor_env(config)
    totals = truth.totals()["4f1c2d3e-aaaa-4bbb-8ccc-000000000001"]
    tokens = fmt.count(sum(totals[:4]))
    dollars = fmt.cost(cost(totals))
    tmux.start([str(EXE)], env, (200, 40))

    def joined(screen: str) -> object:
        row = row_of(screen, pid)
        return row and "sonnet-4-5" in row and f" {tokens} " in row and dollars in row

    screen, _ = tmux.wait_for(joined, f"pid {pid} with {tokens} tokens and {dollars}", timeout=30)
    row = row_of(screen, pid)
    assert row is not None and re.search(r"\bclaude\b", row) and "~idle" in row, row
    # The session's own name is not a second row: it is on the process's row.
    assert "claude:4f1c2d3e" not in screen
    # The hostile session has no process: its own row, every control character escaped.
    assert "has exited" not in screen  # a session with no process is no exited agent
    assert "\x1b" not in screen and "\x07" not in screen and "\u202e" not in screen
    bad_row = next((line for line in screen.splitlines() if "claude:bad2Jses" in line), "")
    assert "exited" in bad_row and "claude-\\x" in bad_row, screen  # the model, escaped

    # The agent screen: the session's details under the process's.
    tmux.keys("/")
    tmux.wait_text("filter: text or regex")
    tmux.type("~idle")  # the status shown: only the joined row
    tmux.wait_for(lambda s: "claude:bad2Jses" not in s, "the filter leaving one row")
    tmux.keys("Enter")  # leaves the filter box, the row selected
    tmux.wait_text("╭─ claude CPU %", "/ Filter")
    tmux.keys("Enter")
    detail = tmux.wait_text("esc Back", "4f1c2d3e-aaaa-4bbb-8ccc-", "claude:4f1c2d3e", timeout=20)
    assert re.search(rf"│tokens\s+input\s+{totals[0]:,}\s", detail), detail
    assert re.search(r"│state\s+~idle", detail), detail
    tmux.keys("Escape")
    tmux.wait_text("/ Filter")
    tmux.keys("q")
    assert tmux.wait_exit() == 0
