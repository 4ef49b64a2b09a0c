"""Benchmark (not a test): what one sampler tick costs with many processes on the box.

For each count N it puts N extra real processes on the box (cheap `sleep`s, 20 of them matched
by a config agent rule, each of those with one child), then measures the CPU time this process
spends per `Sampler.tick()` (all threads: `time.process_time`), each collector on its own, and
two bare psutil loops for scale. The ratios within one run are what matter: the machine is
shared and noisy. Memory as PSS (collect/memory.py) is measured on and off: the tick as it
runs (PSS within its budget), with RSS only, and with every agent process's smaps_rollup read
every tick (no budget); and what one smaps_rollup reading costs by the memory a process holds.

    .venv/bin/python bench/sampler.py [--counts 50,300,1000] [--ticks 30] [--write]

`--write` replaces today's section in bench/RESULTS.md. Every process started here is in one
process group, killed on exit, Ctrl-C or SIGTERM; `pgrep -f tuimon-bench` finds any left.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psutil
from _common import (
    ProcessGroup,
    become_subreaper,
    command,
    exit_on_signals,
    machine,
    p90,
    publish,
)

from tui_monitor.collect import proctable
from tui_monitor.collect.agents import AgentCollector
from tui_monitor.collect.gpu import GpuCollector
from tui_monitor.collect.host import HostCollector
from tui_monitor.collect.memory import BUDGET, REFRESH, PssMeter, read_rollup
from tui_monitor.config import AgentRule, Settings
from tui_monitor.sampler import Sampler

MARKER = "tuimon-bench"  # argv[0] of every process started here
AGENTS = 20
TARGET_PCT = 4.0

# The agent is bash (renamed in argv[0]) with one child `sleep`, also renamed.
AGENT_SCRIPT = f"(exec -a {MARKER}-child sleep 3600) & wait"


class Fleet(ProcessGroup):
    """The extra processes, and the agents' children (counted, not held)."""

    def __init__(self) -> None:
        super().__init__()
        self.children = 0
        self._sleep = shutil.which("sleep") or "/bin/sleep"
        self._bash = shutil.which("bash") or "/bin/bash"
        become_subreaper()  # the agents' children are reaped here once their agent is gone

    def __len__(self) -> int:
        return len(self.procs) + self.children

    def start_agents(self, count: int) -> None:
        for _ in range(count):
            self.spawn([f"{MARKER}-agent", "-c", AGENT_SCRIPT], self._bash)
        self.children += count
        deadline = time.monotonic() + 10.0
        for proc in self.procs[-count:]:  # wait until each agent's child exists
            while not psutil.Process(proc.pid).children() and time.monotonic() < deadline:
                time.sleep(0.005)

    def grow(self, total: int) -> None:
        """Top up with idle fillers until `total` extra processes run."""
        while len(self) < total:
            self.spawn([f"{MARKER}-filler", "3600"], self._sleep)

    def close(self) -> None:
        super().close()
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:  # reap the grandchildren handed to us
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.01)
        self.children = 0


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Series:
    """CPU (all threads) and wall seconds of each call."""

    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1e3

    @property
    def cpu_p90_ms(self) -> float:
        return p90(self.cpu) * 1e3

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.wall) * 1e3


def measure(fn: Callable[[], Any], calls: int, pause: float, warmup: int = 2) -> Series:
    for _ in range(warmup):
        fn()
        time.sleep(pause)
    out = Series()
    for _ in range(calls):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        c1, w1 = time.process_time(), time.perf_counter()
        out.cpu.append(c1 - c0)
        out.wall.append(w1 - w0)
        time.sleep(pause)
    return out


async def measure_async(fn: Callable[[], Awaitable[Any]], calls: int, pause: float) -> Series:
    out = Series()
    for _ in range(calls):
        w0, c0 = time.perf_counter(), time.process_time()
        await fn()
        c1, w1 = time.process_time(), time.perf_counter()
        out.cpu.append(c1 - c0)
        out.wall.append(w1 - w0)
        await asyncio.sleep(pause)
    return out


def bare_psutil_loop() -> None:
    """What a naive monitor does: name, cmdline, memory and CPU of every process."""
    for p in psutil.process_iter(["name", "cmdline", "memory_info", "cpu_percent"]):
        _ = p.info


def psutil_ppid_name_start() -> None:
    for p in psutil.process_iter(["ppid", "name", "create_time"]):
        _ = p.info


@dataclass
class Run:
    """Everything measured at one count of extra processes."""

    extra: int
    pids: int
    agents: int
    first: Series
    tick: Series
    parts: dict[str, Series]
    memory: dict[str, Series] = field(default_factory=dict)
    """The tick again, with memory measured each way (MEMORY)."""
    readable: int = 0
    """Processes on the box whose smaps_rollup this process can read."""


PARTS = (
    "proctable.scan() (/proc)",
    "AgentCollector.collect() (incl. scan)",
    "AgentCollector.collect() on a fixed table",
    "HostCollector.sample()",
    "GpuCollector.sample()",
    "proctable scan via psutil (non-Linux path)",
    "psutil.process_iter(ppid, name, create_time)",
    "bare psutil loop (name, cmdline, memory, cpu%)",
)


MEMORY = {
    "PSS within its budget (default)": lambda: PssMeter(),
    "RSS only": lambda: False,
    "PSS of every agent process every tick": lambda: PssMeter(budget=1.0, refresh=0.0),
}


def settings() -> Settings:
    rule = AgentRule(name="bench", kind="bench", cmdline=f"^{MARKER}-agent ")
    return Settings(agents=[rule], interval=1.0)


async def tick_series(
    ticks: int, pause: float, pss: PssMeter | bool = True
) -> tuple[Series, Series, int]:
    cfg = settings()
    sampler = Sampler(cfg, agents=AgentCollector(cfg, pss=pss))
    try:
        first = await measure_async(sampler.tick, 1, pause)
        for _ in range(2):  # three warm-up ticks in all, the first reported on its own
            await sampler.tick()
            await asyncio.sleep(pause)
        snap = sampler.last
        assert snap is not None
        agents = sum(1 for a in snap.agents if a.kind == "bench" and a.status != "exited")
        steady = await measure_async(sampler.tick, ticks, pause)
    finally:
        sampler.close()
    return first, steady, agents


def run_at(extra: int, ticks: int, pause: float) -> Run:
    pids = len(psutil.pids())
    first, tick, agents = asyncio.run(tick_series(ticks, pause))
    cfg = settings()
    fixed = AgentCollector(cfg)
    table = proctable.scan()
    fixed_table = AgentCollector(cfg, scan=lambda: table)
    gpu = GpuCollector(timeout=cfg.gpu.timeout, enabled=cfg.gpu.enabled)
    fns: list[Callable[[], Any]] = [
        proctable.scan,
        fixed.collect,
        fixed_table.collect,
        HostCollector().sample,
        gpu.sample,
        lambda: proctable.scan(use_procfs=False),
        psutil_ppid_name_start,
        bare_psutil_loop,
    ]
    parts = {name: measure(fn, ticks, pause) for name, fn in zip(PARTS, fns, strict=True)}
    gpu.close()
    memory = {
        name: asyncio.run(tick_series(ticks, pause, make()))[1] for name, make in MEMORY.items()
    }
    return Run(extra, pids, agents, first, tick, parts, memory, readable_rollups())


def readable_rollups() -> int:
    count = 0
    for pid in psutil.pids():
        with contextlib.suppress(OSError):
            count += read_rollup(pid) is not None
    return count


def rollup_costs(sizes: list[int], reads: int) -> list[tuple[int, int, Series]]:
    """(MiB asked, RSS, CPU per smaps_rollup reading) of a process holding that much."""
    code = (
        "import sys, time\n"
        "b = bytearray(int(sys.argv[1]) << 20)\n"
        "for i in range(0, len(b), 4096): b[i] = 1\n"
        "print('ready', flush=True)\n"
        "time.sleep(3600)\n"
    )
    out = []
    for mib in sizes:
        holder = ProcessGroup()
        try:
            holder.spawn([f"{MARKER}-holder", "-c", code, str(mib)], sys.executable)
            pid = holder.procs[0].pid
            deadline = time.monotonic() + 60
            while psutil.Process(pid).memory_info().rss < mib << 20 and time.monotonic() < deadline:
                time.sleep(0.05)
            rss = psutil.Process(pid).memory_info().rss
            series = Series()
            for _ in range(reads):
                c0 = time.thread_time()
                read_rollup(pid)
                series.cpu.append(time.thread_time() - c0)
                series.wall.append(0.0)
            out.append((mib, rss, series))
        finally:
            holder.close()
    return out


# -- reporting ------------------------------------------------------------------------------


def _pct(seconds: float) -> str:
    return f"{seconds * 100:.2f}"


def tables(runs: list[Run]) -> str:
    lines = [
        "| extra procs | pids on box | agents matched | first tick CPU ms | tick CPU ms "
        "(median / p90) | tick wall ms | µs per process | % of one core at 1 Hz |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        cpu = statistics.median(r.tick.cpu)
        lines.append(
            f"| {r.extra} | {r.pids} | {r.agents} | {r.first.cpu_ms:.1f} | "
            f"{r.tick.cpu_ms:.2f} / {r.tick.cpu_p90_ms:.2f} | {r.tick.wall_ms:.2f} | "
            f"{cpu / r.pids * 1e6:.1f} | {_pct(cpu)} |"
        )
    last = runs[-1]
    tick = statistics.median(last.tick.cpu)
    heads = " | ".join(f"ms at {r.extra}" for r in runs)
    lines += [
        "",
        f"Where the time goes: median CPU ms per call (pids on box at {last.extra}: {last.pids}).",
        "",
        f"| part | {heads} | µs per process at {last.extra} | % core at 1 Hz | × tick |",
        "|---|" + "---:|" * (len(runs) + 3),
        "| **Sampler.tick()** | "
        + " | ".join(f"{r.tick.cpu_ms:.2f}" for r in runs)
        + f" | {tick / last.pids * 1e6:.1f} | {_pct(tick)} | 1.00 |",
    ]
    for name in PARTS:
        cpu = statistics.median(last.parts[name].cpu)
        lines.append(
            f"| {name} | "
            + " | ".join(f"{r.parts[name].cpu_ms:.2f}" for r in runs)
            + f" | {cpu / last.pids * 1e6:.1f} | {_pct(cpu)} | {cpu / tick:.2f} |"
        )
    return "\n".join(lines)


def memory_tables(runs: list[Run], costs: list[tuple[int, int, Series]]) -> str:
    lines = [
        "| memory measured as | "
        + " | ".join(f"tick CPU ms at {r.extra}" for r in runs)
        + f" | % core at 1 Hz at {runs[-1].extra} |",
        "|---|" + "---:|" * (len(runs) + 1),
    ]
    for name in MEMORY:
        cpu = statistics.median(runs[-1].memory[name].cpu)
        lines.append(
            f"| {name} | "
            + " | ".join(f"{r.memory[name].cpu_ms:.2f}" for r in runs)
            + f" | {_pct(cpu)} |"
        )
    lines += [
        "",
        "One smaps_rollup reading by what the process holds (median / p90 CPU of the reading "
        "thread; the kernel walks the page tables):",
        "",
        "| RSS MiB | µs a reading (median / p90) | µs per MiB |",
        "|---:|---:|---:|",
    ]
    for _mib, rss, series in costs:
        med = statistics.median(series.cpu) * 1e6
        lines.append(
            f"| {rss >> 20} | {med:.0f} / {p90(series.cpu) * 1e6:.0f} | "
            f"{med / max(1, rss >> 20):.2f} |"
        )
    return "\n".join(lines)


def memory_verdict(costs: list[tuple[int, int, Series]]) -> str:
    per_mib = statistics.median(statistics.median(s.cpu) / max(1, rss >> 20) for _, rss, s in costs)
    per_gib = per_mib * 1024 * 100  # % of one core for reading 1 GiB every second
    return (
        f"Reading PSS costs about {per_mib * 1e6:.1f} µs per MiB resident: every agent process "
        f"every second would take {per_gib:.2f}% of one core per GiB the agents hold (16 GiB: "
        f"{16 * per_gib:.0f}%). So collect/memory.py reads each process at most every "
        f"{REFRESH:g} s within {BUDGET * 100:g}% of one core, and scales its RSS by its last "
        "PSS/RSS ratio in between: the default row above."
    )


def verdict(runs: list[Run]) -> str:
    last = runs[-1]
    pct = statistics.median(last.tick.cpu) * 100
    high = p90(last.tick.cpu) * 100
    bare = statistics.median(last.parts[PARTS[-1]].cpu) * 100
    ok = "PASS" if pct <= TARGET_PCT else "FAIL"
    return (
        f"**{ok}**: {pct:.2f}% of one core at 1 Hz (p90 {high:.2f}%) with {last.extra} extra "
        f"processes ({last.pids} on the box) and {last.agents} agents matched; target ≤ "
        f"{TARGET_PCT:g}%. The bare psutil loop costs {bare:.2f}% ({bare / pct:.1f}× the tick)."
    )


def section(runs: list[Run], ticks: int, env: str, costs: list[tuple[int, int, Series]]) -> str:
    return "\n\n".join(
        [
            f"## Sampler tick cost — {date.today().isoformat()}",
            f"Machine: {env}.",
            f"Command: `{command()}`",
            f"{ticks} steady-state ticks per count after 3 warm-up ticks, 0.2 s apart; CPU is "
            "`time.process_time()` (all threads of the process) around each call; medians "
            "unless marked. Extra processes are `sleep`s; 20 of them are `bash` agents with one "
            "`sleep` child each, matched by one `[[agents]]` rule. The first tick of a fresh "
            "sampler reads the cmdline of every process once.",
            tables(runs),
            verdict(runs),
            "Memory as PSS: the same tick with the agents' memory measured three ways (the "
            f"{2 * AGENTS} agent processes are small; smaps_rollup was readable for "
            f"{runs[-1].readable} of the {runs[-1].pids} processes on the box).",
            memory_tables(runs, costs),
            memory_verdict(costs),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="50,300,1000", help="extra processes, e.g. 50,300")
    parser.add_argument("--ticks", type=int, default=30, help="measured calls per figure")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between calls")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument(
        "--rollup-mib", default="16,128,512,2048", help="sizes for the smaps_rollup cost table"
    )
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))
    if counts[0] < 2 * AGENTS:
        parser.error(f"each count must be at least {2 * AGENTS} (the agents and their children)")
    exit_on_signals()
    env = machine(f"psutil {psutil.__version__}")
    asyncio.run(tick_series(1, 0.0))  # imports and one-off set-up, before measuring
    fleet = Fleet()
    atexit.register(fleet.close)
    runs: list[Run] = []
    try:
        fleet.start_agents(AGENTS)
        for n in counts:
            fleet.grow(n)
            print(f"measuring with {n} extra processes ...", file=sys.stderr, flush=True)
            runs.append(run_at(n, args.ticks, args.pause))
    finally:
        fleet.close()
    print("measuring smaps_rollup readings ...", file=sys.stderr, flush=True)
    costs = rollup_costs([int(m) for m in args.rollup_mib.split(",")], args.ticks)
    publish(section(runs, args.ticks, env, costs), args.write)


if __name__ == "__main__":
    main()
