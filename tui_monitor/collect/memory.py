"""What a process tree really holds in memory: PSS, read within a CPU budget.

RSS counts every page a process maps, so a parent and its forked workers count the pages they
share copy-on-write once per process (a worker sharing 200 MiB showed 423 MiB). PSS splits each
shared page between the processes sharing it, so a tree's sum is what it holds. The kernel
computes PSS by walking the page tables: `/proc/PID/smaps_rollup` costs about 3 µs per MiB
resident (1.5 ms for a 512 MiB process, bench/RESULTS.md), too much for every process every
tick. So each process's PSS/RSS ratio is read when it is first seen and then every `refresh`
seconds, oldest first, within `budget` of one core on average; between readings its RSS (from
the tick's scan) times that ratio stands for its PSS. A process whose smaps_rollup cannot be
read (another user's, a kernel before 4.14) counts its RSS, and its agent says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Key = tuple[int, float]
"""(pid, start): one process instance, as in collect/agents.py."""

BUDGET = 0.005
"""Share of one core that PSS readings may take on average (0.5%)."""
REFRESH = 10.0
"""Seconds between readings of one process (if the budget allows)."""
BURST = 0.25
"""Seconds of readings the budget may save up (a start-up or a very large process)."""


def read_rollup(pid: int) -> tuple[int, int] | None:
    """(RSS, PSS) in bytes from /proc/PID/smaps_rollup; None when it holds no such lines
    (a kernel thread, a zombie). OSError when it cannot be read."""
    fd = os.open(f"/proc/{pid}/smaps_rollup", os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    rss = pss = None
    for line in data.split(b"\n"):
        if line.startswith(b"Rss:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith(b"Pss:"):
            pss = int(line.split()[1]) * 1024
            break  # Pss follows Rss
    return None if rss is None or pss is None else (rss, pss)


@dataclass(slots=True)
class _Reading:
    ratio: float | None
    """PSS / RSS at the last reading; None: unreadable, RSS is all we have."""
    at: float


class PssMeter:
    """PSS per process instance, estimated from RSS between budgeted readings."""

    def __init__(
        self,
        *,
        budget: float = BUDGET,
        refresh: float = REFRESH,
        burst: float = BURST,
        read: Callable[[int], tuple[int, int] | None] = read_rollup,
        cost: Callable[[], float] = time.thread_time,
    ) -> None:
        self.budget = budget
        self.refresh = refresh
        self.burst = burst
        self._read = read
        self._cost = cost
        self._credit = 0.0  # nothing on the first tick: it is shown at once on start-up
        self._last: float | None = None
        self._readings: dict[Key, _Reading] = {}
        self.reads = 0
        self.spent = 0.0
        """Readings taken and the CPU seconds they cost (for the bench)."""
        self.available = os.path.exists("/proc/self/smaps_rollup")

    def update(self, procs: Mapping[Key, int], now: float) -> None:
        """Read the processes most in need of it, as far as the budget goes; `procs` are the
        agents' processes now (key -> RSS), `now` a monotonic clock in seconds."""
        if not self.available:
            return
        readings = self._readings
        for key in readings.keys() - procs.keys():
            del readings[key]  # gone
        if self._last is not None:
            self._credit = min(self.burst, self._credit + (now - self._last) * self.budget)
        self._last = now
        due = [k for k in procs if k not in readings]
        due += sorted(
            (k for k, r in readings.items() if now - r.at >= self.refresh),
            key=lambda k: readings[k].at,
        )
        for key in due:
            if self._credit <= 0:
                break
            started = self._cost()
            try:
                found = self._read(key[0])
            except OSError:
                found = None
            spent = self._cost() - started
            self._credit -= spent
            self.spent += spent
            self.reads += 1
            ratio = None if found is None or found[0] <= 0 else min(1.0, found[1] / found[0])
            readings[key] = _Reading(ratio, now)

    def memory(self, key: Key, rss: int) -> tuple[int, bool]:
        """(bytes, whether that is PSS): the estimate of the process's PSS, else its RSS."""
        reading = self._readings.get(key)
        if reading is None or reading.ratio is None:
            return rss, False
        return int(rss * reading.ratio), True


def tree_memory(
    meter: PssMeter | None, procs: Iterable[tuple[Key, int]]
) -> tuple[int, Literal["pss", "rss"]]:
    """A tree's memory from its processes' (key, RSS): PSS if every one has a reading."""
    if meter is None:
        return sum(rss for _, rss in procs), "rss"
    total, pss = 0, True
    for key, rss in procs:
        used, measured = meter.memory(key, rss)
        total, pss = total + used, pss and measured
    return total, "pss" if pss else "rss"
