"""The fleet over a real sshd: a private OpenSSH server runs `tui-monitor stream` of a second
real recorder (its own config, DB and runtime dir); SshFleet gets its live snapshots with
that recorder's agents through the system ssh (with connection reuse); killing the server
turns the host unreachable within the timeout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from recorders import eventually, start_recorder, tui_monitor, write_config
from sshd import Sshd, control_masters, descendants, kill_all, start_sshd

from tests.conftest import SpawnAgent
from tui_monitor.fleet.link import SshFleet
from tui_monitor.fleet.settings import FleetSettings, HostConfig

pytestmark = pytest.mark.slow


@pytest.fixture
def remote(
    tmp_path: Path, short_dir: Path, monkeypatch: pytest.MonkeyPatch, spawn_agent: SpawnAgent
) -> Iterator[tuple[Sshd, Path, str]]:
    """A second recorder (its own everything) with one agent, and an sshd whose sessions
    see that recorder's config; (server, its db, the agent's name)."""
    worker = spawn_agent("idle")
    home = tmp_path / "remote"
    home.mkdir()
    cfg = write_config(
        home / "config.toml",
        short_dir / "remote.sock",
        extra="[otlp]\nenabled = false\n"
        f'[[agents]]\nname = "far-worker"\ncmdline = "{worker.tag}"\n',
    )
    env = {"TUI_MONITOR_CONFIG": str(cfg), "XDG_RUNTIME_DIR": str(short_dir)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    db = home / "history.db"
    start_recorder(db, short_dir / "remote.sock", home / "recorder.log")
    server = start_sshd(tmp_path, env)
    yield server, db, "far-worker"
    server.stop()


def far_host(server: Sshd, db: Path) -> HostConfig:
    """The second recorder's machine, reached through the private sshd."""
    return HostConfig(
        name="far", ssh="127.0.0.1", command=tui_monitor(), db=str(db),
        options=server.client_options(),
    )  # fmt: skip


def test_stream_over_ssh_by_hand(remote: tuple[Sshd, Path, str]) -> None:
    """The command a person would type: the handshake and a snapshot come back."""
    server, db, agent = remote
    host = far_host(server, db)
    argv = host.ssh_argv(FleetSettings(), None, host.remote_command("stream"), tty=False)
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        first = json.loads(proc.stdout.readline())
        second = json.loads(proc.stdout.readline())
    finally:
        proc.stdin.close()  # EOF: the remote stream ends by itself
        rc = proc.wait(20)
    assert first["tui_monitor_stream"] == 1 and first["interval"] == 0.2
    assert agent in [a["name"] for a in second["snapshot"]["agents"]]
    assert rc == 0, proc.stderr.read() if proc.stderr else ""


async def test_fleet_over_sshd_goes_live_then_unreachable(
    remote: tuple[Sshd, Path, str], short_dir: Path
) -> None:
    server, db, agent = remote
    control = short_dir / "ctl"
    control.mkdir(mode=0o700)
    host = far_host(server, db)
    fleet = FleetSettings(connect_timeout=3.0, stale_after=3.0, backoff_max=2.0)
    ssh = SshFleet([host], fleet, control)
    stop = asyncio.Event()
    changes: list[str] = []
    task = asyncio.create_task(ssh.run(lambda: changes.append(ssh.statuses()[0].state), stop))
    try:

        def live_with_agent() -> bool:
            s = ssh.statuses()[0]
            return (
                s.state == "live"
                and s.snapshot is not None
                and any(a.name == agent for a in s.snapshot.agents)
            )

        await eventually(
            live_with_agent, what=f"far live with {agent}: {ssh.statuses()[0]}\n{server.log()}"
        )
        first = ssh.statuses()[0]
        assert first.last_ts is not None
        await eventually(
            lambda: (ssh.statuses()[0].last_ts or 0) > (first.last_ts or 0), what="a newer snapshot"
        )
        assert list(control.iterdir()), "no ControlMaster socket"
        masters = control_masters(control)
        assert masters, "no ControlMaster process"

        streams = _descendants_named(server, b"stream")
        assert streams, "no remote tui-monitor stream under sshd"
        server.stop()  # the machine goes: listener, connections and sessions
        kill_all(masters)  # and the viewer's shared connection with it
        await eventually(
            lambda: ssh.statuses()[0].state == "unreachable",
            timeout=2 * fleet.connect_timeout + fleet.stale_after + 5,
            what=f"unreachable: {ssh.statuses()[0]}",
        )
        reason = ssh.statuses()[0].reason or ""
        assert reason and "\n" not in reason
        assert ssh.statuses()[0].snapshot is not None  # its last rows stay, marked
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert "live" in changes and changes[-1] in ("unreachable", "connecting")


def _descendants_named(server: Sshd, word: bytes) -> list[int]:
    found = []
    for pid in descendants(server.proc.pid):
        with contextlib.suppress(OSError):
            if word in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                found.append(pid)
    return found
