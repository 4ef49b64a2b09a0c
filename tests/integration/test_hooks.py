"""Hook payloads over real HTTP to the real receiver (its h11 server on loopback) with a real
session book: the records the book gets, the refusals, and the command hook with the recorder
down."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.hook_payloads import CLAUDE, CODEX, CODEX_SID, NOTIFY, SID, claude
from tui_monitor.config import OtlpSettings
from tui_monitor.otlp.integrate import hookpost_command
from tui_monitor.otlp.receiver import OtlpReceiver
from tui_monitor.sessions.book import SessionBook
from tui_monitor.sessions.records import SessionRecord, SessionSignal


class RecordingBook(SessionBook):
    """The real book, keeping what it was given for the test to assert."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[SessionRecord] = []

    def add(self, records: Iterable[SessionRecord], source: int = 0) -> None:
        records = list(records)
        self.got.extend(records)
        super().add(records, source)


class Server:
    def __init__(self, tmp: Path, *, book_open: bool = True) -> None:
        self.book = RecordingBook()
        self.open = book_open
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        settings = OtlpSettings(listen=f"127.0.0.1:{port}")
        self.receiver = OtlpReceiver(
            settings, tmp / "otlp.token", lambda: self.book if self.open else None,
            tmp / "data" / "hooks.token",
        )  # fmt: skip
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self.loop).result(10)
        self.port = self.receiver.server.port
        self.otlp_token = (tmp / "otlp.token").read_text().strip()
        self.hooks_token = (tmp / "data" / "hooks.token").read_text().strip()

    def post(self, path: str, body: bytes, token: str | None = None,
             ctype: str = "application/json") -> tuple[int, bytes]:  # fmt: skip
        headers = {"Content-Type": ctype}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body,
                                     headers=headers, method="POST")  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path)
    yield s
    s.close()


def signals(book: RecordingBook) -> list[tuple[str, str, str | None, str | None]]:
    return [(r.event, r.state, r.reason, r.tool) for r in book.got if isinstance(r, SessionSignal)]


def test_every_claude_event_reaches_the_book_as_signals(server: Server) -> None:
    for _, doc, _ in CLAUDE:
        status, body = server.post(
            "/hooks/claude-code", json.dumps(doc).encode(), server.hooks_token
        )
        assert (status, body) == (200, b"")  # 2xx, empty: "no decision" to Claude Code
    expected = [(d["hook_event_name"], *e) for _, d, e in CLAUDE if e is not None]
    assert signals(server.book) == expected
    assert all(r.source == "hook" and r.family == "claude-code" for r in server.book.got
               if isinstance(r, SessionSignal))  # fmt: skip
    session = server.book.sessions[SID]
    assert session.cwd == "/home/dev/proj"
    assert session.live.signal is not None and session.live.signal.state == "ended"  # the newest
    assert "SECRET" not in repr(server.book.got)
    status = server.receiver.status()
    assert status.hooks == len(CLAUDE) and status.rejected == 0


def test_codex_hooks_and_notify(server: Server) -> None:
    for _, doc, _ in CODEX:
        assert server.post("/hooks/codex", json.dumps(doc).encode(), server.hooks_token)[0] == 200
    assert server.post("/hooks/codex", json.dumps(NOTIFY).encode(), server.otlp_token)[0] == 200
    expected = [(d["hook_event_name"], *e) for _, d, e in CODEX if e is not None]
    assert signals(server.book) == [*expected, ("agent-turn-complete", "idle", None, None)]
    assert server.book.sessions[CODEX_SID].live.signal is not None
    assert "SECRET" not in repr(server.book.got)


def test_refusals_are_counted_and_valid_hooks_after_them_are_taken(server: Server) -> None:
    good = json.dumps(claude("PermissionRequest", tool_name="Bash")).encode()
    assert server.post("/hooks/claude-code", good)[0] == 401
    assert server.post("/hooks/claude-code", good, "wrong")[0] == 401
    status, answer = server.post("/hooks/claude-code", b"{nope", server.hooks_token)
    assert status == 400 and b"not JSON" in answer
    assert server.post("/hooks/claude-code", b'{"session_id": "x"}', server.hooks_token)[0] == 400
    big = json.dumps(claude("PostToolUse", tool_response="x" * 300_000)).encode()
    assert server.post("/hooks/claude-code", big, server.hooks_token)[0] == 413
    assert server.post("/hooks/claude-code", good, server.hooks_token, "text/plain")[0] == 415
    assert server.post("/hooks/gemini-x", good, server.hooks_token)[0] == 404
    # the hooks token opens only /hooks: OTLP still wants its own
    assert server.post("/v1/logs", b"{}", server.hooks_token)[0] == 401
    assert server.book.got == []
    rejected = server.receiver.status().rejected
    assert rejected == 8
    # unknown events: 200, counted, ignored
    assert server.post("/hooks/claude-code", json.dumps(claude("FutureEvent")).encode(),
                       server.hooks_token) == (200, b"")  # fmt: skip
    assert server.receiver.status().hooks_unknown == 1 and server.book.got == []
    assert server.post("/hooks/claude-code", good, server.hooks_token)[0] == 200
    assert signals(server.book) == [("PermissionRequest", "needs_input", "permission", "Bash")]
    assert server.receiver.status().rejected == rejected


def test_hookpost_posts_stdin_and_notify_argument(server: Server, tmp_path: Path) -> None:
    token_file = tmp_path / "data" / "hooks.token"
    url = f"http://127.0.0.1:{server.port}/hooks/codex"
    command = hookpost_command(url, token_file)
    stop = json.dumps(CODEX[5][1])
    done = subprocess.run(command, shell=True, input=stop, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    done = subprocess.run(f"{command} {json.dumps(json.dumps(NOTIFY))}", shell=True,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0
    assert [s[0] for s in signals(server.book)] == ["Stop", "agent-turn-complete"]


def test_hookpost_with_the_recorder_down_exits_0_silently(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    token = tmp_path / "hooks.token"
    token.write_text("t\n")
    os.chmod(token, 0o600)
    for url, tok in [(f"http://127.0.0.1:{port}/hooks/codex", token),
                     ("http://10.255.255.1:9/hooks/codex", token),  # unroutable: times out
                     (f"http://127.0.0.1:{port}/hooks/codex", tmp_path / "missing")]:  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-P", "-m", "tui_monitor.hookpost", url, str(tok)],
            input=json.dumps(CODEX[0][1]), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_hooks_before_the_book_opens_wait_for_it(tmp_path: Path) -> None:
    """A recorder's first seconds (the book opens after the server): hooks are answered and
    kept, not refused (an agent does not retry a hook), and reach the book once it opens."""
    server = Server(tmp_path, book_open=False)
    try:
        body = json.dumps(claude("PermissionRequest", tool_name="Bash")).encode()
        assert server.post("/hooks/claude-code", body, server.hooks_token) == (200, b"")
        assert server.book.got == [] and server.receiver.rejected == 0
        server.open = True
        deadline = time.monotonic() + 10
        while not server.book.got:
            assert time.monotonic() < deadline, "the early hook never reached the book"
            time.sleep(0.02)
        signals = [r for r in server.book.got if isinstance(r, SessionSignal)]
        assert [(s.state, s.reason, s.tool) for s in signals] == [
            ("needs_input", "permission", "Bash")
        ]
    finally:
        server.close()


def test_each_hook_drives_the_status_the_table_shows(server: Server) -> None:
    """Posted one at a time over HTTP, each Claude Code event with a state leaves the
    session's row saying it: the STATUS cell a person reads, exact (no `~`)."""
    from tui_monitor.models import AgentSample
    from tui_monitor.sessions.join import join
    from tui_monitor.ui.columns import shown_status

    row = AgentSample(name="claude", kind="coding", source="preset", status="running",
                      pid=4242, create_time=0.0, cwd="/home/dev/proj", process="claude",
                      cmdline="claude")  # fmt: skip
    for name, doc, expect in CLAUDE:
        if expect is None:
            continue
        assert (
            server.post("/hooks/claude-code", json.dumps(doc).encode(), server.hooks_token)[0]
            == 200
        )
        (shown,) = join(server.book, (row,), time.time(), window=10.0, linger=60.0)
        state, reason, tool = expect
        label = state.replace("_", " ")
        if state == "needs_input":
            label += f": {tool if reason == 'permission' and tool else reason}"
        elif state == "error":
            label += f": {reason}"
        assert shown_status(shown) == label, (name, doc["hook_event_name"])
