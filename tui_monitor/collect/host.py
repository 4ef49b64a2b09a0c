"""Whole-machine figures from psutil: CPU, load, memory, disk and network rates.

Rates come from deltas between this collector's own readings, never from psutil's
module-global `cpu_percent` state (other code may call it) and never by sleeping.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psutil

from tui_monitor import safe
from tui_monitor.models import HostSample

T = TypeVar("T")
Pair = tuple[float | None, float | None]


def _optional(read: Callable[[], T | None]) -> T | None:
    """Call a psutil source that may be missing here (container, odd kernel): None if so."""
    try:
        return read()
    except Exception:  # psutil raises OSError, RuntimeError, NotImplementedError, ...
        return None


def _total(times: Any) -> float:
    """All CPU time; on Linux guest time is already inside user/nice, as psutil and htop say."""
    return float(sum(times)) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


def _busy_and_total(old: Any, new: Any) -> tuple[float, float]:
    """Busy and total CPU time between two readings; a field going backwards counts as 0."""
    delta = type(new)(*(max(0.0, b - a) for a, b in zip(old, new, strict=True)))
    total = _total(delta)
    return total - delta.idle - getattr(delta, "iowait", 0.0), total


def _percent(busy: float, total: float) -> float:
    """Rounded to 0.1 (what any display shows), which also keeps the per-core history small."""
    return round(min(100.0, max(0.0, 100.0 * busy / total)), 1)


def _net_counters() -> tuple[int, int] | None:
    """Received and sent bytes over every interface but loopback, which is not network."""
    nics = psutil.net_io_counters(pernic=True)
    if not nics:
        return None
    rest = [c for name, c in nics.items() if name != "lo"]
    return sum(c.bytes_recv for c in rest), sum(c.bytes_sent for c in rest)


def _disk_counters() -> tuple[int, int] | None:
    io = psutil.disk_io_counters()
    return None if io is None else (io.read_bytes, io.write_bytes)


class HostCollector:
    """Reads the machine once per tick; keeps the previous reading to turn counters into rates."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cpu_times: Sequence[Any] | None = None
        self._cpu: tuple[float | None, tuple[float, ...] | None] = (None, None)
        self._counters: dict[str, tuple[float, tuple[int, int]]] = {}
        self._rates: dict[str, Pair] = {}

    def sample(self) -> HostSample:
        """One blocking reading of the host; call it from a worker thread, not the event loop."""
        cpu_utilization, cpu_per_core = self._cpu_percent()
        now = self._clock()
        disk_read, disk_write = self._rate("disk", _optional(_disk_counters), now)
        net_rx, net_tx = self._rate("net", _optional(_net_counters), now)
        load: tuple[float | None, ...] = _optional(psutil.getloadavg) or (None, None, None)
        mem = psutil.virtual_memory()
        swap = psutil.swap_memory()
        return HostSample(
            hostname=safe.name(socket.gethostname()),
            boot_time=psutil.boot_time(),
            cpu_count=psutil.cpu_count() or 1,
            cpu_utilization=cpu_utilization,
            cpu_per_core=cpu_per_core,
            load_1=load[0],
            load_5=load[1],
            load_15=load[2],
            ram_used=mem.total - mem.available,
            ram_total=mem.total,
            ram_available=mem.available,
            swap_used=swap.used,
            swap_total=swap.total,
            disk_read_bps=disk_read,
            disk_write_bps=disk_write,
            net_rx_bps=net_rx,
            net_tx_bps=net_tx,
        )

    def _cpu_percent(self) -> tuple[float | None, tuple[float, ...] | None]:
        """Busy percent overall and per core since the last reading; None on the first."""
        times: Sequence[Any] | None = _optional(lambda: psutil.cpu_times(percpu=True))
        old, self._cpu_times = self._cpu_times, times
        if not times or not old or len(old) != len(times):
            self._cpu = (None, None)  # first reading, source gone, or cores came and went
            return self._cpu
        deltas = [_busy_and_total(a, b) for a, b in zip(old, times, strict=True)]
        all_busy, all_total = sum(d[0] for d in deltas), sum(d[1] for d in deltas)
        if all_total <= 0:
            return self._cpu  # same clock tick: keep the last figures rather than divide by 0
        last = self._cpu[1] or (0.0,) * len(deltas)
        per_core = tuple(
            _percent(busy, total) if total > 0 else last[i]
            for i, (busy, total) in enumerate(deltas)
        )
        self._cpu = (_percent(all_busy, all_total), per_core)
        return self._cpu

    def _rate(self, key: str, values: tuple[int, int] | None, now: float) -> Pair:
        """Bytes per second since the last reading of `key`; None where no honest figure exists.

        A total going backwards means a wrap, a reset or a vanished device, so the whole pair
        is None for that tick (the other total is suspect too) and the next tick starts afresh.
        """
        if values is None:
            self._counters.pop(key, None)
            self._rates.pop(key, None)
            return None, None
        prev = self._counters.get(key)
        if prev is not None and now <= prev[0]:
            return self._rates.get(key, (None, None))  # no time passed: keep the last figure
        self._counters[key] = (now, values)
        rates: Pair = (None, None)
        if prev is not None and all(v >= p for v, p in zip(values, prev[1], strict=True)):
            dt = now - prev[0]
            rates = ((values[0] - prev[1][0]) / dt, (values[1] - prev[1][1]) / dt)
        self._rates[key] = rates
        return rates
