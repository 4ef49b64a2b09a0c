"""HostLink with a real subprocess in ssh's place (`[fleet] ssh` = a small script that plays
a remote by its destination's name): every way a remote goes wrong ends in its own state
and one clean line, and never touches another host."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from factories import agent, snapshot
from recorders import eventually

from tui_monitor.fleet import protocol
from tui_monitor.fleet.link import HostLink, SshFleet
from tui_monitor.fleet.settings import FleetSettings, HostConfig
from tui_monitor.models import HostStatus

GOOD = protocol.encode_handshake("9.9", "far", 0.2).decode()
SNAP = protocol.encode_snapshot(snapshot(1, [agent("claude#1"), agent("codex")])).decode()
OLD = json.dumps({"tui_monitor_stream": 0, "version": "0.0.1", "host": "old", "interval": 1})
EVIL = json.loads(SNAP)
EVIL["snapshot"]["agents"][0]["name"] = "x\x1b]52;c;cHduZWQ=\x07"
EVIL["snapshot"]["host"]["hostname"] = "h\x1b[2J"

# The fake ssh: argv is `ssh -T -o ... -- DESTINATION COMMAND`; it plays DESTINATION.
SCRIPT = f"""\
#!{sys.executable}
import sys, time, os
dest = sys.argv[sys.argv.index("--") + 1]
out = sys.stdout
def say(text):
    out.write(text); out.flush()
GOOD, SNAP, OLD, EVIL = {GOOD!r}, {SNAP!r}, {OLD!r}, {json.dumps(EVIL)!r}
if dest == "good":
    say(GOOD)
    while True:
        say(SNAP); time.sleep(0.2)
elif dest == "garbage":
    say("Welcome to gpu1! Last login: yesterday\\n")
elif dest == "garbage-later":
    say(GOOD); say(SNAP); say("{{not json\\n"); time.sleep(30)
elif dest == "old":
    say(OLD + "\\n"); time.sleep(30)
elif dest == "partial":
    say(GOOD); say(SNAP); say(SNAP[:40])
elif dest == "huge":
    say(GOOD); chunk = "x" * 65536
    while True:
        out.write(chunk)
elif dest == "flood":
    say(GOOD)
    while True:
        out.write('{{"warning": ""}}\\n')
elif dest == "evil":
    say(GOOD); say(EVIL + "\\n"); time.sleep(30)
elif dest == "denied":
    sys.stderr.write("Warning: Permanently added 'denied' (ED25519) to known hosts.\\r\\n")
    sys.stderr.write("root@denied: Permission denied (publickey).\\r\\n"); sys.exit(255)
elif dest == "unknown":
    sys.stderr.write("ssh: Could not resolve hostname unknown: Name or service not known\\r\\n")
    sys.exit(255)
elif dest == "missing":
    sys.stderr.write("bash: line 1: tui-monitor: command not found\\n"); sys.exit(127)
elif dest == "nohistory":
    say('{{"tui_monitor_stream": 1, "error": "no history at /home/me/h.db"}}\\n'); sys.exit(2)
elif dest == "silent":
    time.sleep(60)
"""


@pytest.fixture
def fake_ssh(tmp_path: Path) -> FleetSettings:
    script = tmp_path / "fake-ssh"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    return FleetSettings(ssh=str(script), connect_timeout=1.0, stale_after=3.0, backoff_max=2.0)


async def _watch(
    fleet: FleetSettings, *names: str
) -> tuple[SshFleet, asyncio.Event, asyncio.Task[None]]:
    hosts = [HostConfig(name=n) for n in names]
    ssh = SshFleet(hosts, fleet, None)
    stop = asyncio.Event()
    return ssh, stop, asyncio.create_task(ssh.run(lambda: None, stop))


async def _ended(fleet: FleetSettings, name: str) -> HostStatus:
    """The first state a host reaches past connecting/live (with a good host beside it,
    which must stay live throughout)."""
    ssh, stop, task = await _watch(fleet, name, "good")
    bad, good = ssh.links
    try:
        await eventually(lambda: bad.state in ("failed", "unreachable", "stale"))
        await eventually(lambda: good.state == "live")
        return bad.status
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_good_remote_goes_live_with_its_agents(fake_ssh: FleetSettings) -> None:
    ssh, stop, task = await _watch(fake_ssh, "good")
    await eventually(lambda: ssh.statuses()[0].state == "live")
    status = ssh.statuses()[0]
    assert status.remote_version == "9.9" and status.reason is None
    assert status.snapshot is not None
    assert [a.name for a in status.snapshot.agents] == ["claude#1", "codex"]
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest.mark.parametrize(
    ("name", "state", "reason"),
    [
        ("garbage", "failed", "not a tui-monitor stream: not JSON"),
        ("garbage-later", "failed", "bad line from the remote: not JSON"),
        ("old", "failed", "the remote speaks stream protocol 0 (tui-monitor 0.0.1), this viewer"),
        ("partial", "failed", "bad line from the remote: not JSON"),
        ("huge", "failed", "a line longer than 4 MiB"),
        ("flood", "failed", "flooding: over 50 lines a second"),
        ("denied", "unreachable", "ssh: root@denied: Permission denied (publickey)."),
        ("unknown", "unreachable", "ssh: Could not resolve hostname unknown"),
        ("missing", "failed", "no tui-monitor on missing (bash: line 1: tui-monitor: command"),
        ("nohistory", "failed", "no history at /home/me/h.db"),
        ("silent", "unreachable", "no answer within 2s"),
    ],
)
async def test_each_bad_remote_gets_its_state_and_reason(
    fake_ssh: FleetSettings, name: str, state: str, reason: str
) -> None:
    status = await _ended(fake_ssh, name)
    assert status.state == state
    assert status.reason is not None and status.reason.startswith(reason), status.reason
    assert "\n" not in status.reason and "\x1b" not in status.reason


async def test_an_exit_status_survives_a_stream_that_ends_with_its_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A remote whose stdout closes as it exits: stopping it must not reap it behind
    asyncio's back (Popen.send_signal polls first), which reported exit 255 ("unreachable")
    for a missing remote program, and warned on stderr over a remote dashboard."""
    script = tmp_path / "quick-ssh"  # a shell exits sooner than Python: the race is likelier
    script.write_text("#!/bin/sh\necho 'sh: 1: tui-monitor: not found' >&2\nexit 127\n")
    script.chmod(0o755)
    link = HostLink(HostConfig(name="missing"), FleetSettings(ssh=str(script)))
    for _ in range(40):
        await link._session(lambda: None)
        assert link.state == "failed" and (link.reason or "").startswith("no tui-monitor")
    assert "Unknown child process" not in caplog.text


async def test_names_with_escape_sequences_arrive_inert(fake_ssh: FleetSettings) -> None:
    ssh, stop, task = await _watch(fake_ssh, "evil")
    await eventually(lambda: ssh.statuses()[0].snapshot is not None)
    snap = ssh.statuses()[0].snapshot
    assert snap is not None
    assert snap.agents[0].name == "x\\x1b]52;c;cHduZWQ=\\x07"
    assert snap.host.hostname == "h\\x1b[2J"
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_a_partial_last_line_does_not_lose_the_snapshot_before_it(
    fake_ssh: FleetSettings,
) -> None:
    status = await _ended(fake_ssh, "partial")
    assert status.snapshot is not None and len(status.snapshot.agents) == 2


async def test_a_failing_host_is_retried_with_backoff(fake_ssh: FleetSettings) -> None:
    link = HostLink(HostConfig(name="denied"), fake_ssh)
    tries: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(lambda: tries.append(link.state), stop))
    await eventually(lambda: tries.count("unreachable") >= 3)
    assert link.backoff.failed() == 2.0  # 1, 2, then its maximum of 2
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_a_missing_ssh_program_is_a_reason(tmp_path: Path) -> None:
    fleet = FleetSettings(ssh=str(tmp_path / "no-ssh"))
    link = HostLink(HostConfig(name="h"), fleet)
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(lambda: None, stop))
    await eventually(lambda: link.state == "failed")
    assert link.reason is not None and link.reason.startswith(f"cannot run {tmp_path}/no-ssh")
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_stop_ends_the_ssh_processes(fake_ssh: FleetSettings) -> None:
    ssh, stop, task = await _watch(fake_ssh, "good", "silent")
    await eventually(lambda: ssh.statuses()[0].state == "live" and ssh.links[1].pids)
    stop.set()
    await asyncio.wait_for(task, 10)
    for link in ssh.links:
        for pid in link.pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
