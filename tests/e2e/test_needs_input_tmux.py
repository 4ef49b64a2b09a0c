"""End to end: the real program in tmux, its own recorder's OTLP receiver fed over loopback
HTTP with Claude-Code-shaped OTLP JSON log events; one agent's row goes working -> needs
input -> working -> idle, the Waiting card counts it, a toast says it, `w` goes to it.

Needs input comes from hooks (another branch): until the merge it is a test-only OTLP event
(signal_monitor.py); the merge switches that one post to `POST /hooks/claude-code`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import tomli_w
from tmux_pane import Tmux

pytestmark = pytest.mark.slow

APP = Path(__file__).parent / "signal_monitor.py"
WAITS = "bbbb2222-0000-4000-8000-000000000002"
"""The session that will need input; `aaaa...` works on, and sorts first by name."""
BUSY = "aaaa1111-0000-4000-8000-000000000001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def event(sid: str, name: str, **attrs: str) -> dict[str, object]:
    """One log record as Claude Code 2.x's http/json exporter writes it: the name in the body
    and in `event.name`, every attribute a string, the time in nanoseconds as a string."""
    values = {"session.id": sid, "event.name": name, **attrs}
    return {
        "timeUnixNano": str(time.time_ns()),
        "body": {"stringValue": f"claude_code.{name}"},
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in values.items()],
    }


def post(port: int, token: str, *records: dict[str, object]) -> None:
    doc = {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"},
                       "logRecords": list(records)}],
    }]}  # fmt: skip
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/logs",
        data=json.dumps(doc).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    deadline = time.monotonic() + 30
    while True:  # 503 until the session book opens (after the first screen): retry, as
        try:  # an exporter does
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 200, resp.status
                return
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def row_of(screen: str, sid: str) -> str:
    """The table's row of the session (not the Waiting card's note, which names it too)."""
    name = f"claude:{sid[:8]}"
    return next((ln for ln in screen.splitlines() if ln.strip().startswith(name)), "")


def test_an_agent_goes_working_needs_input_working_idle(tmp_path: Path, tmux: Tmux) -> None:
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
    env = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "TUI_MONITOR_"))}
    env |= {
        "TERM": "xterm-256color",
        "TUI_MONITOR_CONFIG": str(config),
        "CLAUDE_CONFIG_DIR": os.environ["CLAUDE_CONFIG_DIR"],
        "CODEX_HOME": os.environ["CODEX_HOME"],
        "GEMINI_CLI_HOME": os.environ["GEMINI_CLI_HOME"],
    }
    tmux.start([sys.executable, str(APP)], env, (160, 40))
    tmux.wait_text("Agents", timeout=30)
    deadline = time.monotonic() + 30
    while not token_file.exists():  # the recorder writes it as the receiver opens
        assert time.monotonic() < deadline, "no token file"
        time.sleep(0.05)
    token = token_file.read_text().strip()

    post(port, token, event(BUSY, "user_prompt", prompt_length="5"),
         event(WAITS, "user_prompt", prompt_length="9"))  # fmt: skip
    screen, _ = tmux.wait_for(
        lambda s: re.search(r"\bworking\b", row_of(s, WAITS)) and "Waiting 0" in s,
        "both rows working, nobody waiting",
        timeout=20,
    )
    assert "~" not in row_of(screen, WAITS)  # exact: said by OTLP, no mark

    post(port, token, event(WAITS, "test_needs_input", tool_name="Bash"))
    screen, _ = tmux.wait_for(
        lambda s: "needs input: Bash" in row_of(s, WAITS) and "Waiting 1" in s,
        "needs input on the row and the card",
        timeout=20,
    )
    tmux.wait_text("(w goes there)")  # the toast
    assert "w Next waiting" in screen

    tmux.keys("w")  # from the first row (aaaa...) to the one waiting, then open it
    tmux.keys("Enter")
    detail = tmux.wait_text("esc Back", WAITS[:8], timeout=20)
    assert re.search(r"│state\s+needs input: Bash \(permission\) for", detail), detail
    tmux.keys("Escape")
    tmux.wait_text("w Next waiting")

    post(port, token, event(WAITS, "tool_decision", tool_name="Bash", decision="accept",
                            source="user_temporary"))  # fmt: skip
    tmux.wait_for(
        lambda s: re.search(r"\bworking\b", row_of(s, WAITS)) and "Waiting 0" in s,
        "working again once the user said yes",
        timeout=20,
    )
    post(port, token, event(WAITS, "tool_decision", tool_name="Edit", decision="reject",
                            source="user_reject"))  # fmt: skip
    tmux.wait_for(lambda s: re.search(r"\bidle\b", row_of(s, WAITS)), "idle", timeout=20)
    tmux.keys("q")
    assert tmux.wait_exit(timeout=20) == 0
