"""Finding an agent's tmux pane from real process trees, against a pane list we write.

The "server" is a real process named tmux (a symlink to python) listening on a real Unix
socket, with a shell (the pane's process) that runs a real agent under it; only the server's
answer to `list-panes` is ours. The real tmux is in tests/integration/test_tmux_switch.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import SpawnAgent
from tui_monitor.act import tmux
from tui_monitor.act.tmux import Pane, find_pane, pane_process, parse_panes, server_socket

AGENTS = Path(__file__).resolve().parents[1] / "agents"
SERVER = """
import socket, subprocess, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen()
shell = subprocess.Popen(["sh", "-c", sys.argv[2] + "; true"])
print(shell.pid, flush=True)
time.sleep(3600)
"""


def line(*fields: object) -> str:
    return "\t".join(map(str, fields))


def test_parse_panes_keeps_odd_session_names_and_skips_bad_lines() -> None:
    text = "\n".join([
        line("%0", 100, "/dev/pts/1", 0, 0, "$0", "plain"),
        line("%3", 103, "/dev/pts/4", 2, 1, "$1", "with\ttab: and ;rm -rf"),
        "garbage",
        line("%4", "x", "/dev/pts/5", 0, 0, "$2", "bad pid"),
    ])  # fmt: skip
    panes = parse_panes(text, "/tmp/s")
    assert [p.pane_id for p in panes] == ["%0", "%3"]
    odd = panes[1]
    assert (odd.pid, odd.window, odd.index, odd.session) == (103, 2, 1, "with\ttab: and ;rm -rf")
    assert odd.target == "with\ttab: and ;rm -rf:2.1"
    # The attach command quotes the hostile name: a shell sees one argument.
    assert odd.attach_command() == "tmux -S /tmp/s attach -t 'with\ttab: and ;rm -rf:2.1'"


def test_socket_args_name_the_server_as_a_person_types_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TMUX_TMPDIR", str(tmp_path))
    own = tmp_path / f"tmux-{os.getuid()}"
    assert tmux.socket_args(str(own / "default")) == []
    assert tmux.socket_args(str(own / "work")) == ["-L", "work"]
    assert tmux.socket_args("/elsewhere/sock") == ["-S", "/elsewhere/sock"]


@pytest.fixture
def fake_server(short_dir: Path) -> Iterator[tuple[psutil.Process, int, int, str]]:
    """(the server, the pane's shell pid, the agent's pid under it, the socket path)."""
    exe = short_dir / "tmux"
    exe.symlink_to(sys.executable)  # the kernel names the process after the path run: tmux
    socket = str(short_dir / "sock")
    agent = f"{sys.executable} {AGENTS / 'idle.py'} --tag fake-pane"
    proc = subprocess.Popen(
        [str(exe), "-c", SERVER, socket, agent], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        shell = psutil.Process(int(proc.stdout.readline()))
        deadline = time.monotonic() + 10
        while not (kids := shell.children()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert kids, "the agent under the pane's shell did not start"
        yield psutil.Process(proc.pid), shell.pid, kids[0].pid, socket
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_the_pane_is_the_ancestor_whose_parent_is_the_server(
    fake_server: tuple[psutil.Process, int, int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, shell, agent, socket = fake_server
    assert server.name() == "tmux"
    found = pane_process(agent)
    assert found is not None and found[0] == shell and found[1].pid == server.pid
    itself = pane_process(shell)
    assert itself is not None and itself[0] == shell
    assert server_socket(server) == socket
    asked: list[tuple[str, ...]] = []

    def fake_tmux(sock: str, *args: str) -> str:
        asked.append((sock, *args))
        return "\n".join([
            line("%0", 1, "/dev/pts/1", 0, 0, "$0", "other"),
            line("%7", shell, "/dev/pts/9", 3, 1, "$2", "work"),
        ])  # fmt: skip

    monkeypatch.setattr(tmux, "tmux", fake_tmux)
    pane = find_pane([agent])
    assert pane == Pane("%7", shell, "/dev/pts/9", 3, 1, "$2", "work", socket)
    assert asked == [(socket, "list-panes", "-a", "-F", tmux.FORMAT)]


def test_a_pane_the_server_does_not_list_is_none(
    fake_server: tuple[psutil.Process, int, int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, agent, _ = fake_server
    monkeypatch.setattr(tmux, "tmux", lambda *_: line("%0", 1, "/dev/pts/1", 0, 0, "$0", "x"))
    assert find_pane([agent]) is None


def test_outside_tmux_there_is_no_pane(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("idle")
    if any(p.name().startswith("tmux") for p in psutil.Process().parents()):
        pytest.skip("the tests themselves run inside tmux")
    assert pane_process(agent.pid) is None
    assert find_pane([agent.pid]) is None
    where = tmux.go_to([agent.pid])
    assert where.pane is None and where.why == "it does not run inside tmux"
    assert pane_process(2**22 + 1) is None  # no such pid
