"""One pass over every process on the box: pid -> ppid, name, state, start, CPU, RSS, threads.

This is the hot path of every tick, so on Linux it reads `/proc/<pid>/stat` (one file per
process, everything needed is in it) instead of going through `psutil.process_iter`, which
reads that file twice per process and costs 2.5-5 times as much (bench/RESULTS.md).
Other platforms use psutil. Everything expensive (cmdline, cwd, user) is read elsewhere, once
per new process instance.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import psutil

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(slots=True)
class ProcStat:
    """What one scan knows about one process. `start` with the pid identifies an instance."""

    ppid: int
    name: bytes
    state: str
    start: float
    """Process start in seconds since boot (pid reuse gives a new value)."""
    cpu: float
    """User + system CPU seconds so far."""
    threads: int
    rss: int


def _scan_proc() -> dict[int, ProcStat]:
    table: dict[int, ProcStat] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        # os.open/os.read: 3 syscalls per process where open().read() makes 9.
        try:
            fd = os.open(f"/proc/{entry}/stat", os.O_RDONLY)
        except OSError:  # vanished since listdir, or not readable: not ours to show
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            continue
        finally:
            os.close(fd)
        try:
            close = data.rindex(b")")
            fields = data[close + 2 :].split()
            table[int(entry)] = ProcStat(
                ppid=int(fields[1]),
                name=data[data.index(b"(") + 1 : close],
                state=fields[0].decode("ascii", "replace"),
                start=int(fields[19]) / _CLK_TCK,
                cpu=(int(fields[11]) + int(fields[12])) / _CLK_TCK,
                threads=int(fields[17]),
                rss=int(fields[21]) * _PAGE,
            )
        except (ValueError, IndexError):
            continue
    return table


_STATE = {
    psutil.STATUS_RUNNING: "R",
    psutil.STATUS_SLEEPING: "S",
    psutil.STATUS_DISK_SLEEP: "D",
    psutil.STATUS_STOPPED: "T",
    psutil.STATUS_TRACING_STOP: "t",
    psutil.STATUS_ZOMBIE: "Z",
    psutil.STATUS_DEAD: "X",
    psutil.STATUS_IDLE: "I",
}


def _scan_psutil() -> dict[int, ProcStat]:
    table: dict[int, ProcStat] = {}
    boot = psutil.boot_time()
    attrs = ["ppid", "name", "status", "create_time", "cpu_times", "num_threads", "memory_info"]
    for proc in psutil.process_iter(attrs, ad_value=None):
        info = proc.info
        if info["create_time"] is None or info["ppid"] is None:
            continue
        cpu = info["cpu_times"]
        mem = info["memory_info"]
        table[proc.pid] = ProcStat(
            ppid=info["ppid"],
            name=(info["name"] or "").encode("utf-8", "surrogateescape"),
            state=_STATE.get(info["status"], "S"),
            start=round(info["create_time"] - boot, 2),
            cpu=(cpu.user + cpu.system) if cpu else 0.0,
            threads=info["num_threads"] or 0,
            rss=mem.rss if mem else 0,
        )
    return table


def has_procfs() -> bool:
    """Whether the fast /proc reader can be used on this system."""
    return sys.platform.startswith("linux") and os.path.exists("/proc/self/stat")


def scan(use_procfs: bool | None = None) -> dict[int, ProcStat]:
    """Every process now. A process that vanishes during the pass is simply absent."""
    if use_procfs is None:
        use_procfs = has_procfs()
    return _scan_proc() if use_procfs else _scan_psutil()


def since_boot() -> float:
    """Seconds since boot on the same clock as `ProcStat.start`."""
    if has_procfs():
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.time() - psutil.boot_time()


def boot_time() -> float:
    """Epoch seconds of boot, to turn `ProcStat.start` into a wall-clock create time."""
    return psutil.boot_time()
