"""Who may act on an agent (act/policy.py), against real processes: replay never, read-only
never, another host never, a reused pid never, another user's only from a live dashboard."""

from __future__ import annotations

import os
import socket

import psutil
import pytest
from factories import agent

from tests.conftest import SpawnAgent
from tui_monitor.act.policy import READ_ONLY, refusal
from tui_monitor.models import AgentSample

HERE = socket.gethostname()


def row(pid: int) -> AgentSample:
    started = psutil.Process(pid).create_time()
    return agent("a", pid=pid).model_copy(update={"create_time": started})


def ask(a: AgentSample | None, **kw: object) -> str | None:
    args: dict[str, object] = {"read_only": False, "replaying": False, "mode": "live"}
    args["host"] = HERE
    return refusal(a, **(args | kw))  # type: ignore[arg-type]


def test_our_own_live_process_may_be_acted_on(spawn_agent: SpawnAgent) -> None:
    a = row(spawn_agent("idle").pid)
    assert ask(a) is None
    assert ask(a, mode="attached") is None  # ours: an attached viewer may too


def test_replay_and_read_only_refuse_first(spawn_agent: SpawnAgent) -> None:
    a = row(spawn_agent("idle").pid)
    assert "replaying history" in (ask(a, replaying=True, read_only=True) or "")
    assert ask(a, read_only=True) == READ_ONLY
    assert "read-only" in READ_ONLY


def test_no_process_exited_and_other_hosts_are_refused(spawn_agent: SpawnAgent) -> None:
    a = row(spawn_agent("idle").pid)
    assert ask(None) == "no agent selected"
    assert "no process of its own" in (ask(a.model_copy(update={"pid": None})) or "")
    assert "has exited" in (ask(a.model_copy(update={"status": "exited"})) or "")
    assert "not on this host" in (ask(a, host="elsewhere") or "")


def test_a_reused_or_vanished_pid_is_refused(spawn_agent: SpawnAgent) -> None:
    proc = spawn_agent("idle")
    a = row(proc.pid)
    assert a.create_time is not None
    assert "reused pid" in (ask(a.model_copy(update={"create_time": a.create_time - 60})) or "")
    proc.stop()
    assert "has exited" in (ask(a) or "")


def test_another_users_process_only_from_a_live_dashboard(
    spawn_agent: SpawnAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = row(spawn_agent("idle").pid)
    monkeypatch.setattr(os, "getuid", lambda: os.geteuid() + 4242)  # as if we were another
    assert "another user's" in (ask(a, mode="attached") or "")
    assert ask(a, mode="live") is None  # the kernel decides (permission denied is reported)
