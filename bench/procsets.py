"""Benchmark (not a test): what storing every agent sample's process tree costs.

The same ticks of a synthetic fleet (bench/store.py's 50 agents, their process counts) are
written twice through the real `Writer.write_batch`, one tick per batch as the recorder at
1 s ticks and 1 s flushes does: once without pids (what schema 3 stored) and once with the
pids and parents of every sample (schema 4: an id into `procsets`, one row per distinct
tree). Coding agents start a short-lived tool process now and then, so their trees change;
workers and inference backends keep theirs. Reported: file bytes per agent sample (dbstat:
agent_samples, procsets and its indexes, after a checkpoint), distinct trees, and the
writer's time per agent row.

    .venv/bin/python bench/procsets.py [--ticks 3600] [--agents 50] [--write]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import command, machine, publish
from store import Spec, make_fleet

from tui_monitor.models import AgentSample, GpuStatus, HostSample, Snapshot
from tui_monitor.store.writer import Writer

START = 1_795_219_200  # 2026-11-21T00:00:00Z, as bench/store.py
TOOL_EVERY = 45.0
"""Seconds between a coding agent's tool processes, on average."""
TOOL_LIVES = 6
"""Ticks a tool process lives."""
CODING = {"claude", "codex", "aider", "gemini"}


class Tree:
    """One agent's processes: a root, its steady children, and tool processes coming and going."""

    def __init__(self, spec: Spec, root: int, rng: random.Random) -> None:
        self.spec, self.rng = spec, rng
        self.root = root
        self.steady = [root + 1 + i for i in range(max(0, spec.procs - 1))]
        self.tools: list[tuple[int, int]] = []  # (pid, ticks left)

    def step(self, next_pid: list[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        self.tools = [(p, n - 1) for p, n in self.tools if n > 1]
        if self.spec.kind in CODING and self.rng.random() < 1 / TOOL_EVERY:
            next_pid[0] += 1
            self.tools.append((next_pid[0], TOOL_LIVES))
        parent = {self.root: 1, **dict.fromkeys(self.steady, self.root)}
        shell = self.steady[0] if self.steady else self.root
        parent |= {p: shell for p, _ in self.tools}  # tools run under the agent's shell
        pids = tuple(sorted(parent))
        return pids, tuple(parent[p] for p in pids)


def host(ram: int) -> HostSample:
    return HostSample(
        hostname="bench", boot_time=START - 86400.0, cpu_count=16, cpu_utilization=30.0,
        cpu_per_core=None, load_1=2.0, load_5=2.0, load_15=2.0, ram_used=ram, ram_total=2**36,
        ram_available=2**35, swap_used=0, swap_total=0, disk_read_bps=0.0, disk_write_bps=0.0,
        net_rx_bps=0.0, net_tx_bps=0.0,
    )  # fmt: skip


def ticks(count: int, agents: int, seed: int) -> list[Snapshot]:
    rng = random.Random(seed)
    specs = make_fleet(agents)
    next_pid = [3_000_000]
    trees = [Tree(s, 100_000 + 100 * i, rng) for i, s in enumerate(specs)]
    out = []
    for t in range(count):
        samples = []
        for spec, tree in zip(specs, trees, strict=True):
            pids, parents = tree.step(next_pid)
            samples.append(
                AgentSample(
                    name=spec.name,
                    kind=spec.kind,
                    source=spec.source,
                    status="running",
                    pid=tree.root,
                    create_time=START - 3600.0,
                    process=spec.process,
                    cmdline=spec.cmdline,
                    pids=pids,
                    parents=parents,
                    procs=len(pids),
                    threads=9 * len(pids),
                    cpu_utilization=rng.uniform(0, 100),
                    ram_used=spec.ram,
                    gpu_memory_used=spec.gpu,
                )
            )
        out.append(
            Snapshot(
                seq=t + 1,
                ts=datetime.fromtimestamp(START + t + 0.437, UTC),
                interval=1.0,
                lag=0.0,
                duration=0.01,
                host=host(2**34),
                gpu=GpuStatus(available=False, reason="bench"),
                agents=tuple(samples),
            )
        )
    return out


def without_pids(snaps: list[Snapshot]) -> list[Snapshot]:
    return [
        s.model_copy(
            update={
                "agents": tuple(a.model_copy(update={"pids": (), "parents": ()}) for a in s.agents)
            }
        )
        for s in snaps
    ]


def measure(path: Path, snaps: list[Snapshot]) -> dict[str, float]:
    writer = Writer(path)
    per_batch = []
    try:
        for snap in snaps:
            started = time.perf_counter()
            writer.write_batch([snap])
            per_batch.append(time.perf_counter() - started)
        writer.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sizes = dict(
            writer.conn.execute(
                "SELECT name, sum(pgsize) FROM dbstat WHERE name IN "
                "('agent_samples', 'procsets', 'procsets_last', "
                "'sqlite_autoindex_procsets_1') GROUP BY name"
            ).fetchall()
        )
        trees = writer.conn.execute("SELECT count(*) FROM procsets").fetchone()[0]
    finally:
        writer.close()
    samples = sum(len(s.agents) for s in snaps)
    agent_bytes = sizes.get("agent_samples", 0)
    tree_bytes = sum(v for k, v in sizes.items() if k != "agent_samples")
    return {
        "samples": samples,
        "agent_samples": agent_bytes / samples,
        "trees": tree_bytes / samples,
        "distinct": trees,
        "file": path.stat().st_size / samples,
        "us_per_row": statistics.median(per_batch) / len(snaps[0].agents) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=3600)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    snaps = ticks(args.ticks, args.agents, args.seed)
    changes = sum(
        a.pids != b.pids
        for prev, cur in itertools.pairwise(snaps)
        for a, b in zip(prev.agents, cur.agents, strict=True)
    )
    with tempfile.TemporaryDirectory(prefix="tuimon-procsets-") as tmp:
        before = measure(Path(tmp) / "before.db", without_pids(snaps))
        after = measure(Path(tmp) / "after.db", snaps)
    samples = int(after["samples"])
    rows = [
        ("agent_samples", "agent_samples"),
        ("procsets (+ its 2 indexes)", "trees"),
        ("whole file", "file"),
    ]
    table = "\n".join(
        f"| {label} | {before[key]:.2f} | {after[key]:.2f} | {after[key] - before[key]:+.2f} |"
        for label, key in rows
    )
    text = f"""## Process trees in the history — {datetime.now(UTC):%Y-%m-%d}

Machine: {machine(f"SQLite {sqlite3.sqlite_version}")}

Command: `{command()}`

{args.ticks:,} ticks of {args.agents} agents (bench/store.py's fleet and process counts; coding
agents start a tool process every {TOOL_EVERY:.0f} s on average, living {TOOL_LIVES} s), written
one tick per `Writer.write_batch` as the recorder does at 1 s ticks and 1 s flushes: without
pids (schema 3 stored none) and with each sample's pids and parents (schema 4). {samples:,}
agent samples; a sample's tree differed from its previous tick's {changes:,} times; distinct
trees stored: {int(after["distinct"]):,}. Bytes from dbstat after a checkpoint, per agent sample:

| object | without pids | with pids | difference |
|---|---:|---:|---:|
{table}

Writer time per agent row (median batch / {args.agents}): {before["us_per_row"]:.1f} µs without
pids, {after["us_per_row"]:.1f} µs with them.
"""
    publish(text, args.write)


if __name__ == "__main__":
    main()
