"""AgentCollector against real agent subprocesses (tests/agents/*.py) and the real /proc.

Fakes appear only where a real process cannot be made to do the thing on cue: a pid reused
by the kernel at an exact moment (synthetic scan tables), and permission errors.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from tui_monitor import safe
from tui_monitor.collect import proctable
from tui_monitor.collect.agents import AgentCollector
from tui_monitor.collect.proctable import ProcStat
from tui_monitor.config import AgentRule, PresetSettings, Settings
from tui_monitor.models import AgentEvent, AgentSample

if TYPE_CHECKING:
    from conftest import AgentProcess, SpawnAgent

MiB = 1024 * 1024
TICK = 0.5  # seconds between ticks where a rate has to be measured

Agents = tuple[AgentSample, ...]
Events = tuple[AgentEvent, ...]

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs Linux /proc semantics"
)
pytestmark = linux_only


# -- helpers ----------------------------------------------------------------------------


def group_tag() -> str:
    return f"grp-{uuid.uuid4().hex[:12]}"


def rule(name: str, tag: str, **kw: object) -> AgentRule:
    """A config rule matching exactly the processes started with `--tag <tag>`."""
    return AgentRule(name=name, cmdline=rf"--tag {re.escape(tag)}(\s|$)", **kw)  # type: ignore[arg-type]


def make_settings(*rules: AgentRule, presets: bool = False, **kw: object) -> Settings:
    return Settings(
        agents=list(rules),
        presets=PresetSettings(enabled=presets),
        **kw,  # type: ignore[arg-type]
    )


def live(agents: Agents) -> dict[str, AgentSample]:
    return {a.name: a for a in agents if a.status != "exited"}


def named(agents: Agents) -> dict[str, AgentSample]:
    return {a.name: a for a in agents}


def kinds(events: Iterable[AgentEvent], agent: str | None = None) -> list[str]:
    return [e.kind for e in events if agent is None or e.agent == agent]


def tick_until(
    collector: AgentCollector,
    done: Callable[[Agents, list[AgentEvent]], bool],
    timeout: float = 10.0,
    interval: float = TICK,
    claims: dict[str, tuple[int, float]] | None = None,
) -> tuple[Agents, list[AgentEvent]]:
    """Tick every `interval` until `done(agents, events so far)`; fail at the deadline."""
    seen: list[AgentEvent] = []
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(interval)
        agents, events = collector.collect(claims=claims)
        seen.extend(events)
        if done(agents, seen):
            return agents, seen
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met in {timeout}s; agents={agents!r} events={seen!r}")


def proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].split()[0].decode()


def wait_state(pid: int, state: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while proc_state(pid) != state:
        if time.monotonic() > deadline:
            pytest.fail(f"pid {pid} never reached state {state} (now {proc_state(pid)})")
        time.sleep(0.01)


# -- baseline and configured agents -------------------------------------------------------


def test_first_tick_is_a_baseline(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("idle")
    collector = AgentCollector(make_settings(rule("idle", agent.tag)))
    agents, events = collector.collect()
    assert events == ()
    sample = named(agents)["idle"]
    assert sample.cpu_utilization is None
    assert sample.pid == agent.pid
    assert sample.source == "config"
    assert sample.procs == 1 and sample.pids == (agent.pid,)
    assert sample.create_time == pytest.approx(psutil.Process(agent.pid).create_time(), abs=0.05)


def test_a_busy_agent_is_unknown_on_its_first_sample_never_idle(spawn_agent: SpawnAgent) -> None:
    """The first sample has no CPU% to go on; a busy process whose main thread sleeps (its
    work in another thread) used to read as idle there."""
    busy = spawn_agent("busy_thread")
    idle = spawn_agent("idle")
    collector = AgentCollector(make_settings(rule("busy", busy.tag), rule("idle", idle.tag)))
    wait_state(busy.pid, "S")
    agents, _ = collector.collect()
    first = named(agents)
    assert (first["busy"].status, first["busy"].cpu_utilization) == ("unknown", None)
    assert (first["idle"].status, first["idle"].cpu_utilization) == ("unknown", None)
    agents, seen = tick_until(
        collector, lambda a, _: named(a)["busy"].status == "running", interval=TICK
    )
    assert named(agents)["busy"].cpu_utilization is not None
    assert named(agents)["idle"].status == "idle"
    assert kinds(seen) == []  # unknown -> running or idle is no status_changed event


def test_config_agent_without_process_is_listed_as_exited() -> None:
    collector = AgentCollector(make_settings(rule("nobody", group_tag(), kind="worker")))
    for _ in range(2):
        agents, events = collector.collect()
        assert events == ()
        (sample,) = agents
        assert (sample.name, sample.kind, sample.source) == ("nobody", "worker", "config")
        assert sample.status == "exited"
        assert sample.pid is None and sample.procs == 0


# -- resources ----------------------------------------------------------------------------


def test_busy_agent_cpu_far_above_idle_agent(spawn_agent: SpawnAgent) -> None:
    busy = spawn_agent("busy")
    idle = spawn_agent("idle")
    collector = AgentCollector(make_settings(rule("busy", busy.tag), rule("idle", idle.tag)))
    agents, _ = collector.collect()
    # No rate yet on the baseline tick: neither busy nor idle is known.
    assert named(agents)["busy"].cpu_utilization is None
    assert named(agents)["busy"].status == "unknown"

    def busy_measured(agents: Agents, _: list[AgentEvent]) -> bool:
        cpu = named(agents)["busy"].cpu_utilization
        return cpu is not None and cpu > 50

    agents, _ = tick_until(collector, busy_measured)
    by = named(agents)
    busy_cpu, idle_cpu = by["busy"].cpu_utilization, by["idle"].cpu_utilization
    assert busy_cpu is not None and idle_cpu is not None
    assert idle_cpu < 5
    assert busy_cpu <= 110  # one thread: about one core, not more
    assert by["busy"].status == "running"
    assert by["idle"].status == "idle"


def test_allocator_ram_is_resident(spawn_agent: SpawnAgent) -> None:
    alloc = spawn_agent("alloc")
    collector = AgentCollector(make_settings(rule("alloc", alloc.tag)))
    agents, _ = collector.collect()
    sample = named(agents)["alloc"]
    assert sample.ram_used is not None
    assert sample.ram_used >= 200 * MiB
    assert sample.ram_used < 400 * MiB
    assert sample.threads is not None and sample.threads >= 1


def test_spawner_tree_is_one_agent_summed_once(spawn_agent: SpawnAgent) -> None:
    spawner = spawn_agent("spawner")
    children = {int(p) for p in spawner.ready_fields[2:]}
    assert len(children) == 2
    # The children carry the tag too, so they match the rule; they are not roots of their
    # own because their nearest root ancestor (the spawner) matched the same rule.
    collector = AgentCollector(make_settings(rule("spawner", spawner.tag)))
    agents, _ = collector.collect()
    mine = [a for a in agents if a.status != "exited"]
    assert [a.name for a in mine] == ["spawner"]
    sample = mine[0]
    assert sample.pid == spawner.pid
    assert sample.procs == 3
    assert set(sample.pids) == {spawner.pid, *children}
    rss = {p: psutil.Process(p).memory_info().rss for p in sample.pids}
    assert sample.ram_used is not None
    assert all(sample.ram_used >= r for r in rss.values())
    assert sample.ram_used == pytest.approx(sum(rss.values()), rel=0.1)
    assert sample.threads is not None and sample.threads >= 3
    assert sample.gpu_memory_used is None  # no GPU reading given: unknown, not zero

    child = min(children)
    gpu = {spawner.pid: 50 * MiB, child: 100 * MiB, 1: 999 * MiB}
    agents, _ = collector.collect(gpu)
    assert named(agents)["spawner"].gpu_memory_used == 150 * MiB
    agents, _ = collector.collect({})
    assert named(agents)["spawner"].gpu_memory_used == 0


def test_nested_agents_of_another_rule_are_counted_once(spawn_agent: SpawnAgent) -> None:
    spawner = spawn_agent("spawner")
    children = {int(p) for p in spawner.ready_fields[2:]}
    kids = AgentRule(name="kids", cmdline=rf"print\('up'.*--tag {re.escape(spawner.tag)}")
    settings = make_settings(kids, rule("spawner", spawner.tag), presets=True)
    collector = AgentCollector(settings)
    collector.collect()
    time.sleep(0.2)
    agents, _ = collector.collect()
    by = live(agents)
    assert by["spawner"].pids == (spawner.pid,)
    assert {by["kids"].pid, by["kids#2"].pid} == children
    # Fleet totals: every pid is in at most one agent, so summing procs counts it once.
    all_pids = [p for a in agents for p in a.pids]
    assert len(all_pids) == len(set(all_pids))
    assert sum(a.procs for a in agents) == len(set(all_pids))
    assert all(a.procs == len(a.pids) for a in agents)
    assert by["spawner"].ram_used is not None and by["kids"].ram_used is not None
    assert by["spawner"].ram_used < psutil.Process(spawner.pid).memory_info().rss * 1.5


# -- lifecycle ----------------------------------------------------------------------------


def test_fresh_agent_after_baseline_is_started(spawn_agent: SpawnAgent) -> None:
    tag = group_tag()
    collector = AgentCollector(make_settings(rule("fresh", tag)))
    agents, events = collector.collect()
    assert events == () and named(agents)["fresh"].status == "exited"
    agent = spawn_agent("idle", tag=tag)
    agents, events = collector.collect()
    assert kinds(events) == ["started"]
    (event,) = events
    assert event.agent == "fresh" and event.level == "info"
    assert event.data["pid"] == agent.pid
    sample = named(agents)["fresh"]
    assert sample.pid == agent.pid and sample.status in ("idle", "running")
    # Born within the interval: its CPU is measurable on its first tick.
    assert sample.cpu_utilization is not None


def test_exit_then_restart_within_window(spawn_agent: SpawnAgent) -> None:
    tag = group_tag()
    collector = AgentCollector(make_settings(rule("exiter", tag), restart_window=120.0))
    collector.collect()
    first = spawn_agent("exiter", "1.5", tag=tag)
    agents, events = collector.collect()
    assert kinds(events) == ["started"]
    assert named(agents)["exiter"].pid == first.pid
    assert first.proc.wait(timeout=10) == 3  # reaped: no zombie stage

    agents, events = collector.collect()
    assert kinds(events) == ["exited"]
    assert events[0].agent == "exiter" and events[0].data["pid"] == first.pid
    sample = named(agents)["exiter"]
    assert sample.status == "exited" and sample.pid is None and sample.procs == 0

    second = spawn_agent("exiter", "30", tag=tag)
    agents, events = collector.collect()
    assert kinds(events) == ["restarted"]
    assert events[0].agent == "exiter"
    assert events[0].data["pid"] == second.pid
    assert events[0].data["previous_pid"] == first.pid
    assert named(agents)["exiter"].pid == second.pid


def test_restart_between_two_ticks_is_restarted(spawn_agent: SpawnAgent) -> None:
    tag = group_tag()
    first = spawn_agent("idle", tag=tag)
    collector = AgentCollector(make_settings(rule("w", tag)))
    collector.collect()
    first.stop()  # e.g. a supervisor restarts a crashed worker within one interval
    second = spawn_agent("idle", tag=tag)
    agents, events = collector.collect()
    assert live(agents)["w"].pid == second.pid
    assert "w#2" not in named(agents)
    assert [(e.agent, e.kind) for e in events] == [("w", "exited"), ("w", "restarted")]


def test_start_after_restart_window_is_started(spawn_agent: SpawnAgent) -> None:
    tag = group_tag()
    collector = AgentCollector(make_settings(rule("w", tag), restart_window=0.0))
    first = spawn_agent("idle", tag=tag)
    collector.collect()
    first.stop()
    _, events = collector.collect()
    assert kinds(events) == ["exited"]
    time.sleep(0.05)
    spawn_agent("idle", tag=tag)
    _, events = collector.collect()
    assert kinds(events) == ["started"]


def test_one_rule_several_roots_smallest_free_index(spawn_agent: SpawnAgent) -> None:
    tag = group_tag()
    first = spawn_agent("idle", tag=tag)
    second = spawn_agent("idle", tag=tag)
    collector = AgentCollector(make_settings(rule("x", tag)))
    agents, _ = collector.collect()
    by = live(agents)
    assert (by["x"].pid, by["x#2"].pid) == (first.pid, second.pid)

    first.stop()
    agents, events = collector.collect()
    assert kinds(events, "x") == ["exited"]
    by = named(agents)
    assert by["x"].status == "exited"
    assert by["x#2"].pid == second.pid

    third = spawn_agent("idle", tag=tag)
    agents, events = collector.collect()
    by = live(agents)
    assert by["x"].pid == third.pid  # the smallest free index
    assert by["x#2"].pid == second.pid  # unchanged while it lives
    assert "x#3" not in named(agents)
    assert kinds(events, "x#2") == []

    fourth = spawn_agent("idle", tag=tag)
    agents, _ = collector.collect()
    assert live(agents)["x#3"].pid == fourth.pid


def test_several_roots_started_together_are_named_in_start_order(spawn_agent: SpawnAgent) -> None:
    tag = group_tag()
    collector = AgentCollector(make_settings(rule("w", tag)))
    collector.collect()
    procs = [spawn_agent("idle", tag=tag) for _ in range(3)]
    agents, events = collector.collect()
    by = live(agents)
    assert [by[n].pid for n in ("w", "w#2", "w#3")] == [p.pid for p in procs]
    assert sorted(kinds(events)) == ["started"] * 3


def test_zombie_root(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("idle")
    collector = AgentCollector(make_settings(rule("z", agent.tag)))
    collector.collect()
    agents, _ = collector.collect()
    assert named(agents)["z"].status == "idle"

    os.kill(agent.pid, signal.SIGKILL)  # and do not wait(): it stays a zombie
    wait_state(agent.pid, "Z")
    agents, events = collector.collect()
    sample = named(agents)["z"]
    assert sample.status == "zombie"
    assert sample.pid == agent.pid
    (event,) = events
    assert (event.kind, event.level) == ("status_changed", "warning")
    assert (event.data["from"], event.data["to"]) == ("idle", "zombie")

    agent.proc.wait(timeout=5)  # reap
    agents, events = collector.collect()
    assert kinds(events) == ["exited"]
    assert named(agents)["z"].status == "exited"


def test_stopped_and_continued(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("idle")
    collector = AgentCollector(make_settings(rule("s", agent.tag)))
    collector.collect()
    os.kill(agent.pid, signal.SIGSTOP)
    wait_state(agent.pid, "T")
    agents, events = collector.collect()
    assert named(agents)["s"].status == "stopped"
    assert [(e.kind, e.data["to"]) for e in events] == [("status_changed", "stopped")]
    os.kill(agent.pid, signal.SIGCONT)
    wait_state(agent.pid, "S")
    agents, events = collector.collect()
    assert named(agents)["s"].status == "idle"
    assert [(e.kind, e.data["from"], e.data["to"]) for e in events] == [
        ("status_changed", "stopped", "idle")
    ]


def test_agent_first_seen_stopped_has_no_status_change(spawn_agent: SpawnAgent) -> None:
    tag = group_tag()
    collector = AgentCollector(make_settings(rule("s", tag)))
    collector.collect()
    agent = spawn_agent("idle", tag=tag)
    os.kill(agent.pid, signal.SIGSTOP)
    wait_state(agent.pid, "T")
    agents, events = collector.collect()
    assert named(agents)["s"].status == "stopped"
    assert kinds(events) == ["started"]


def _execer(spawn_agent: SpawnAgent, then: list[str]) -> AgentProcess:
    return spawn_agent("execer", "--exec-b64", base64.b64encode(json.dumps(then).encode()))


def test_exec_into_unmatched_program_ends_the_agent(spawn_agent: SpawnAgent) -> None:
    agent = _execer(spawn_agent, ["/bin/bash", "-c", "sleep 60 & wait"])
    collector = AgentCollector(make_settings(rule("before", agent.tag)))
    agents, _ = collector.collect()
    assert live(agents)["before"].pid == agent.pid
    os.kill(agent.pid, signal.SIGUSR1)

    def gone(agents: Agents, _: list[AgentEvent]) -> bool:
        return "before" not in live(agents)

    agents, events = tick_until(collector, gone, interval=0.05)
    assert [(e.agent, e.kind) for e in events] == [("before", "exited")]
    assert psutil.Process(agent.pid).name() == "bash"  # same pid, still alive


def test_exec_into_another_rules_program_switches_agent(spawn_agent: SpawnAgent) -> None:
    new_tag = group_tag()
    agent = _execer(spawn_agent, ["/bin/bash", "-c", "sleep 60 & wait", "--tag", new_tag])
    collector = AgentCollector(make_settings(rule("before", agent.tag), rule("after", new_tag)))
    agents, _ = collector.collect()
    assert live(agents)["before"].pid == agent.pid and "after" not in live(agents)
    os.kill(agent.pid, signal.SIGUSR1)

    def moved(agents: Agents, _: list[AgentEvent]) -> bool:
        return psutil.Process(agent.pid).name() == "bash"

    agents, events = tick_until(collector, moved, interval=0.05)
    agents, more = collector.collect()
    events += more
    assert "before" not in live(agents)
    assert live(agents)["after"].pid == agent.pid
    assert live(agents)["after"].process == "bash"
    assert sorted((e.agent, e.kind) for e in events) == [("after", "started"), ("before", "exited")]


# -- pid reuse ----------------------------------------------------------------------------


class FakeWorld:
    """A process table the test edits by hand; pid -> (stat, argv)."""

    BOOT = 1_700_000_000.0

    def __init__(self) -> None:
        self.now = 100.0
        self.procs: dict[int, tuple[ProcStat, tuple[str, ...]]] = {}
        self.create_skew: dict[int, float] = {}  # pid -> what psutil says minus the scan

    def put(self, pid: int, start: float, argv: tuple[str, ...], cpu: float = 0.0) -> None:
        name = os.path.basename(argv[0]).encode()[:15]
        self.procs[pid] = (ProcStat(1, name, "S", start, cpu, 1, 10 * MiB), argv)

    def scan(self) -> dict[int, ProcStat]:
        return {pid: st for pid, (st, _) in self.procs.items()}

    def clock(self) -> float:
        return self.now

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make psutil.Process (used for cmdline/cwd/user) answer from this table."""
        world = self

        class FakeProcess:
            def __init__(self, pid: int) -> None:
                if pid not in world.procs:
                    raise psutil.NoSuchProcess(pid)
                self.pid = pid

            def create_time(self) -> float:
                start = world.procs[self.pid][0].start
                return world.BOOT + start + world.create_skew.get(self.pid, 0.0)

            def cmdline(self) -> list[str]:
                return list(world.procs[self.pid][1])

            def cwd(self) -> str:
                return "/srv/agents"

            def username(self) -> str:
                return "svc"

        monkeypatch.setattr(proctable, "boot_time", lambda: world.BOOT)
        monkeypatch.setattr(psutil, "boot_time", lambda: world.BOOT)
        monkeypatch.setattr(psutil, "Process", FakeProcess)


PID = 4242 if os.getpid() != 4242 else 4243


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> FakeWorld:
    w = FakeWorld()
    w.install(monkeypatch)
    return w


def test_reused_pid_is_not_the_old_agent(world: FakeWorld) -> None:
    settings = make_settings(rule("w", "T"))
    collector = AgentCollector(settings, scan=world.scan, clock=world.clock)
    world.put(PID, 50.0, ("python3", "worker.py", "--tag", "T"), cpu=1.0)
    agents, _ = collector.collect()
    assert live(agents)["w"].pid == PID
    world.now, world.procs[PID] = (
        101.0,
        (
            ProcStat(1, b"python3", "S", 50.0, 1.5, 1, 10 * MiB),
            world.procs[PID][1],
        ),
    )
    agents, _ = collector.collect()
    assert live(agents)["w"].cpu_utilization == 50.0

    # The agent dies and an unrelated process gets its pid (same comm, new start).
    world.now = 102.0
    world.put(PID, 101.5, ("python3", "other.py"), cpu=0.1)
    agents, events = collector.collect()
    assert kinds(events) == ["exited"]
    assert events[0].data["pid"] == PID
    assert live(agents) == {}
    assert named(agents)["w"].status == "exited"


def test_reused_pid_matching_the_rule_is_a_new_instance(world: FakeWorld) -> None:
    collector = AgentCollector(make_settings(rule("w", "T")), scan=world.scan, clock=world.clock)
    world.put(PID, 50.0, ("python3", "worker.py", "--tag", "T"), cpu=40.0)
    collector.collect()
    world.now = 102.0
    world.put(PID, 101.5, ("python3", "worker.py", "--tag", "T"), cpu=0.25)
    agents, events = collector.collect()
    assert [(e.kind, e.data["pid"]) for e in events if e.kind == "exited"] == [("exited", PID)]
    (sample,) = live(agents).values()
    assert sample.pid == PID
    # Same rule, same tick: the newcomer takes the freed name and counts as a restart.
    assert sample.name == "w"
    assert [(e.kind, e.agent) for e in events if e.kind in ("started", "restarted")] == [
        ("restarted", "w")
    ]
    assert sample.create_time == pytest.approx(world.BOOT + 101.5)
    # Its CPU counter starts again from zero: 0.25 s over 2 s, never old-minus-new garbage.
    assert sample.cpu_utilization == pytest.approx(12.5)


def test_exited_extra_instances_linger_then_go(world: FakeWorld) -> None:
    settings = make_settings(rule("w", "T"), exited_linger=0.0)
    collector = AgentCollector(settings, scan=world.scan, clock=world.clock)
    world.put(PID, 50.0, ("python3", "worker.py", "--tag", "T"))
    world.put(PID + 1, 51.0, ("python3", "worker.py", "--tag", "T"))
    agents, _ = collector.collect()
    assert set(live(agents)) == {"w", "w#2"}
    for pid in (PID, PID + 1):
        del world.procs[pid]
    world.now = 101.0
    agents, events = collector.collect()
    assert sorted(kinds(events)) == ["exited", "exited"]
    assert {a.name: a.status for a in agents} == {"w": "exited", "w#2": "exited"}
    time.sleep(0.01)
    world.now = 102.0
    agents, _ = collector.collect()
    # The configured name stays listed; the extra instance is gone after exited_linger.
    assert {a.name: a.status for a in agents} == {"w": "exited"}


def test_pid_reused_between_scan_and_facts_is_not_matched(world: FakeWorld) -> None:
    collector = AgentCollector(make_settings(rule("w", "T")), scan=world.scan, clock=world.clock)
    world.put(PID, 50.0, ("python3", "worker.py", "--tag", "T"))
    world.create_skew[PID] = 30.0  # by the time we look, another process holds that pid
    agents, _ = collector.collect()
    assert live(agents) == {}
    # The next scan shows the new holder of the pid: judged on its own facts.
    world.now = 101.0
    world.create_skew.clear()
    world.put(PID, 80.0, ("python3", "worker.py", "--tag", "T"))
    agents, events = collector.collect()
    assert live(agents)["w"].pid == PID
    assert live(agents)["w"].create_time == pytest.approx(world.BOOT + 80.0)
    assert kinds(events) == ["started"]


def test_agents_found_after_wall_clock_step(
    spawn_agent: SpawnAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = spawn_agent("idle")
    real = psutil.boot_time()
    # The collector started before the step: its boot time is 2 s off psutil's from now on.
    monkeypatch.setattr(proctable, "boot_time", lambda: real - 2.0)
    collector = AgentCollector(make_settings(rule("w", agent.tag)))
    agents, _ = collector.collect()
    assert named(agents)["w"].pid == agent.pid


def _set_last_pid(pid: int) -> bool:
    try:
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid))
    except OSError:
        return False
    return True


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to write ns_last_pid")
def test_real_pid_reuse(spawn_agent: SpawnAgent) -> None:
    if not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK):
        pytest.skip("ns_last_pid is not writable")
    agent = spawn_agent("idle")
    collector = AgentCollector(make_settings(rule("old", agent.tag)))
    collector.collect()
    agents, _ = collector.collect()
    assert live(agents)["old"].pid == agent.pid
    old_pid = agent.pid
    agent.stop()

    stranger: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(10):
            if not _set_last_pid(old_pid - 1):
                pytest.skip("cannot write ns_last_pid")
            # Same interpreter, same comm; only the tag (and so the rule) differs.
            proc = subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(60)"],
                start_new_session=True,
            )
            if proc.pid == old_pid:
                stranger = proc
                break
            proc.kill()
            proc.wait()
        if stranger is None:
            pytest.skip(f"pid {old_pid} was not handed out again")
        agents, events = collector.collect()
        assert kinds(events) == ["exited"]
        assert events[0].data["pid"] == old_pid
        assert live(agents) == {}
        assert all(old_pid not in a.pids for a in agents)
    finally:
        if stranger is not None:
            stranger.kill()
            stranger.wait()


# -- vanishing processes and permissions ---------------------------------------------------


def test_process_gone_between_scan_and_facts(spawn_agent: SpawnAgent) -> None:
    tag = group_tag()
    victim: list[AgentProcess] = []

    def scan() -> dict[int, ProcStat]:
        table = proctable.scan()
        if victim:
            agent = victim.pop()
            assert agent.pid in table
            agent.stop()  # killed and reaped after the scan saw it, before facts are read
        return table

    collector = AgentCollector(make_settings(rule("v", tag)), scan=scan)
    collector.collect()  # baseline
    agent = spawn_agent("idle", tag=tag)
    victim.append(agent)
    agents, events = collector.collect()
    assert events == ()  # a ghost neither starts nor exits
    assert named(agents)["v"].status == "exited"
    assert agent.pid not in {p for a in agents for p in a.pids}
    agents, events = collector.collect()
    assert events == ()
    assert named(agents)["v"].status == "exited"


def test_known_process_in_stale_table_then_gone(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("idle")
    tables: list[dict[int, ProcStat]] = []

    def scan() -> dict[int, ProcStat]:
        return tables.pop(0) if tables else proctable.scan()

    collector = AgentCollector(make_settings(rule("v", agent.tag)), scan=scan)
    agents, _ = collector.collect()
    assert named(agents)["v"].pid == agent.pid
    tables.append(proctable.scan())
    agent.stop()
    collector.collect()  # a stale table naming a dead process: must not raise
    agents, events = collector.collect()
    assert kinds(events) == ["exited"]
    assert named(agents)["v"].status == "exited"
    assert all(agent.pid not in a.pids for a in agents)


def _deny(self: psutil.Process, *args: object) -> object:
    raise psutil.AccessDenied(self.pid)


def test_access_denied_everywhere_never_raises(
    spawn_agent: SpawnAgent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    agent = spawn_agent("idle")
    pidfile = tmp_path / "agent.pid"
    pidfile.write_text(f"{agent.pid}\n")
    for attr in ("cmdline", "cwd", "username"):
        monkeypatch.setattr(psutil.Process, attr, _deny)
    settings = make_settings(
        AgentRule(name="byfile", pidfile=pidfile),
        AgentRule(name="bytag", cmdline=agent.tag),
        AgentRule(name="bycwd", cwd="/"),
        presets=True,
    )
    collector = AgentCollector(settings)
    collector.collect()
    agents, _ = collector.collect()
    by = named(agents)
    assert by["bytag"].status == "exited"  # no cmdline: the regex cannot match
    assert by["bycwd"].status == "exited"  # no cwd: the prefix cannot match
    sample = by["byfile"]
    assert sample.pid == agent.pid
    assert sample.cwd is None and sample.user is None
    assert sample.cmdline == ""
    assert sample.process  # falls back to the kernel's process name


def test_access_denied_cwd_and_user_are_none(
    spawn_agent: SpawnAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = spawn_agent("idle")
    monkeypatch.setattr(psutil.Process, "cwd", _deny)
    monkeypatch.setattr(psutil.Process, "username", _deny)
    settings = make_settings(
        rule("bytag", agent.tag),
        AgentRule(name="byuser", cmdline=agent.tag, user="root"),
    )
    agents, _ = AgentCollector(settings).collect()
    sample = named(agents)["bytag"]
    assert sample.pid == agent.pid
    assert sample.cwd is None and sample.user is None
    assert agent.tag in sample.cmdline


def test_cwd_and_user_read_when_allowed(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("idle")
    me = psutil.Process(agent.pid)
    settings = make_settings(
        AgentRule(name="here", cmdline=agent.tag, cwd=me.cwd(), user=me.username())
    )
    agents, _ = AgentCollector(settings).collect()
    sample = named(agents)["here"]
    assert sample.pid == agent.pid
    assert (sample.cwd, sample.user) == (me.cwd(), me.username())


# -- hostile text -------------------------------------------------------------------------

_RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def test_hostile_process_name_and_cmdline_are_made_inert(spawn_agent: SpawnAgent) -> None:
    argv0 = "\x1b[31mevil\x07[@click=app.quit]\u202e"
    agent = spawn_agent(
        "hostile",
        "\x1b]0;pwned\x07",
        "[/]",
        "[@click=app.quit]",
        "\x9b2J",
        "line\nbreak\ttab",
        b"\xff\xfe",
        "A" * 100_000,
        argv0=argv0,
    )
    collector = AgentCollector(make_settings(rule("hostile", agent.tag)))
    agents, _ = collector.collect()
    sample = named(agents)["hostile"]
    assert sample.pid == agent.pid
    for text in (sample.process, sample.cmdline):
        assert not _RAW_CONTROL.search(text), text[:200]
        text.encode("utf-8")  # no lone surrogates left
    assert "\\x1b" in sample.process
    assert "[@click=app.quit]" in sample.process
    assert "\\u202e" in sample.process
    assert len(sample.process) <= safe.NAME_MAX
    assert "\\x1b]0;pwned\\x07" in sample.cmdline
    assert "[/]" in sample.cmdline
    assert "[@click=app.quit]" in sample.cmdline
    assert "\\x9b2J" in sample.cmdline
    assert "line\\nbreak\\ttab" in sample.cmdline
    assert "\\udcff\\udcfe" in sample.cmdline or "\\xff\\xfe" in sample.cmdline
    assert len(sample.cmdline) <= safe.CMDLINE_MAX
    assert sample.cmdline.endswith(safe.ELLIPSIS)


def test_hostile_comm_is_escaped_when_it_is_all_there_is(
    spawn_agent: SpawnAgent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    agent = spawn_agent("hostile")  # renames itself to "\x1b[31m[/]x"
    with open(f"/proc/{agent.pid}/comm", "rb") as f:
        assert f.read().rstrip(b"\n") == b"\x1b[31m[/]x"
    monkeypatch.setattr(psutil.Process, "cmdline", _deny)
    pidfile = tmp_path / "hostile.pid"
    pidfile.write_text(str(agent.pid))
    by_name = AgentRule(name="bycomm", process="\x1b[31m[/]x", pidfile=pidfile)
    agents, _ = AgentCollector(make_settings(by_name)).collect()
    sample = named(agents)["bycomm"]
    assert sample.pid == agent.pid
    assert sample.process == "\\x1b[31m[/]x"


# -- presets ------------------------------------------------------------------------------


@pytest.fixture
def llama_server(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real process whose argv[0] basename and comm are exactly `llama-server`."""
    link = tmp_path / "llama-server"
    sleep = Path("/bin/sleep") if Path("/bin/sleep").exists() else Path("/usr/bin/sleep")
    link.symlink_to(sleep)
    proc = subprocess.Popen([str(link), "60"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while proc_state(proc.pid) is None or psutil.Process(proc.pid).name() != "llama-server":
            if time.monotonic() > deadline:
                pytest.fail("llama-server stand-in did not start")
            time.sleep(0.01)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_preset_finds_real_llama_server(llama_server: subprocess.Popen[bytes]) -> None:
    agents, _ = AgentCollector(make_settings(presets=True)).collect()
    (sample,) = [a for a in agents if a.pid == llama_server.pid]
    assert sample.name.startswith("llama-server")
    assert (sample.kind, sample.source) == ("inference", "preset")
    assert sample.process == "llama-server"


def test_config_rule_wins_over_preset_for_real_process(
    llama_server: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    mine = AgentRule(name="my-llm", kind="local", cmdline=re.escape(str(tmp_path)))
    agents, _ = AgentCollector(make_settings(mine, presets=True)).collect()
    (sample,) = [a for a in agents if a.pid == llama_server.pid]
    assert (sample.name, sample.kind, sample.source) == ("my-llm", "local", "config")


def test_presets_disabled_or_excluded_find_nothing(llama_server: subprocess.Popen[bytes]) -> None:
    for settings in (
        make_settings(presets=False),
        Settings(presets=PresetSettings(exclude=["llama-server"])),
    ):
        agents, _ = AgentCollector(settings).collect()
        assert all(llama_server.pid not in a.pids for a in agents)


# -- pidfile rules ------------------------------------------------------------------------


def test_pidfile_rule_follows_the_file(spawn_agent: SpawnAgent, tmp_path: Path) -> None:
    first = spawn_agent("idle")
    second = spawn_agent("idle")
    pidfile = tmp_path / "svc.pid"
    collector = AgentCollector(make_settings(AgentRule(name="svc", pidfile=pidfile)))
    agents, _ = collector.collect()
    assert named(agents)["svc"].status == "exited"  # no file yet
    pidfile.write_text("garbage")
    agents, _ = collector.collect()
    assert named(agents)["svc"].status == "exited"
    pidfile.write_text(f"{first.pid}\n")
    agents, events = collector.collect()
    assert named(agents)["svc"].pid == first.pid
    assert kinds(events) == ["started"]
    # The service restarted elsewhere and rewrote its pidfile: the agent follows the file.
    pidfile.write_text(f"{second.pid}\n")
    agents, events = collector.collect()
    # (It should keep the name "svc": see test_restart_between_two_ticks_is_restarted.)
    (sample,) = [a for a in agents if a.pid == second.pid]
    assert sample.name.partition("#")[0] == "svc"
    assert all(first.pid not in a.pids for a in agents)
    assert "exited" in kinds(events)
    pidfile.unlink()
    agents, events = collector.collect()
    assert named(agents)["svc"].status == "exited"


@pytest.mark.parametrize("first_rule", ["other-config-rule", "preset-match"])
def test_pidfile_match_names_the_pidfile_rule(
    spawn_agent: SpawnAgent,
    tmp_path: Path,
    first_rule: str,
    llama_server: subprocess.Popen[bytes],
) -> None:
    pidfile = tmp_path / "svc.pid"
    byfile = AgentRule(name="svc", pidfile=pidfile)
    if first_rule == "other-config-rule":
        agent_pid = spawn_agent("idle").pid
        settings = make_settings(rule("other", group_tag()), byfile)
    else:
        agent_pid = llama_server.pid  # also matched by the llama-server preset
        settings = make_settings(byfile, presets=True)
    pidfile.write_text(str(agent_pid))
    agents, _ = AgentCollector(settings).collect()
    (sample,) = [a for a in agents if a.pid == agent_pid]
    assert (sample.name, sample.source) == ("svc", "config")


# -- processes agents report as theirs (ingest `pid`) ------------------------------------


def test_a_reported_pid_is_measured_as_that_agent_with_its_tree(
    spawn_agent: SpawnAgent,
) -> None:
    """Like a pidfile: the process an agent registered, and its children, are the agent."""
    parent = spawn_agent("spawner")
    collector = AgentCollector(make_settings())
    claims = {"worker-7": (parent.pid, time.time())}
    agents, events = collector.collect(claims=claims)
    sample = named(agents)["worker-7"]
    assert (sample.pid, sample.procs, sample.source) == (parent.pid, 3, "ingest")
    assert sample.ram_used is not None and sample.ram_used > 3 * MiB
    agents, _ = tick_until(
        collector,
        lambda a, _: named(a)["worker-7"].cpu_utilization is not None,
        claims=claims,
    )
    assert named(agents)["worker-7"].status == "idle"
    assert kinds(events) == []  # the baseline tick: nothing started just now
    parent.stop()
    agents, _ = collector.collect(claims=claims)
    assert named(agents)["worker-7"].status == "exited"


def test_a_reported_pid_takes_the_process_from_a_preset_silently(
    llama_server: subprocess.Popen[bytes],
) -> None:
    collector = AgentCollector(make_settings(presets=True))
    agents, _ = collector.collect()
    assert [a.name for a in agents if a.pid == llama_server.pid] == ["llama-server"]
    claims = {"coder-9": (llama_server.pid, time.time())}
    agents, events = collector.collect(claims=claims)
    assert [a.name for a in agents if a.pid == llama_server.pid] == ["coder-9"]
    assert "llama-server" not in named(agents)
    assert kinds(events) == ["started"]  # coder-9 started; llama-server did not "exit"


def test_a_claim_on_a_reused_pid_or_a_rule_name_is_ignored(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("idle")
    ruled = spawn_agent("idle")
    collector = AgentCollector(make_settings(rule("planner", ruled.tag)))
    started = psutil.Process(agent.pid).create_time()
    claims = {
        "early": (agent.pid, started - 30),  # reported before this process existed: reused pid
        "planner": (agent.pid, time.time()),  # a rule's name: reports join the rule's row
    }
    agents, _ = collector.collect(claims=claims)
    assert "early" not in named(agents)
    assert named(agents)["planner"].pid == ruled.pid
    assert not [a for a in agents if a.pid == agent.pid]


# -- memory: what the tree really holds -----------------------------------------------------


def _rollup(pid: int, field: bytes) -> int:
    with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
        for line in f:
            if line.startswith(field + b":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field!r} in smaps_rollup of {pid}")


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="needs smaps_rollup")
def test_memory_counts_copy_on_write_pages_once(spawn_agent: SpawnAgent) -> None:
    """A forked child sharing 128 MiB: RSS sums it twice, the agent's MEM (PSS) once."""
    agent = spawn_agent("cow", "128")
    child = int(agent.ready_fields[2])
    collector = AgentCollector(make_settings(rule("cow", agent.tag)))
    agents, _ = collector.collect()
    assert named(agents)["cow"].procs == 2
    agents, _ = tick_until(collector, lambda a, _: named(a)["cow"].ram_kind == "pss")
    sample = named(agents)["cow"]
    rss = sum(_rollup(p, b"Rss") for p in (agent.pid, child))
    pss = sum(_rollup(p, b"Pss") for p in (agent.pid, child))
    assert rss > 256 * MiB and pss < 200 * MiB  # the setting: shared pages, counted twice
    assert sample.ram_used is not None
    assert abs(sample.ram_used - pss) < 16 * MiB, (sample.ram_used, pss, rss)
    rss_only = AgentCollector(make_settings(rule("cow", agent.tag)), pss=False)
    agents, _ = rss_only.collect()
    assert named(agents)["cow"].ram_kind == "rss"
    assert named(agents)["cow"].ram_used == pytest.approx(rss, rel=0.1)
