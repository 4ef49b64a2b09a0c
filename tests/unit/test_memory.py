"""PssMeter: PSS readings within a CPU budget, RSS times the last ratio in between."""

from __future__ import annotations

import os

import pytest

from tui_monitor.collect.memory import PssMeter, read_rollup

MiB = 1 << 20


class FakeProc:
    """smaps_rollup of made-up pids, each reading costing `each` CPU seconds."""

    def __init__(self, each: float) -> None:
        self.each = each
        self.clock = 0.0
        self.read: list[int] = []
        self.pss: dict[int, tuple[int, int] | None] = {}

    def rollup(self, pid: int) -> tuple[int, int] | None:
        self.read.append(pid)
        self.clock += self.each
        if pid not in self.pss:
            raise PermissionError(13, "denied")
        return self.pss[pid]

    def cost(self) -> float:
        return self.clock


def meter(fake: FakeProc, **kw: float) -> PssMeter:
    m = PssMeter(read=fake.rollup, cost=fake.cost, **kw)
    m.available = True
    return m


def test_ratio_from_a_reading_scales_rss_until_the_next() -> None:
    fake = FakeProc(each=0.0001)
    fake.pss = {1: (200 * MiB, 100 * MiB), 2: (200 * MiB, 110 * MiB)}
    m = meter(fake)
    procs = {(1, 0.0): 200 * MiB, (2, 0.0): 200 * MiB, (3, 0.0): 50 * MiB}
    m.update(procs, 0.0)
    assert fake.read == []  # never on the first tick: it is on screen at once
    assert m.memory((1, 0.0), 200 * MiB) == (200 * MiB, False)
    m.update(procs, 1.0)
    assert sorted(fake.read) == [1, 2, 3]
    assert m.memory((1, 0.0), 200 * MiB) == (100 * MiB, True)
    assert m.memory((1, 0.0), 300 * MiB) == (150 * MiB, True)  # grew: same share of it
    assert m.memory((3, 0.0), 50 * MiB) == (50 * MiB, False)  # unreadable: RSS, and says so
    m.update(procs, 2.0)
    assert len(fake.read) == 3  # not again before `refresh` seconds
    m.update({(1, 0.0): 200 * MiB}, 12.0)
    assert fake.read[3:] == [1]
    assert m.memory((2, 0.0), 200 * MiB) == (200 * MiB, False)  # gone: forgotten


def test_readings_stay_within_the_budget_however_many_are_due() -> None:
    fake = FakeProc(each=0.002)  # 2 ms a reading: a ~700 MiB process
    fake.pss = {pid: (100 * MiB, 50 * MiB) for pid in range(1000)}
    m = meter(fake, budget=0.005, refresh=10.0)
    procs = {(pid, 0.0): 100 * MiB for pid in range(1000)}
    for second in range(301):
        m.update(procs, float(second))
    assert m.spent <= 0.005 * 300 + 0.002  # 0.5% of a core, plus at most one overshoot
    assert m.reads >= 700  # and the budget is used, unread processes first
    assert len(set(fake.read)) == len(fake.read)


def test_a_big_reading_is_paid_for_by_the_ticks_after_it() -> None:
    fake = FakeProc(each=0.2)  # a 64 GiB inference server: 200 ms a reading
    fake.pss = {1: (64 << 30, 60 << 30), 2: (MiB, MiB)}
    m = meter(fake, budget=0.005, refresh=10.0)
    procs = {(1, 0.0): 64 << 30, (2, 0.0): MiB}
    for second in range(121):
        m.update(procs, float(second))
    assert m.spent <= 0.005 * 120 + 0.2


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="needs smaps_rollup")
def test_read_rollup_of_this_process() -> None:
    found = read_rollup(os.getpid())
    assert found is not None
    rss, pss = found
    assert 0 < pss <= rss
    with pytest.raises(OSError):
        read_rollup(2**22 + 1)  # above pid_max: no such process
