"""The collector names a process by the $TUI_MONITOR_AGENT `tui-monitor run` gave it: real
processes carrying the variable, the real /proc, from the first tick that sees them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tui_monitor.client import AGENT_ENV
from tui_monitor.collect.agents import AgentCollector
from tui_monitor.collect.launched import launched_name
from tui_monitor.config import AgentRule, PresetSettings, Settings
from tui_monitor.models import AgentSample

if TYPE_CHECKING:
    from conftest import SpawnAgent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def unique(prefix: str) -> str:
    """Other tests on this machine may run named agents too: ours are ours alone."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def settings(*rules: AgentRule) -> Settings:
    return Settings(agents=list(rules), presets=PresetSettings(enabled=False))


def by_pid(agents: tuple[AgentSample, ...], pid: int) -> AgentSample:
    found = [a for a in agents if a.pid == pid]
    assert len(found) == 1, agents
    return found[0]


def test_a_named_process_and_its_tree_are_one_row_from_the_first_tick(
    spawn_agent: SpawnAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique("planner")
    monkeypatch.setenv(AGENT_ENV, name)
    spawner = spawn_agent("spawner")  # two children, which inherit the name
    agents, _ = AgentCollector(settings()).collect()
    row = by_pid(agents, spawner.pid)
    assert (row.name, row.source, row.kind) == (name, "run", "custom")
    assert row.procs == 3 and len(row.pids) == 3
    assert not [a for a in agents if a.name.startswith(f"{name}#")]  # children: not roots
    assert launched_name(spawner.pid) == name
    assert launched_name(spawner.pid, uid=os.getuid() + 1) is None  # only our user's


def test_the_name_wins_over_a_rule_and_takes_its_kind(
    spawn_agent: SpawnAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique("reviewer")
    tag = f"tag-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(AGENT_ENV, name)
    agent = spawn_agent("idle", tag=tag)
    rule = AgentRule(name="by-rule", cmdline=f"--tag {tag}", kind="worker")
    agents, _ = AgentCollector(settings(rule)).collect()
    row = by_pid(agents, agent.pid)
    assert (row.name, row.kind, row.source) == (name, "worker", "run")
    assert "by-rule" not in {a.name for a in agents if a.status != "exited"}


@pytest.mark.parametrize("bad", ["two words", "x#2", "esc\x1b[31m"])
def test_a_name_run_would_refuse_is_ignored(
    spawn_agent: SpawnAgent, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    tag = f"tag-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(AGENT_ENV, bad)
    agent = spawn_agent("idle", tag=tag)
    agents, _ = AgentCollector(settings(AgentRule(name="r", cmdline=f"--tag {tag}"))).collect()
    assert by_pid(agents, agent.pid).name == "r"
    assert launched_name(agent.pid) is None


def test_a_report_claiming_the_pid_under_the_name_joins_the_row(
    spawn_agent: SpawnAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique("worker")
    monkeypatch.setenv(AGENT_ENV, name)
    agent = spawn_agent("idle")
    collector = AgentCollector(settings())
    claims = {name: (agent.pid, time.time())}  # what our client's register line makes
    for _ in range(2):
        agents, events = collector.collect(claims=claims)
        row = by_pid(agents, agent.pid)
        assert (row.name, row.source) == (name, "run")
        assert not [e for e in events if e.agent == name and e.kind == "exited"]


FAKE_RUN = """\
import os, signal, sys, time
argv = sys.argv[sys.argv.index("--") + 1:]
def go(signum, frame):
    os.execve(argv[0], argv, {**os.environ, "TUI_MONITOR_AGENT": sys.argv[2]})
signal.signal(signal.SIGUSR1, go)
print("READY", flush=True)
while True:
    time.sleep(60)
"""


def _comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def test_run_seen_before_its_exec_is_named_after_it_under_the_same_program_name(
    tmp_path: Path,
) -> None:
    """`python -m tui_monitor run -- python agent.py`: the collector sees `run` (python),
    then the agent (python again, so the name alone would not tell it exec'd)."""
    name = unique("late")
    script = tmp_path / "tui-monitor"  # what the console script is called
    script.write_text(FAKE_RUN)
    agent = [sys.executable, "-c", "import time; time.sleep(60)"]
    proc = subprocess.Popen(
        [sys.executable, str(script), "run", name, "--", *agent],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"READY\n"
        collector = AgentCollector(settings())
        agents, _ = collector.collect()
        assert not [a for a in agents if a.pid == proc.pid]
        before = _comm(proc.pid)
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while launched_name(proc.pid) != name:  # the exec has happened
            assert time.monotonic() < deadline, "the fake run never exec'd"
            time.sleep(0.01)
        assert _comm(proc.pid) == before
        agents, events = collector.collect()
        assert by_pid(agents, proc.pid).name == name
        assert [e.kind for e in events if e.agent == name] == ["started"]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
