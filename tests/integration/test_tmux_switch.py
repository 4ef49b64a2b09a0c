"""`t`'s work against the real tmux: a private server (-L), an agent in its second window.

From outside tmux the pane and its attach command are said; from inside the same server the
window and pane are selected (tmux itself says which is active now); from another server,
only said."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tui_monitor.act import tmux
from tui_monitor.act.tmux import TmuxError, find_pane, go_to

AGENTS = Path(__file__).resolve().parents[1] / "agents"
SESSION = "odd name"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Server:
    def __init__(self, tmp_path: Path) -> None:
        self.name = f"tuimon-act-{uuid.uuid4().hex[:8]}"
        self.conf = tmp_path / "tmux.conf"
        self.conf.write_text("set -g status off\n")

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.name, "-f", str(self.conf), *args],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip

    @property
    def socket(self) -> str:
        return self("display", "-p", "#{socket_path}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    srv("new-session", "-d", "-s", SESSION, "-x", "80", "-y", "20", "sleep 3600")
    try:
        yield srv
    finally:
        subprocess.run(["tmux", "-L", srv.name, "kill-server"], capture_output=True, timeout=10)


def start_agent(server: Server, target: str) -> int:
    """An idle agent under a shell in a new window of `target`; its pid."""
    tag = f"act-{uuid.uuid4().hex[:8]}"
    command = f"{sys.executable} {AGENTS / 'idle.py'} --tag {tag}; true"
    shell = int(server("new-window", "-d", "-P", "-F", "#{pane_pid}", "-t", target, command))
    deadline = time.monotonic() + 10
    while not (kids := psutil.Process(shell).children()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert kids, "the agent did not start"
    return kids[0].pid


def test_the_pane_is_found_and_said_from_outside_tmux(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = start_agent(server, SESSION)
    pane = find_pane([agent])
    assert pane is not None and pane.target == f"{SESSION}:1.0"
    assert pane.socket == server.socket
    monkeypatch.delenv("TMUX", raising=False)
    where = go_to([agent])
    assert not where.switched and where.why == "this monitor does not run inside tmux"
    assert where.tty == pane.tty  # the agent's controlling terminal is its pane's
    assert pane.attach_command() == f"tmux -L {server.name} attach -t '{SESSION}:1.0'"
    assert server("display", "-p", "-t", SESSION, "#{window_index}") == "0"  # nothing moved


def test_inside_the_same_server_it_selects_the_window_and_pane(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = start_agent(server, SESSION)
    ours = server("display", "-p", "-t", f"{SESSION}:0", "#{pane_id}")
    monkeypatch.setenv("TMUX", f"{server.socket},1,0")
    monkeypatch.setenv("TMUX_PANE", ours)
    where = go_to([agent])
    assert where.switched and where.pane is not None
    assert server("display", "-p", "-t", SESSION, "#{window_index}.#{pane_index}") == "1.0"


def test_another_session_needs_a_client_to_switch(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server("new-session", "-d", "-s", "mine", "sleep 3600")
    agent = start_agent(server, SESSION)
    monkeypatch.setenv("TMUX", f"{server.socket},1,1")
    monkeypatch.setenv("TMUX_PANE", server("display", "-p", "-t", "mine", "#{pane_id}"))
    with pytest.raises(TmuxError, match="switch-client"):
        go_to([agent])  # detached: no client to switch (a person's terminal would be one)


def test_from_another_server_it_only_says_where(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = start_agent(server, SESSION)
    other = Server(tmp_path)
    other("new-session", "-d", "-s", "x", "sleep 3600")
    try:
        monkeypatch.setenv("TMUX", f"{other.socket},1,0")
        where = go_to([agent])
        assert not where.switched and where.why == "it runs in another tmux server"
    finally:
        subprocess.run(["tmux", "-L", other.name, "kill-server"], capture_output=True, timeout=10)
    assert server("display", "-p", "-t", SESSION, "#{window_index}") == "0"


def test_a_tmux_that_fails_is_an_error_for_a_person(tmp_path: Path) -> None:
    with pytest.raises(TmuxError, match="list-panes"):
        tmux.tmux(str(tmp_path / "no-server"), "list-panes", "-a")
