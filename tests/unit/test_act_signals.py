"""`K`'s work without the screen: the tree read once, every process of it signalled (children
first), what became of each, and the refusals (pid 1, ourselves, a reused pid, gone)."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from tests.conftest import AgentProcess, SpawnAgent
from tui_monitor.act import signals
from tui_monitor.act.signals import Refused, send, tree_of


def pids_of(agent: AgentProcess) -> list[int]:
    """The root, then the four below it, as the family agent's READY line lists them."""
    return [agent.pid, *map(int, agent.ready_fields[2:])]


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_tree_names_the_root_and_every_descendant(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("family")
    tree = tree_of(agent.pid, psutil.Process(agent.pid).create_time())
    assert tree.root.pid == agent.pid
    assert sorted(m.proc.pid for m in tree.children) == sorted(pids_of(agent)[1:])
    assert [m.depth for m in tree.members] == [0, 1, 2, 1, 2]  # tree order
    assert agent.tag in tree.command and "family.py" in tree.command


def test_term_ends_the_whole_tree_children_included(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("family")
    pids = pids_of(agent)
    outcome = send(tree_of(agent.pid, None), "TERM", wait=10)
    assert outcome.ok and sorted(outcome.ended) == sorted(pids)
    assert not any(running(p) for p in pids)
    assert "5 ended" in outcome.message(agent.pid, 10)


def test_a_root_that_ignores_the_signal_is_reported_still_running(
    spawn_agent: SpawnAgent,
) -> None:
    agent = spawn_agent("family", "--ignore", "INT")
    pids = pids_of(agent)
    outcome = send(tree_of(agent.pid, None), "INT", wait=0.5)
    assert outcome.alive == [agent.pid]  # its children took the default action: ended
    assert sorted(outcome.ended) == sorted(pids[1:])
    assert not outcome.ok
    assert f"1 still running after 0.5 s (pids {agent.pid})" in outcome.message(agent.pid, 0.5)
    assert send(tree_of(agent.pid, None), "KILL", wait=10).ok


def test_children_are_signalled_before_their_parents(
    spawn_agent: SpawnAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = spawn_agent("family")
    tree = tree_of(agent.pid, None)
    order: list[int] = []
    real = psutil.Process.send_signal

    def spy(self: psutil.Process, sig: int) -> None:
        order.append(self.pid)
        real(self, sig)

    monkeypatch.setattr(psutil.Process, "send_signal", spy)
    send(tree, "KILL", wait=10)
    depth = {m.proc.pid: m.depth for m in tree.members}
    assert [depth[p] for p in order] == sorted((depth[p] for p in order), reverse=True)
    assert order[-1] == agent.pid


def test_a_process_gone_before_the_signal_is_counted_as_gone(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("family")
    tree = tree_of(agent.pid, None)
    leaf = tree.members[-1].proc
    leaf.kill()
    deadline = time.monotonic() + 10
    while running(leaf.pid) and time.monotonic() < deadline:  # a zombie: its parent sleeps
        time.sleep(0.02)
    outcome = send(tree, "TERM", wait=10)
    assert outcome.gone == [leaf.pid]
    assert "1 already gone" in outcome.message(agent.pid, 10)


def test_refused_pid_1_ourselves_and_our_own_ancestors() -> None:
    with pytest.raises(Refused, match="init"):
        tree_of(1, None)
    with pytest.raises(Refused, match="this monitor"):
        tree_of(os.getpid(), None)
    with pytest.raises(Refused, match="holds this monitor"):
        tree_of(os.getppid(), None)  # our parent's tree holds us


def test_a_reused_pid_is_refused(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("idle")
    sampled = psutil.Process(agent.pid).create_time() - 60  # "the agent we saw" started earlier
    with pytest.raises(Refused, match="another process now"):
        tree_of(agent.pid, sampled)
    assert running(agent.pid)


def test_a_pid_that_has_exited_is_refused(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("idle")
    agent.stop()
    with pytest.raises(Refused, match="has exited"):
        tree_of(agent.pid, None)


def test_send_never_signals_us_even_in_a_forged_tree() -> None:
    me = psutil.Process()
    tree = signals.Tree((signals.Member(me, 0, "me"),), "me")
    got: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: got.append(1))
    try:
        signals.SIGNALS["USR1"] = signal.SIGUSR1
        outcome = send(tree, "USR1", wait=0, sleep=time.sleep)
    finally:
        del signals.SIGNALS["USR1"]
        signal.signal(signal.SIGUSR1, previous)
    assert got == [] and outcome.ended == [] and outcome.alive == []
