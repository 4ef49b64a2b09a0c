"""Scripted fleet snapshots: what `FleetSource` hands the dashboard (this machine's agents,
then each host's tagged with `host`, and every host's `HostStatus`), built without ssh."""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from factories import CONFIG, agent, at, settings, snapshot

from tui_monitor.config import Settings
from tui_monitor.fleet.settings import FleetSettings, HostConfig
from tui_monitor.models import AgentSample, AgentStatus, HostState, HostStatus, Snapshot
from tui_monitor.source import ScriptedSource
from tui_monitor.ui.app import MonitorApp, make_app


def remote(
    name: str, host: str, *, cpu: float = 10.0, status: AgentStatus = "running", pid: int = 7000
) -> AgentSample:
    """Agent `name` of fleet host `host` (its pid is that machine's)."""
    return agent(name, cpu=cpu, status=status, pid=pid).model_copy(update={"host": host})


def host_status(
    name: str,
    state: HostState = "live",
    *,
    seq: int = 1,
    age: float = 1.0,
    reason: str | None = None,
) -> HostStatus:
    """Host `name` at tick `seq`, its newest snapshot `age` seconds old then."""
    when = at(seq - age).timestamp()
    return HostStatus(
        name=name, state=state, reason=reason, last_ts=when, received_at=when, remote_version="0.17"
    )


def fleet_snapshot(
    seq: int,
    hosts: Sequence[HostStatus],
    remote_agents: Iterable[AgentSample],
    local: Iterable[AgentSample] = (),
) -> Snapshot:
    """Tick `seq`: this machine's agents first, then the hosts' (the contract's order)."""
    snap = snapshot(seq, [*local, *remote_agents])
    return snap.model_copy(update={"hosts": tuple(hosts)})


def two_hosts(seq: int, gpu2: HostStatus | None = None, cpu: float = 30.0) -> Snapshot:
    """`claude` here, on gpu1 and on gpu2 (same name, three agents), `coder` here."""
    return fleet_snapshot(
        seq,
        [host_status("gpu1", seq=seq), gpu2 or host_status("gpu2", seq=seq)],
        [remote("claude", "gpu1", cpu=cpu), remote("claude", "gpu2", cpu=20.0, pid=4101)],
        [agent("claude", cpu=50.0, pid=4101), agent("coder", cpu=5.0, pid=4102)],
    )


def fleet_settings(
    hosts: Sequence[str] = ("gpu1", "gpu2"), ssh: str = "ssh", read_only: bool = False
) -> Settings:
    """The tests' settings with these `[[hosts]]` and `[fleet] ssh`."""
    base = settings()
    ui = base.ui.model_copy(update={"read_only": read_only})
    return base.model_copy(
        update={
            "hosts": [HostConfig(name=h) for h in hosts],
            "fleet": FleetSettings(ssh=ssh),
            "ui": ui,
        }
    )


def build_fleet_app(
    snapshots: Sequence[Snapshot], config: Settings | None = None
) -> tuple[MonitorApp, ScriptedSource]:
    source = ScriptedSource(snapshots)
    return make_app(config or fleet_settings(), source, None, config=CONFIG, utc=True), source


def fake_ssh(tmp_path: Path, code: int = 0, stderr: str = "", then: str = "") -> Path:
    """An `ssh` that records its argv (one per line) in `argv.txt` beside it, says `stderr`
    and exits with `code` (after running the shell command `then`, if any, its stderr joined
    to its stdout as on the pty of `ssh -t`: ssh's own stderr is what our app reads back)."""
    script = tmp_path / "fake-ssh"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "here = os.path.dirname(os.path.abspath(__file__))\n"
        "with open(os.path.join(here, 'argv.txt'), 'w') as f:\n"
        "    f.write('\\n'.join(sys.argv[1:]) + '\\n')\n"
        f"sys.stderr.write({stderr!r})\n"
        f"if {then!r}:  # its stderr on the terminal too, as a remote's is through ssh's pty\n"
        f"    os.system({then + ' 2>&1'!r})\n"
        f"sys.exit({code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script
