"""End to end: the installed `tui-monitor` in tmux, its own recorder taking Claude Code hook
payloads on `POST /hooks/claude-code` over loopback, as `integrate claude-code` has Claude
Code send them. A stand-in `claude` process in a project directory is the agent; its row goes
working -> needs input -> working -> idle as its hooks say, the Waiting card counts it, a
toast says it, and `w` goes to it from another agent's row.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import tomli_w
from standins import claude_process, monitor_env
from tmux_pane import Tmux

from tests.recorders import free_port

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).parent / "tui-monitor"
WAITS = "bbbb2222-0000-4000-8000-000000000002"
"""The stand-in's session: it will need input."""
BUSY = "aaaa1111-0000-4000-8000-000000000001"
"""A session with no process here (its own row, `claude:aaaa1111`), working throughout."""


def hook(port: int, token: str, sid: str, cwd: Path, event: str, **extra: object) -> None:
    """One hook input as Claude Code 2.1 posts it from an HTTP hook."""
    doc = {
        "session_id": sid,
        "transcript_path": f"{cwd}/.claude-transcript-{sid}.jsonl",
        "cwd": str(cwd),
        "permission_mode": "default",
        "hook_event_name": event,
        **extra,
    }
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/hooks/claude-code",
        data=json.dumps(doc).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    deadline = time.monotonic() + 30
    while True:  # 503 until the session book opens (after the first screen): Claude Code
        try:  # would see a failed hook and go on; the test retries
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 200 and resp.read() == b""  # no decision, ever
                return
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def row_of(screen: str, start: str) -> str:
    return next((ln for ln in screen.splitlines() if ln.strip().startswith(start)), "")


def test_an_agent_goes_working_needs_input_working_idle(tmp_path: Path, tmux: Tmux) -> None:
    with claude_process(tmp_path) as (project, pid):
        _watch(tmp_path, project, pid, tmux)


def _watch(tmp_path: Path, project: Path, pid: int, tmux: Tmux) -> None:
    port = free_port()
    token_file = tmp_path / "otlp.token"
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps({
        "interval": 1.0,
        "store": {"path": str(tmp_path / "history.db")},
        "gpu": {"enabled": False},
        "ingest": {"enabled": False},
        "otlp": {"listen": f"127.0.0.1:{port}", "token_file": str(token_file)},
        "ui": {"sort": "name"},
    }))  # fmt: skip
    env = monitor_env(config)
    tmux.start([str(EXE)], env, (160, 40))
    tmux.wait_text("Agents", timeout=30)
    deadline = time.monotonic() + 30
    while not token_file.exists():  # the recorder writes it as the receiver opens
        assert time.monotonic() < deadline, "no token file"
        time.sleep(0.05)
    token = token_file.read_text().strip()
    elsewhere = tmp_path / "elsewhere"

    def say(sid: str, event: str, **extra: object) -> None:
        hook(port, token, sid, project if sid == WAITS else elsewhere, event, **extra)

    say(WAITS, "SessionStart", source="startup", model="claude-sonnet-4-5")
    say(BUSY, "SessionStart", source="startup")
    say(BUSY, "UserPromptSubmit", prompt="SECRET")
    say(WAITS, "UserPromptSubmit", prompt="SECRET")
    pid_row = "claude    "  # the process's row (the preset's name), before claude:aaaa1111

    def mine(s: str) -> str:
        return next((ln for ln in s.splitlines() if f" {pid} " in ln), "")

    screen, _ = tmux.wait_for(
        lambda s: re.search(r"\bworking\b", mine(s)) and "Waiting 0" in s
        and re.search(r"\bworking\b", row_of(s, "claude:aaaa1111")),
        "the process's row and the other session working, nobody waiting",
        timeout=20,
    )  # fmt: skip
    assert mine(screen).lstrip().startswith(pid_row.strip()), screen
    assert "~" not in mine(screen)  # exact: said by a hook, no mark
    assert "claude:bbbb2222" not in screen  # the session is on its process's row

    say(WAITS, "PreToolUse", tool_name="Bash", tool_input={"command": "SECRET"})
    say(WAITS, "PermissionRequest", tool_name="Bash", tool_input={"command": "SECRET"})
    screen, _ = tmux.wait_for(
        lambda s: "needs input: Bash" in mine(s) and "Waiting 1" in s,
        "needs input on the row and the card",
        timeout=20,
    )
    tmux.wait_text("(w goes there)")  # the toast
    assert "w Next waiting" in screen

    tmux.keys("Down")  # to claude:aaaa1111, then w back to the one waiting, and open it
    tmux.keys("w")
    tmux.keys("Enter")
    detail = tmux.wait_text("esc Back", WAITS[:8], timeout=20)
    assert re.search(r"│state\s+needs input: Bash \(permission\)", detail), detail
    assert "(said by a hook)" in detail and "│last tool  Bash" in detail
    # the process's own screen (a preset's agent), the session on it
    assert "│kind       coding (preset)" in detail and "│recorded   claude:bbbb2222" in detail
    tmux.keys("Escape")
    tmux.wait_text("w Next waiting")

    say(WAITS, "PostToolUse", tool_name="Bash", tool_response={"stdout": "SECRET"})
    tmux.wait_for(
        lambda s: re.search(r"\bworking\b", mine(s)) and "Waiting 0" in s,
        "working again once the user said yes",
        timeout=20,
    )
    say(WAITS, "Stop", stop_hook_active=False)
    tmux.wait_for(lambda s: re.search(r"\bidle\b", mine(s)), "idle at the turn's end", timeout=20)
    assert re.search(r"otlp 0 in 8 hooks  ", screen_now := tmux.screen()), screen_now
    tmux.keys("q")
    assert tmux.wait_exit(timeout=20) == 0
    db = tmp_path / "history.db"
    assert b"SECRET" not in db.read_bytes()
    with contextlib.closing(sqlite3.connect(db)) as conn:  # what happened while you were away
        kept = conn.execute("SELECT agent, level, message FROM events WHERE kind = 'state'")
        warning = 30
        assert kept.fetchall() == [("claude:bbbb2222", warning, "needs input: Bash (permission)")]
