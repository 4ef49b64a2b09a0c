"""The demo fleet for real: agent processes reporting to a real ingest socket, a crash and its
restart, a silent agent, usage with costs, and no process left behind however it ends."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psutil
import pytest
from demo_procs import AGENT, demo_processes

from tui_monitor.cli.commands import main
from tui_monitor.cli.demo import MAX_AGENTS as CLI_MAX_AGENTS
from tui_monitor.config import AgentRule
from tui_monitor.demo.agent import ROLES
from tui_monitor.demo.fleet import MAX_AGENTS, Fleet, demo_settings, roster
from tui_monitor.ingest.hub import IngestHub
from tui_monitor.ingest.server import IngestServer
from tui_monitor.models import ErrorRecord, UsageRecord


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def wait_for(check: Callable[[], object], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g}s: {what}")
        await asyncio.sleep(0.05)


class Inbox:
    """What the hub took in, drained as a tick would, plus every demo pid ever seen."""

    def __init__(self, hub: IngestHub, marker: str) -> None:
        self.hub, self.marker = hub, marker
        self.usage: list[UsageRecord] = []
        self.errors: list[ErrorRecord] = []
        self.pids: dict[int, str] = {}

    def poll(self) -> None:
        drained = self.hub.drain()
        self.usage += drained.usage
        self.errors += drained.errors
        self.pids |= demo_processes(self.marker)


@pytest.fixture
async def served(short_dir: Path) -> AsyncIterator[tuple[IngestHub, Path]]:
    hub = IngestHub(limit=10_000, heartbeat_timeout=1.5)
    server = IngestServer(short_dir / "ingest.sock", hub)
    await server.start()
    yield hub, server.path
    await server.close()


async def test_fleet_reports_crashes_restarts_goes_silent_and_stops_clean(
    served: tuple[IngestHub, Path],
) -> None:
    hub, sock = served
    inbox = Inbox(hub, str(sock))
    fleet = Fleet(
        sock, 6, crash_after=1.5, silent_after=2.0, heartbeat=0.3, restart_delay=0.3,
        mem_cap_mb=30,
    )  # fmt: skip
    names = {m.name: m.role for m in fleet.members}
    assert sorted(names.values()) == sorted(ROLES)
    try:
        fleet.start()
        first = fleet.pids()
        assert set(first) == set(names)

        def check(cond: Callable[[], object]) -> Callable[[], object]:
            def polled() -> object:
                inbox.poll()
                return cond()

            return polled

        # Every agent registers and heartbeats, from its own process, within 10 s.
        await wait_for(
            check(lambda: all(hub.agents.get(n) and hub.agents[n].heartbeat for n in names)),
            "a heartbeat from every agent",
            10,
        )
        for name, role in names.items():
            if role != "crash":  # it may have crashed and come back already
                assert hub.agents[name].pid == first[name], name
            assert hub.agents[name].kind

        # The crash agent dies with an error report and comes back as a new process.
        def restarted() -> bool:
            now = fleet.pids().get("reviewer")
            state = hub.agents["reviewer"]
            return fleet.restarts.get("reviewer", 0) >= 1 and now == state.pid != first["reviewer"]

        await wait_for(check(restarted), "the crash agent restarted and registered again", 15)
        crash = [e for e in inbox.errors if e.agent == "reviewer"]
        assert crash and crash[0].error_type == "RuntimeError", inbox.errors
        assert crash[0].stack and "_load_session" in crash[0].stack
        assert gone(first["reviewer"])

        # The silent agent stops heartbeating (so it goes stale) but keeps running.
        def silent() -> bool:
            now = time.time()
            return hub.stale("scraper", hub.agents["scraper"], now) and not hub.stale(
                "planner", hub.agents["planner"], now
            )

        await wait_for(check(silent), "the silent agent stale while planner is not", 15)
        assert not gone(fleet.pids()["scraper"])

        # Usage with costs (given, or tokens for the price table), each request counted once;
        # the spawn agent's children are real processes.
        await wait_for(
            check(
                lambda: (
                    sum(u.cost_usd is not None for u in inbox.usage) >= 2
                    and any(u.cost_usd is None for u in inbox.usage)
                )
            ),
            "usage records with and without cost_usd",
            20,
        )
        await wait_for(
            check(lambda: any("--child-of indexer" in c for c in inbox.pids.values())),
            "a child of the spawn agent",
            10,
        )
    finally:
        await asyncio.to_thread(fleet.stop)
    for u in inbox.usage:
        assert u.model and u.input_tokens > 0 and u.request_id
        assert u.cost_usd is None or u.cost_usd > 0
    ids = [(u.agent, u.request_id) for u in inbox.usage]
    assert len(ids) == len(set(ids))

    # Nothing left: not one pid we ever saw, not one process naming this socket.
    assert fleet.pids() == {}
    assert inbox.pids, "the scan saw the demo processes"
    assert [p for p in inbox.pids if not gone(p)] == []
    assert demo_processes(str(sock)) == {}
    fleet.stop()  # again: nothing to do, no error


async def test_agents_exit_by_themselves_when_the_fleet_process_is_killed(
    served: tuple[IngestHub, Path],
) -> None:
    hub, sock = served
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from tui_monitor.demo.fleet import Fleet

        fleet = Fleet(Path(sys.argv[1]), 4)
        fleet.start()
        print("READY", flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", script, str(sock)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "READY"
        seen: dict[int, str] = {}

        def running() -> bool:
            seen.update(demo_processes(str(sock)))
            children = [c for c in seen.values() if "--child-of" in c]
            return len(hub.agents) == 4 and len(seen) >= 5 and bool(children)

        await wait_for(running, "four agents reporting and a spawned child", 15)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        await wait_for(
            lambda: all(gone(p) for p in seen) and not demo_processes(str(sock)),
            f"every demo process gone after its fleet was killed: {seen}",
            10,
        )
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        for pid in demo_processes(str(sock)):
            os.kill(pid, signal.SIGKILL)


def test_demo_settings_match_each_agent_and_only_it(tmp_path: Path) -> None:
    fleet = Fleet(Path("/tmp/tm-x/ingest.sock"), 12)
    settings = demo_settings(tmp_path, fleet)
    assert settings.presets.enabled is False
    assert settings.store.db_path() == tmp_path / "history.db"
    assert settings.ingest.socket_path() == fleet.socket
    assert settings.ingest.spool_path() == tmp_path / "spool"
    assert settings.ingest.heartbeat_timeout <= 15
    assert settings.budgets.daily is not None
    assert "app.quit" not in settings.keymap  # Ctrl+C quits everywhere, the demo too
    rules = {r.name: r for r in settings.agents}
    assert list(rules) == [m.name for m in fleet.members]
    other = Fleet(Path("/tmp/tm-y/ingest.sock"), 12)
    for member in fleet.members:
        rule = rules[member.name]
        assert rule.cmdline is not None and rule.kind == member.kind
        hits = [m.name for m in fleet.members if re.search(rule.cmdline, " ".join(fleet.argv(m)))]
        assert hits == [member.name]
        assert not re.search(rule.cmdline, " ".join(other.argv(member))), "another fleet's"
        child = f"python -m {AGENT} --child-of {member.name} --socket {fleet.socket}"
        assert not re.search(rule.cmdline, child)


def test_roster_names_and_agent_count_limits(capsys: pytest.CaptureFixture[str]) -> None:
    assert CLI_MAX_AGENTS == MAX_AGENTS == 50
    members = roster(MAX_AGENTS)
    names = [m.name for m in members]
    assert len(set(names)) == len(names)
    assert names[:6] == ["planner", "coder-1", "embedder", "indexer", "reviewer", "scraper"]
    for m in members:
        AgentRule(name=m.name, cmdline="x")  # a valid agent name
    for bad in (0, 51):
        with pytest.raises(ValueError, match="1 to 50"):
            Fleet(Path("/tmp/x.sock"), bad)
    for arg in ("0", "51", "many"):
        assert main(["demo", "--agents", arg]) == 2
        err = capsys.readouterr().err
        assert "tui-monitor: error: Invalid value for '--agents'" in err, err
        assert "Traceback" not in err


def test_the_agent_program_is_light() -> None:
    """Dozens run at once: standard library only, no pydantic, textual or psutil."""
    code = (
        "import sys, tui_monitor.demo.agent; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pydantic', 'textual', 'psutil', 'rich', 'click'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "[]", out.stderr
