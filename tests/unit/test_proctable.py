"""The process-table scan: the /proc fast path against the psutil fallback and the kernel."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from tui_monitor.collect import proctable

if TYPE_CHECKING:
    from conftest import SpawnAgent

linux_only = pytest.mark.skipif(not proctable.has_procfs(), reason="needs /proc")


def test_scan_finds_this_process_with_its_parent() -> None:
    table = proctable.scan()
    me = table[os.getpid()]
    assert me.ppid == os.getppid()
    assert me.name == psutil.Process().name().encode()
    assert me.state == "R"  # we are on a CPU while we read our own stat
    assert me.threads >= 1
    assert me.rss > 10 * 1024 * 1024  # a Python running pytest is never this small
    assert me.cpu > 0
    assert os.getppid() in table


@linux_only
def test_psutil_fallback_agrees_with_procfs() -> None:
    fast = proctable.scan(use_procfs=True)
    slow = proctable.scan(use_procfs=False)
    for pid in (os.getpid(), os.getppid()):
        assert slow[pid].ppid == fast[pid].ppid
        assert slow[pid].name == fast[pid].name
        assert slow[pid].start == pytest.approx(fast[pid].start, abs=0.05)
    # Our own thread count may move between the scans (a daemon thread of an earlier test
    # ending); the parent's does not.
    assert slow[os.getppid()].threads == fast[os.getppid()].threads
    me_fast, me_slow = fast[os.getpid()], slow[os.getpid()]
    assert me_slow.cpu >= me_fast.cpu - 1e-6  # read later, never less (but summed differently)
    assert me_slow.rss == pytest.approx(me_fast.rss, rel=0.2)
    # Long-lived processes are in both; the sets differ only by what started or ended.
    assert len(set(fast) & set(slow)) >= 0.9 * min(len(fast), len(slow))


def settled(pid: int) -> proctable.ProcStat:
    """The process once it sleeps: right after its ready line it may still be on a CPU."""
    deadline = time.monotonic() + 5
    while True:
        st = proctable.scan()[pid]
        if st.state == "S" or time.monotonic() > deadline:
            return st
        time.sleep(0.02)


@linux_only
def test_start_is_on_the_since_boot_clock(spawn_agent: SpawnAgent) -> None:
    before = proctable.since_boot()
    agent = spawn_agent("idle")
    after = proctable.since_boot()
    st = settled(agent.pid)
    # /proc start times have clock-tick (10 ms) resolution and are truncated.
    assert before - 0.02 <= st.start <= after
    assert proctable.boot_time() + st.start == pytest.approx(
        psutil.Process(agent.pid).create_time(), abs=0.05
    )
    assert st.ppid == os.getpid()
    assert st.state == "S"


@linux_only
@pytest.mark.parametrize("comm", ["a) R 1 (b", "x y z", "\x1b[31m[/]x", "))"])
def test_process_names_with_parentheses_and_spaces(spawn_agent: SpawnAgent, comm: str) -> None:
    agent = spawn_agent("hostile", "--comm", comm)
    st = settled(agent.pid)
    assert st.name == comm.encode()
    assert st.ppid == os.getpid()
    assert st.state == "S"
    assert st.threads == 1


@linux_only
def test_vanished_process_is_simply_absent(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("idle")
    assert agent.pid in proctable.scan()
    agent.stop()
    for use_procfs in (True, False):
        assert agent.pid not in proctable.scan(use_procfs=use_procfs)


def test_has_procfs_matches_platform() -> None:
    assert proctable.has_procfs() is (sys.platform.startswith("linux") and os.path.isdir("/proc"))


def test_since_boot_is_monotonic_and_plausible() -> None:
    a = proctable.since_boot()
    time.sleep(0.01)
    b = proctable.since_boot()
    assert 0 < a < b
    assert abs((time.time() - proctable.boot_time()) - b) < 2.0
