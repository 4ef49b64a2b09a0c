"""The fleet end to end, every part real: the dashboard (`tui-monitor --config X`) in tmux,
a `[[hosts]]` entry reaching a private OpenSSH server (tests/sshd.py) through the system ssh
(`options`: its port, key and known_hosts), whose sessions run `tui-monitor stream` of a
second real recorder (its own config, DB and runtime dir) watching a real agent process.

One screen shows both machines' agents; `enter` on the remote row opens that host's own
dashboard over the real `ssh -t` and `q` there brings ours back; then the machine goes away
(sshd, its sessions and our shared connection, SIGKILL) and the screen says so, with an age,
while our own rows keep ticking.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomli_w
from recorders import start_recorder, tui_monitor, write_config
from sshd import Sshd, control_masters, kill_all, start_sshd
from tmux_pane import Tmux

from tests.conftest import SpawnAgent
from tui_monitor.ui.fleet import short_hostname

pytestmark = pytest.mark.slow

REMOTE = "farbox"
"""The remote host's name in `[[hosts]]`: what its rows' HOST column says."""
SIZE = (200, 50)
"""Wide enough for the Hosts card's full form (a host's state, age and reason)."""
CLOCK = re.compile(r"\d\d:\d\d:\d\d\s*$")


@dataclass
class Fleet:
    server: Sshd
    config: Path
    """The local dashboard's config."""
    env: dict[str, str]
    """The local dashboard's environment."""
    control: Path
    """Where its ssh keeps the shared connections (ControlPath)."""


@pytest.fixture
def fleet(
    tmp_path: Path, short_dir: Path, monkeypatch: pytest.MonkeyPatch, spawn_agent: SpawnAgent
) -> Iterator[Fleet]:
    """A remote recorder behind sshd with `far-worker`; a local config with `near-worker`
    and the remote as `[[hosts]] farbox`."""
    far, near = spawn_agent("idle"), spawn_agent("idle")
    home = tmp_path / "remote"
    remote_rt = short_dir / "r"
    for d in (home, remote_rt):
        d.mkdir(mode=0o700)
    remote_cfg = write_config(
        home / "config.toml",
        short_dir / "remote.sock",
        extra=f'[otlp]\nenabled = false\n[[agents]]\nname = "far-worker"\ncmdline = "{far.tag}"\n',
    )
    remote_env = {
        "TUI_MONITOR_CONFIG": str(remote_cfg),
        "XDG_RUNTIME_DIR": str(remote_rt),
        **{f"XDG_{k}_HOME": str(home / k.lower()) for k in ("CONFIG", "DATA", "STATE", "CACHE")},
        **{k: os.environ[k] for k in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME")},
    }
    local_env = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "TUI_MONITOR_"))}
    for key, value in remote_env.items():
        monkeypatch.setenv(key, value)  # the remote recorder's
    db = home / "history.db"
    start_recorder(db, short_dir / "remote.sock", home / "recorder.log")
    server = start_sshd(tmp_path, remote_env)

    local_rt = short_dir / "l"  # short: ssh's ControlPath lives in it
    local_rt.mkdir(mode=0o700)
    config = tmp_path / "local.toml"
    config.write_text(
        tomli_w.dumps(
            {
                "interval": 0.5,
                "presets": {"enabled": False},
                "gpu": {"enabled": False},
                "otlp": {"enabled": False},
                "store": {"path": str(tmp_path / "local.db")},
                "ingest": {"socket": str(short_dir / "local.sock")},
                "fleet": {"connect_timeout": 5.0, "stale_after": 5.0, "backoff_max": 2.0},
                "agents": [{"name": "near-worker", "cmdline": near.tag}],
                "hosts": [
                    {
                        "name": REMOTE,
                        "ssh": "127.0.0.1",
                        "command": tui_monitor(),
                        "db": str(db),
                        "options": server.client_options(),
                    }
                ],
            }
        )
    )
    env = local_env | {"XDG_RUNTIME_DIR": str(local_rt), "TERM": "xterm-256color"}
    control = local_rt / "tui-monitor" / "ssh"
    yield Fleet(server, config, env, control)
    server.stop()
    kill_all(control_masters(control))


def _row(screen: str, host: str, name: str) -> str | None:
    """The table row of agent `name` on `host` (the HOST column first), if shown."""
    for line in screen.splitlines():
        if re.match(rf"\s*{re.escape(host)}\s+{re.escape(name)}\s", line):
            return line
    return None


def _clock(screen: str) -> str:
    found = CLOCK.search(screen.splitlines()[0])
    assert found, screen.splitlines()[0]
    return found.group(0).strip()


def test_two_hosts_on_one_screen_enter_opens_the_remote_then_it_goes_unreachable(
    tmux: Tmux, fleet: Fleet
) -> None:
    here = short_hostname(socket.gethostname())
    tmux.start([tui_monitor(), "--config", str(fleet.config)], fleet.env, SIZE)

    # Both machines' agents on one screen, each with its host; the Hosts card says live.
    screen, _ = tmux.wait_for(
        lambda s: (
            _row(s, here, "near-worker")
            and _row(s, REMOTE, "far-worker")
            and "Hosts 1/1 live" in s
            and f"{REMOTE} live: tui-monitor" in s
        ),  # the event log's line
        "both hosts' agents, the remote live",
        timeout=60,
    )
    assert "HOST" in screen
    assert control_masters(fleet.control), "no shared ssh connection (ControlMaster)"

    # enter on the remote row: its own dashboard, over the real ssh -t.
    for _ in range(5):  # the cursor starts on whichever row came first
        if "far-worker@farbox CPU %" in tmux.screen():
            break
        tmux.keys("k")
        tmux.wait_for(lambda s: "@farbox CPU %" in s or "near-worker CPU %" in s, "a chart")
    tmux.wait_text(f"far-worker@{REMOTE} CPU %")
    tmux.keys("Enter")
    screen, _ = tmux.wait_for(
        lambda s: "ATTACHED" in s and "far-worker" in s and "HOST" not in s,
        "the remote's own dashboard (attached to its recorder, no HOST column)",
        timeout=60,
    )
    assert "near-worker" not in screen
    tmux.keys("q")
    screen, _ = tmux.wait_for(
        lambda s: "HOST" in s and _row(s, REMOTE, "far-worker") and "ATTACHED" not in s,
        "our dashboard back",
        timeout=30,
    )
    assert "ssh" not in screen.split("Events", 1)[-1], screen  # exit 0: no toast

    # The machine goes away: its sshd, its sessions, and our shared connection to it.
    masters = control_masters(fleet.control)
    fleet.server.stop()
    kill_all(masters)
    gone = re.compile(rf"{REMOTE} unreachable (\d+)s: ")  # the card: state, age, reason
    screen, _ = tmux.wait_for(
        lambda s: "Hosts 0/1 live" in s and gone.search(s), "the host unreachable", timeout=60
    )
    row = _row(screen, REMOTE, "far-worker")
    assert row is not None and "unreachable" in row, screen  # its last figures stay, marked
    assert _row(screen, here, "near-worker"), screen

    # ...while our own rows keep going (the header's clock is the local snapshot's time),
    # and the host's age counts up.
    before = _clock(screen)

    def later(s: str) -> bool:
        age = gone.search(s)
        return bool(age and int(age.group(1)) >= 2 and _clock(s) != before)

    screen, _ = tmux.wait_for(later, "local ticks after the host went", timeout=30)
    assert _row(screen, here, "near-worker") and "Hosts 0/1 live" in screen, screen
    tmux.keys("q")
    assert tmux.wait_exit(timeout=30) == 0
