"""Benchmark (not a test): the history store's write rate, query latency, size and WAL.

A synthetic week (DAYS days of AGENTS agents at 1 s) is generated once into the writer's exact
layout -- ticks, host, GPU and agent samples, runs, restart events, and the per-minute and
per-hour rollups of those same values -- with plain sqlite3 executemany, one short transaction
per two minutes of ticks (the real writer path would take far longer: see the section it
writes). The file is cached under bench/.cache/ and reused unless --rebuild. On it: `History`
query latency and what each agent sample costs on disk. Then sustained `Writer.write_batch`
throughput with Snapshots built inline and built up front, on a fresh file and appended to a
copy of the week, next to bare executemany into `agent_samples` for scale. The -wal file is
watched throughout.

    .venv/bin/python bench/store.py [--days 7] [--agents 50] [--rebuild] [--write]

`--write` replaces today's section in bench/RESULTS.md. The cached week of 50 agents is about
1.3 GB, and the append run copies it once more while it runs: delete bench/.cache/ afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from itertools import accumulate, chain, repeat
from pathlib import Path
from typing import Any, Literal

import aiosqlite
import psutil
import pydantic
from _common import ROOT, command, machine, p90, publish

from tui_monitor.models import (
    AgentSample,
    GpuSample,
    GpuStatus,
    HostSample,
    Snapshot,
)
from tui_monitor.store import schema
from tui_monitor.store.queries import History
from tui_monitor.store.writer import AGENT_METRICS, GPU_METRICS, HOST_METRICS, Writer

CACHE = ROOT / "bench" / ".cache"
AGENT_COLUMNS = "tick, agent, run, status, cpu, ram, gpu_mem, procs, threads, queue_depth"
GENERATOR = 2  # bump whenever the synthetic data changes, so cached files get rebuilt
END_S = 1_795_219_200  # 2026-11-21T00:00:00Z: the synthetic history ends here (reproducible)
TS_OFFSET_MS = 437  # the sampler's deadlines are not on whole seconds
DRIVER = "550.54.15"
GPU_NAME = "NVIDIA RTX A6000"
GPU_UUID = "GPU-5e1c2d7a-93f4-4b8e-a1d6-0c9b8e7f6a51"
GPU_TOTAL = 51_527_024_640
HOST_RAM = 64 * 2**30
MB = 2**20
PAGE = 4096
RAM_MIN, RAM_MAX = 100 * MB, 2048 * MB

WRITE_TARGET = 200_000  # agent samples per second through Writer.write_batch
QUERY_TARGET_MS = 20.0
BYTES_TARGET = 48.0  # per agent sample, whole file, indexes included
WAL_LIMIT = 64 * MB

Source = Literal["config", "preset", "ingest"]


# -- the synthetic fleet ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spec:
    """One agent of the synthetic fleet and how its figures move."""

    name: str
    kind: str
    source: Source
    process: str
    cmdline: str
    idle: int  # CPU level it rests at, tenths of a percent of one core
    busy: int  # CPU level of its bursts
    ram: int  # starting RSS, bytes
    gpu: int | None  # GPU memory held (inference backends), bytes
    procs: int
    queue: bool  # reports a queue depth over ingest


# kind: source, process, cmdline, idle, busy, RAM MiB, GPU GiB, procs, queue
PROFILES: dict[str, tuple[Source, str, str, int, int, int, int, int, bool]] = {
    "claude": ("preset", "claude", "claude --model opus --resume", 5, 600, 450, 0, 6, False),
    "codex": ("preset", "codex", "codex exec --full-auto", 3, 400, 250, 0, 3, False),
    "aider": ("preset", "python3", "python3 -m aider --model sonnet", 8, 300, 300, 0, 2, False),
    "gemini": ("preset", "node", "node /usr/lib/node_modules/gemini-cli", 5, 300, 350, 0, 2, False),
    "worker": ("config", "python", "python -m fleet.worker -q jobs", 150, 900, 180, 0, 1, True),
    "vllm": ("preset", "python3", "python3 -m vllm.entrypoints.openai.api_server --model "
             "Qwen/Qwen2.5-7B-Instruct", 60, 1000, 1900, 9, 4, True),
}  # fmt: skip
CYCLE = ("claude", "worker", "claude", "codex", "worker", "aider", "claude", "worker", "gemini",
         "worker", "claude", "vllm")  # fmt: skip


def make_fleet(count: int) -> list[Spec]:
    """`count` agents (a vLLM backend with GPU memory in every twelve), sorted by name."""
    seen: Counter[str] = Counter()
    specs = []
    for i in range(count):
        kind = CYCLE[i % len(CYCLE)]
        seen[kind] += 1
        source, process, cmdline, idle, busy, ram, gpu, procs, queue = PROFILES[kind]
        specs.append(
            Spec(f"{kind}#{seen[kind]}", kind, source, process, cmdline, idle, busy,
                 ram * MB + (i % 7) * 16 * MB, gpu * 2**30 + i * 64 * MB if gpu else None,
                 procs, queue)
        )  # fmt: skip
    return sorted(specs, key=lambda s: s.name)  # the collector's order, so the writer's ids


def series_keys(specs: Sequence[Spec]) -> list[tuple[str, str, str]]:
    """Rollup series in the order the writer first folds a value into each."""
    keys = [("host", "", m) for m in HOST_METRICS] + [("gpu", "0", m) for m in GPU_METRICS]
    for s in specs:
        keys += [("agent", s.name, m) for m in AGENT_METRICS if m != "gpu_mem" or s.gpu]
    return keys


class Noise:
    """Pools of pre-drawn steps; a random slice of one is a minute of a random walk."""

    SIZE = 1 << 16

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        draw = self._draw
        self.cpu = {(calm, d): draw(4 if calm else 25, d * (1 if calm else 8)) for calm in
                    (True, False) for d in (-1, 0, 1)}  # fmt: skip
        self.ram = {d: [x * PAGE for x in draw(40, d * 12)] for d in (-1, 0, 1)}
        self.core = draw(6, 0)
        self.unit = [rng.random() for _ in range(self.SIZE)]

    def _draw(self, sd: float, mu: float) -> list[int]:
        return [round(self.rng.gauss(mu, sd)) for _ in range(self.SIZE)]

    def take(self, pool: list[Any], n: int) -> list[Any]:
        at = self.rng.randrange(self.SIZE - n)
        return pool[at : at + n]


def walk(start: int, steps: list[int], lo: int, hi: int) -> list[int]:
    """A random walk from `start` (exclusive) clamped to [lo, hi], at C speed."""
    return list(map(min, map(max, accumulate(steps, initial=start), repeat(lo)), repeat(hi)))[1:]


def toward(level: int, target: int, slack: int) -> int:
    return 0 if abs(level - target) <= slack else (1 if level < target else -1)


@dataclass(slots=True)
class AgentState:
    """Where one agent's walks stand."""

    spec: Spec
    aid: int
    run: int
    pid: int
    create_time: float
    cpu: int
    ram: int
    busy: bool = False
    down: bool = False
    procs: int = 1
    queue: int | None = None


@dataclass(slots=True)
class HostState:
    """Cumulative per-core CPU seconds, as psutil reports them, plus the slower figures."""

    busy: list[float]
    total: list[float]
    load: float = 2.0
    util: int = 30
    temp: int = 55


def fmt_mb(n: float) -> str:
    return f"{n / MB:,.1f} MiB"


# -- the week, generated straight into the tables ----------------------------------------------


class Week:
    """Writes the synthetic history minute by minute, in the writer's layout and id order."""

    def __init__(
        self, conn: sqlite3.Connection, specs: list[Spec], cores: int, rng: random.Random,
        start_s: int,
    ) -> None:  # fmt: skip
        self.conn, self.rng, self.start_s, self.cores = conn, rng, start_s, cores
        self.noise = Noise(rng)
        self.tick = self.first_ms = self.last_ms = 0
        self.start_ms = start_s * 1000 + TS_OFFSET_MS
        self.agents: list[AgentState] = []
        self.host = HostState(
            busy=[rng.uniform(2e4, 9e4) for _ in range(cores)],
            total=[3e5 + rng.uniform(0, 10) for _ in range(cores)],
        )
        self.sid = {key: i for i, key in enumerate(series_keys(specs), start=1)}
        self.hour: dict[int, list[float]] = {}
        self.hour_bucket = start_s // 3600
        self.rows = Counter[str]()
        conn.executemany(
            "INSERT INTO series (id, scope, entity, metric) VALUES (?, ?, ?, ?)",
            [(i, *key) for key, i in self.sid.items()],
        )
        for aid, spec in enumerate(specs, start=1):
            conn.execute(
                "INSERT INTO agents (id, name, kind, source, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (aid, spec.name, spec.kind, spec.source, self.start_ms, self.start_ms),
            )
            st = AgentState(spec, aid, 0, 0, 0.0, spec.idle, spec.ram, procs=spec.procs)
            st.queue = 0 if spec.queue else None
            self._new_run(st, start_s - rng.uniform(60, 86400))
            self.agents.append(st)

    def _new_run(self, st: AgentState, create_time: float) -> None:
        st.pid = self.rng.randrange(1000, 4_000_000)
        st.create_time = round(create_time, 2)
        st.run = int(
            self.conn.execute(
                "INSERT INTO agent_runs (agent, pid, create_time, process, cmdline, cwd, user) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (st.aid, st.pid, st.create_time, st.spec.process, st.spec.cmdline,
                 f"/srv/agents/{st.spec.kind}", "svc"),
            ).fetchone()[0]
        )  # fmt: skip
        self.rows["agent_runs"] += 1

    def _event(self, ms: int, agent: str, kind: str, level: int, message: str, data: Any) -> None:
        self.conn.execute(
            "INSERT INTO events (ts, agent, kind, level, message, data) VALUES (?, ?, ?, ?, ?, ?)",
            (ms, agent, kind, level, message, json.dumps(data, ensure_ascii=True)),
        )
        self.rows["events"] += 1

    def minute(self, n: int) -> None:
        """The next `n` (<= 60) ticks, all inside one minute bucket."""
        rng, noise = self.rng, self.noise
        first = self.tick + 1
        ticks = range(first, first + n)
        second0 = self.start_s + first - 1
        ms0 = self.start_ms + (first - 1) * 1000
        rollup: dict[int, list[float]] = {}
        per_agent: list[list[tuple[Any, ...]]] = []
        cpus: list[list[int]] = []
        rams: list[list[int]] = []
        gpu_mem = 600 * MB
        for st in self.agents:
            spec = st.spec
            if st.down:  # back after a minute away: a new process instance
                st.down = False
                self._new_run(st, second0 + 0.31)
                self._event(ms0, spec.name, "started", 20, f"started (pid {st.pid})",
                            {"pid": st.pid})  # fmt: skip
            elif rng.random() < 1 / 1440:  # about one restart a day
                st.down = True
                up = second0 - st.create_time
                self._event(ms0, spec.name, "exited", 30, f"exited (pid {st.pid}) after {up:.0f}s",
                            {"pid": st.pid, "uptime_s": round(up, 1)})  # fmt: skip
            if rng.random() < 1 / 20:
                st.busy = not st.busy
            if rng.random() < 1 / 30 and spec.queue:
                st.queue = rng.randrange(0, 40 if st.busy else 4)
            if st.down:
                per_agent.append(list(zip(ticks, repeat(st.aid), repeat(None), repeat(6),
                                          repeat(None), repeat(None), repeat(None), repeat(0),
                                          repeat(None), repeat(st.queue))))  # fmt: skip
                cpus.append([0] * n)
                rams.append([0] * n)
                continue
            target = spec.busy if st.busy else spec.idle
            step = toward(st.cpu, target, 30 if st.busy else 5)
            cpu = walk(st.cpu, noise.take(noise.cpu[not st.busy, step], n), 0, 1000)
            ram_target = spec.ram * (13 if st.busy else 10) // 10
            ram = walk(st.ram, noise.take(noise.ram[toward(st.ram, ram_target, 8 * MB)], n),
                       RAM_MIN, RAM_MAX)  # fmt: skip
            st.cpu, st.ram = cpu[-1], ram[-1]
            if rng.random() < 1 / 120:
                st.procs = max(1, spec.procs + rng.randrange(-1, 3))
            threads = st.procs * 9 + (st.cpu > 200) * 4
            gpu = spec.gpu
            if gpu is not None:
                gpu += 512 * MB * st.busy
                gpu_mem += gpu
            status = 1 if sum(cpu) > 20 * n else 2
            per_agent.append(list(zip(ticks, repeat(st.aid), repeat(st.run), repeat(status), cpu,
                                      ram, repeat(gpu), repeat(st.procs), repeat(threads),
                                      repeat(st.queue))))  # fmt: skip
            cpus.append(cpu)
            rams.append(ram)
            name = spec.name
            self._fold(rollup, ("agent", name, "cpu"), n, sum(cpu), min(cpu), max(cpu))
            self._fold(rollup, ("agent", name, "ram"), n, sum(ram), min(ram), max(ram))
            if gpu is not None:
                self._fold(rollup, ("agent", name, "gpu_mem"), n, gpu * n, gpu, gpu)
            self._fold(rollup, ("agent", name, "procs"), n, st.procs * n, st.procs, st.procs)
        agent_rows = list(chain.from_iterable(zip(*per_agent, strict=True)))
        self._host_and_gpu(rollup, ticks, ms0, cpus, rams, gpu_mem)
        self.conn.executemany(
            f"INSERT INTO agent_samples ({AGENT_COLUMNS}) VALUES ({', '.join('?' * 10)})",
            agent_rows,
        )
        self.rows["agent_samples"] += len(agent_rows)
        bucket = second0 // 60
        self._rollups(60, bucket, rollup)
        if second0 // 3600 != self.hour_bucket:  # never: minutes start on the hour
            raise AssertionError("a minute straddles an hour")
        for sid, acc in rollup.items():
            self._merge(self.hour, sid, *acc)
        if (second0 + n) % 3600 == 0:
            self.flush_hour()
        self.tick += n

    def flush_hour(self) -> None:
        self._rollups(3600, self.hour_bucket, self.hour)
        self.hour = {}
        self.hour_bucket += 1

    def _fold(self, acc: dict[int, list[float]], key: tuple[str, str, str], n: int, total: float,
              lo: float, hi: float) -> None:  # fmt: skip
        self._merge(acc, self.sid[key], n, total, lo, hi)

    @staticmethod
    def _merge(acc: dict[int, list[float]], sid: int, n: float, total: float, lo: float,
               hi: float) -> None:  # fmt: skip
        cur = acc.get(sid)
        if cur is None:
            acc[sid] = [n, total, lo, hi]
        else:
            cur[0] += n
            cur[1] += total
            cur[2] = min(cur[2], lo)
            cur[3] = max(cur[3], hi)

    def _rollups(self, res: int, bucket: int, acc: dict[int, list[float]]) -> None:
        rows = [(sid, res, bucket, int(a[0]), float(a[1]), a[2], a[3]) for sid, a in acc.items()]
        self.conn.executemany("INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self.rows["rollups"] += len(rows)

    def _host_and_gpu(
        self, rollup: dict[int, list[float]], ticks: range, ms0: int, cpus: list[list[int]],
        rams: list[list[int]], gpu_mem: int,
    ) -> None:  # fmt: skip
        rng, noise, h, cores = self.rng, self.noise, self.host, self.cores
        fleet_cpu = list(map(sum, zip(*cpus, strict=True)))
        fleet_ram = list(map(sum, zip(*rams, strict=True)))
        unit = noise.take(noise.unit, 8 * len(ticks))
        tick_rows, host_rows, gpu_rows = [], [], []
        cols: list[list[float]] = [[] for _ in range(len(HOST_METRICS) + len(GPU_METRICS))]
        h.util = max(0, min(100, h.util + rng.randrange(-6, 7)))
        h.temp = max(35, min(85, 40 + h.util // 2 + rng.randrange(-2, 3)))
        for i, tick in enumerate(ticks):
            u = unit[8 * i : 8 * i + 8]
            base = min(98, 3 + fleet_cpu[i] // (10 * cores))
            ks = [min(100, max(0, base + d)) for d in noise.take(noise.core, cores)]
            dt = 1.0 if u[0] > 0.02 else 0.99 + u[1] * 0.02  # clock ticks seen per core
            new_busy = [b + k * 0.01 * dt for b, k in zip(h.busy, ks, strict=True)]
            new_total = [t + dt for t in h.total]
            deltas = [(nb - b, nt - t) for nb, b, nt, t in
                      zip(new_busy, h.busy, new_total, h.total, strict=True)]  # fmt: skip
            per_core = [min(100.0, max(0.0, 100.0 * b / t)) for b, t in deltas]
            cpu = min(100.0, 100.0 * sum(b for b, _ in deltas) / sum(t for _, t in deltas))
            h.busy, h.total = new_busy, new_total
            h.load += (fleet_cpu[i] / 1000 - h.load) / 60
            load = round(h.load * 2048) / 2048
            ram_used = 6 * 2**30 + fleet_ram[i] + int(u[2] * 64) * PAGE
            elapsed = 1.0 + (u[3] - 0.5) * 1e-3
            rates = [int(x * scale) / elapsed for x, scale in
                     zip(u[4:8], (4e6, 2.5e7, 1.2e6, 6e5), strict=True)]  # fmt: skip
            ms = ms0 + i * 1000 + int(u[5] * 4)
            lag = u[6] * 0.004
            tick_rows.append((tick, ms, tick, 1.0, lag, 0.012 + u[7] * 0.01, None, DRIVER))
            self.last_ms = ms
            self.first_ms = self.first_ms or ms
            host_values = (cpu, ram_used, 0, load, *rates)
            host_rows.append(
                (tick, "gpu-box-01", 1_794_000_000.0, cores, cpu, json.dumps(per_core), load,
                 round(h.load * 1.02 * 2048) / 2048, round(h.load * 1.05 * 2048) / 2048,
                 ram_used, HOST_RAM, HOST_RAM - ram_used, 0, 8 * 2**30, *rates)
            )  # fmt: skip
            util = float(min(100, max(0, h.util + int(u[0] * 9) - 4)))
            power = int(70_000 + util * 2_300 + u[1] * 5_000) / 1000.0
            used = gpu_mem + int(u[2] * 16) * MB
            gpu_values = (util, used, float(h.temp), power)
            gpu_rows.append(
                (tick, 0, GPU_UUID, GPU_NAME, util, float(int(util * 0.6)), used, GPU_TOTAL,
                 float(h.temp), power, 300.0, None)
            )  # fmt: skip
            for col, value in zip(cols, (*host_values, *gpu_values), strict=True):
                col.append(value)
        keys = [("host", "", m) for m in HOST_METRICS] + [("gpu", "0", m) for m in GPU_METRICS]
        for key, col in zip(keys, cols, strict=True):
            self._fold(rollup, key, len(col), sum(col), min(col), max(col))
        self.conn.executemany("INSERT INTO ticks VALUES (?, ?, ?, ?, ?, ?, ?, ?)", tick_rows)
        self.conn.executemany(f"INSERT INTO host_samples VALUES ({', '.join('?' * 18)})",
                              host_rows)  # fmt: skip
        self.conn.executemany(f"INSERT INTO gpu_samples VALUES ({', '.join('?' * 12)})", gpu_rows)

    def finish(self) -> None:
        if self.hour:
            self.flush_hour()
        self.conn.execute(
            "UPDATE agents SET first_seen = ?, last_seen = ?", (self.first_ms, self.last_ms)
        )


# -- watching the WAL ---------------------------------------------------------------------------


class WalWatch:
    """Polls the -wal file's size from a thread; `peak` is the largest size seen."""

    def __init__(self, db: Path, every: float = 0.01) -> None:
        self.wal = db.with_name(db.name + "-wal")
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def poll(self) -> None:
        with contextlib.suppress(OSError):
            self.peak = max(self.peak, self.wal.stat().st_size)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.poll()

    def __enter__(self) -> WalWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()


# -- building (or reusing) the week --------------------------------------------------------------


@dataclass
class Built:
    """How the cached file was made."""

    generator: int
    days: float
    agents: int
    cores: int
    seed: int
    built_on: str = ""
    seconds: float = 0.0
    wal_peak: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    estimate_s: float = 0.0  # the same week through Writer.write_batch, extrapolated


def db_files(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))]


def remove_db(path: Path) -> None:
    for p in db_files(path):
        p.unlink(missing_ok=True)


def build(path: Path, want: Built) -> Built:
    """Generate the week into `path` (replacing it); checkpointed and closed on return."""
    remove_db(path)
    path.with_suffix(".json").unlink(missing_ok=True)
    Writer(path).close()  # the schema, through the real migrations
    rng = random.Random(want.seed)
    specs = make_fleet(want.agents)
    ticks = round(want.days * 86400)
    start_s = END_S - ticks
    start_s -= start_s % 3600  # whole hours, as a real week of rollups would have
    conn = schema.connect_rw(path)
    t0 = time.perf_counter()
    with WalWatch(path) as wal:
        conn.execute("BEGIN IMMEDIATE")
        week = Week(conn, specs, want.cores, rng, start_s)
        done = 0
        while done < ticks:
            n = min(60, ticks - done)
            week.minute(n)
            done += n
            if done % 120 == 0 or done == ticks:  # a commit per ~6,000 agent rows
                if done == ticks:
                    week.finish()
                conn.execute("COMMIT")
                wal.poll()
                if done < ticks:
                    conn.execute("BEGIN IMMEDIATE")
            if done % 86400 == 0:
                elapsed = time.perf_counter() - t0
                print(f"  day {done // 86400}: {elapsed:.0f} s", file=sys.stderr, flush=True)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    rows = dict(week.rows)
    rows["ticks"] = rows["host_samples"] = rows["gpu_samples"] = ticks
    built = Built(**{**asdict(want), "rows": rows})
    built.seconds = time.perf_counter() - t0
    built.wal_peak = wal.peak
    built.built_on = date.today().isoformat()
    return built


_RAW = {
    "agent": "JOIN agent_samples x ON x.tick = t.id "
    "AND x.agent = (SELECT id FROM agents WHERE name = ?)",
    "host": "JOIN host_samples x ON x.tick = t.id",
    "gpu": "JOIN gpu_samples x ON x.tick = t.id AND x.idx = 0",
}


def verify(path: Path, rng: random.Random, checks: int = 40) -> int:
    """Recompute random minute and hour rollups from the raw rows; raise on any difference."""
    conn = schema.connect_ro(path)
    try:
        first, last = conn.execute("SELECT min(ts), max(ts) FROM ticks").fetchone()
        series = conn.execute("SELECT id, scope, entity, metric FROM series").fetchall()
        for _ in range(checks):
            sid, scope, entity, metric = rng.choice(series)
            res = rng.choice((60, 3600))
            bucket = rng.randrange(first // 1000 // res, last // 1000 // res + 1)
            join, params = _RAW[scope], ((entity,) if scope == "agent" else ())
            column = f"x.{metric}"
            if (scope, metric) == ("agent", "procs"):  # folded only while a process runs
                column = "CASE WHEN x.run IS NOT NULL THEN x.procs END"
            raw = conn.execute(
                f"SELECT count({column}), total({column}), min({column}), max({column}) "
                f"FROM ticks t {join} WHERE t.ts BETWEEN ? AND ?",
                (*params, bucket * res * 1000, (bucket + 1) * res * 1000 - 1),
            ).fetchone()
            got = conn.execute(
                "SELECT n, sum, min, max FROM rollups WHERE series = ? AND res = ? AND bucket = ?",
                (sid, res, bucket),
            ).fetchone() or (0, 0.0, None, None)
            same = raw[0] == got[0] and math.isclose(raw[1], got[1], rel_tol=1e-9, abs_tol=1e-6)
            same = same and (raw[0] == 0 or (raw[2] == got[2] and raw[3] == got[3]))
            if not same:
                raise AssertionError(f"rollup {scope}/{entity}/{metric} res {res} bucket "
                                     f"{bucket}: raw {raw} != stored {got}")  # fmt: skip
        return checks
    finally:
        conn.close()


_SAME_ROWS = {  # table -> the week's rows the rewritten first hour must match exactly
    "ticks": "SELECT * FROM {db}.ticks WHERE id <= :n",
    "host_samples": "SELECT * FROM {db}.host_samples WHERE tick <= :n",
    "gpu_samples": "SELECT * FROM {db}.gpu_samples WHERE tick <= :n",
    "agent_samples": "SELECT * FROM {db}.agent_samples WHERE tick <= :n",
    "agents": "SELECT id, name, kind, source, first_seen FROM {db}.agents",
    "agent_runs": "SELECT * FROM {db}.agent_runs WHERE id <= (SELECT max(id) FROM w.agent_runs)",
    "series": "SELECT * FROM {db}.series WHERE id <= (SELECT max(id) FROM w.series)",
    "events": "SELECT ts, agent, kind, level, message, data FROM {db}.events WHERE ts <= "
    "(SELECT ts FROM main.ticks WHERE id = :n)",
}


def crosscheck(week: Path, ticks: int = 3600) -> str:
    """Rewrite the week's first hour through History.tick -> Writer.write_batch; compare.

    Every raw table must come out identical, ids included, and every rollup of that hour
    equal (sums to 1e-9): the synthetic file is then what the writer itself would have made.
    """
    history = History(week)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="crosscheck-") as tmp:
        copy = Path(tmp) / "rewritten.db"
        store = Writer(copy)
        for first in range(1, ticks + 1, 100):
            snaps = [history.tick(i) for i in range(first, min(first + 100, ticks + 1))]
            store.write_batch([s for s in snaps if s is not None])
        store.close()
        conn = sqlite3.connect(f"{week.resolve().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("ATTACH ? AS w", (f"{copy.resolve().as_uri()}?mode=ro",))
            for table, sql in _SAME_ROWS.items():
                mine, theirs = sql.format(db="main"), sql.format(db="w")
                for a, b in ((mine, theirs), (theirs, mine)):
                    odd = conn.execute(f"{a} EXCEPT {b} LIMIT 1", {"n": ticks}).fetchone()
                    if odd is not None:
                        raise AssertionError(f"{table} differs from the writer's: {odd}")
            counts = conn.execute(
                "SELECT count(*), sum(a.n = b.n AND abs(a.sum - b.sum) <= 1e-9 * abs(a.sum) "
                "AND a.min = b.min AND a.max = b.max) FROM w.rollups b "
                "LEFT JOIN main.rollups a USING (series, res, bucket)"
            ).fetchone()
        finally:
            conn.close()
    if counts[0] != counts[1]:
        raise AssertionError(f"rollups: only {counts[1]} of {counts[0]} equal the writer's")
    return (
        f"the first {ticks:,} ticks, read back with `History.tick` and rewritten through "
        f"`Writer.write_batch`, give identical rows in {len(_SAME_ROWS)} tables (ids included) "
        f"and {counts[0]:,} equal rollups"
    )


def ensure_week(args: argparse.Namespace) -> tuple[Path, Built, bool]:
    want = Built(GENERATOR, args.days, args.agents, args.cores, args.seed)
    path = CACHE / f"week-{args.days:g}d-{args.agents}a-{args.cores}c-s{args.seed}.db"
    meta = path.with_suffix(".json")
    if not args.rebuild and path.exists() and meta.exists():
        with contextlib.suppress(ValueError, TypeError):
            cached = Built(**json.loads(meta.read_text()))
            key = ("generator", "days", "agents", "cores", "seed")
            if all(getattr(cached, k) == getattr(want, k) for k in key):
                Writer(path).close()  # a cache from an older schema: the real migrations
                return path, cached, True
    CACHE.mkdir(parents=True, exist_ok=True)
    want.estimate_s = estimate_writer(args, want)
    print(f"building {path.relative_to(ROOT)} (writer path estimate: {want.estimate_s:.0f} s) "
          "...", file=sys.stderr, flush=True)  # fmt: skip
    built = build(path, want)
    meta.write_text(json.dumps(asdict(built), indent=1))
    return path, built, False


def estimate_writer(args: argparse.Namespace, want: Built) -> float:
    """Seconds the real path (build Snapshots, write_batch) would take for the whole week."""
    ticks = 2000
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        store = Writer(Path(tmp) / "estimate.db")
        factory = SnapshotFactory(make_fleet(args.agents), args.cores, random.Random(1), END_S)
        t0 = time.perf_counter()
        for first in range(1, ticks + 1, args.batch):
            store.write_batch([factory.make(s) for s in range(first, first + args.batch)])
        elapsed = time.perf_counter() - t0
        store.close()
    return elapsed / ticks * round(want.days * 86400)


# -- Snapshots for the write benchmark --------------------------------------------------------


class SnapshotFactory:
    """Snapshots as the sampler makes them: every agent running, values walking per tick."""

    def __init__(self, specs: list[Spec], cores: int, rng: random.Random, start_s: int) -> None:
        self.rng, self.start_s, self.cores = rng, start_s, cores
        self.noise = Noise(rng)
        self.specs = specs
        self.cpu = [s.idle for s in specs]
        self.ram = [s.ram for s in specs]
        self.fixed: list[dict[str, Any]] = []  # what stays put between ticks, as the collector
        self.process_memory: dict[int, int] = {}
        for spec in specs:
            pid = rng.randrange(1000, 4_000_000)
            self.fixed.append(
                {"name": spec.name, "kind": spec.kind, "source": spec.source, "pid": pid,
                 "create_time": round(start_s - rng.uniform(60, 86400), 2),
                 "process": spec.process, "cmdline": spec.cmdline,
                 "cwd": f"/srv/agents/{spec.kind}", "user": "svc",
                 "pids": tuple(range(pid, pid + spec.procs)), "procs": spec.procs,
                 "threads": spec.procs * 9, "gpu_memory_used": spec.gpu,
                 "queue_depth": 3 if spec.queue else None}
            )  # fmt: skip
            if spec.gpu is not None:
                self.process_memory[pid] = spec.gpu
        self.gpu_used = 600 * MB + sum(self.process_memory.values())

    def make(self, seq: int) -> Snapshot:
        rng, noise, cpus, rams = self.rng, self.noise, self.cpu, self.ram
        steps = noise.take(noise.cpu[False, 0], len(cpus))
        ram_steps = noise.take(noise.ram[0], len(rams))
        agents = []
        for i, fixed in enumerate(self.fixed):
            cpus[i] = cpu = min(1000, max(0, cpus[i] + steps[i]))
            rams[i] = ram = min(RAM_MAX, max(RAM_MIN, rams[i] + ram_steps[i]))
            status = "running" if cpu > 20 else "idle"
            agents.append(
                AgentSample(**fixed, status=status, cpu_utilization=cpu / 10, ram_used=ram)
            )
        per_core = tuple(rng.uniform(0, 100) for _ in range(self.cores))
        u = noise.take(noise.unit, 8)
        ram_used = 6 * 2**30 + sum(rams)
        host = HostSample(
            hostname="gpu-box-01", boot_time=1_794_000_000.0, cpu_count=self.cores,
            cpu_utilization=sum(per_core) / self.cores, cpu_per_core=per_core,
            load_1=u[0] * 8, load_5=u[1] * 8, load_15=u[2] * 8, ram_used=ram_used,
            ram_total=HOST_RAM, ram_available=HOST_RAM - ram_used, swap_used=0,
            swap_total=8 * 2**30, disk_read_bps=u[3] * 4e6, disk_write_bps=u[4] * 2.5e7,
            net_rx_bps=u[5] * 1.2e6, net_tx_bps=u[6] * 6e5,
        )  # fmt: skip
        gpu = GpuSample(
            index=0, uuid=GPU_UUID, name=GPU_NAME, gpu_utilization=float(int(u[7] * 100)),
            memory_utilization=float(int(u[7] * 60)), gpu_memory_used=self.gpu_used,
            gpu_memory_total=GPU_TOTAL, gpu_temperature=55.0, power_w=70 + u[7] * 230,
            power_limit_w=300.0,
        )  # fmt: skip
        return Snapshot(
            seq=seq,
            ts=datetime.fromtimestamp(self.start_s + seq + TS_OFFSET_MS / 1000, UTC),
            interval=1.0,
            lag=u[0] * 0.004,
            duration=0.012 + u[1] * 0.01,
            host=host,
            gpu=GpuStatus(
                available=True,
                driver_version=DRIVER,
                gpus=(gpu,),
                process_memory=self.process_memory,
            ),
            agents=tuple(agents),
        )


# -- the write benchmark -----------------------------------------------------------------------


@dataclass
class WriteRun:
    """One sustained write run: wall and CPU seconds (all threads), one lap per batch."""

    samples: int
    seconds: float
    cpu: float
    laps: list[float]
    wal_peak: int

    @property
    def rate(self) -> float:
        return self.samples / self.seconds

    @property
    def cpu_rate(self) -> float:
        return self.samples / self.cpu


class Meter:
    """Times a run of batches (`lap` after each commit) and watches the WAL meanwhile."""

    def __init__(self, db: Path) -> None:
        self.wal = WalWatch(db)
        self.laps: list[float] = []
        self.seconds = self.cpu = self.t0 = self.c0 = self.last = 0.0

    def __enter__(self) -> Meter:
        self.wal.__enter__()
        self.t0 = self.last = time.perf_counter()
        self.c0 = time.process_time()
        return self

    def lap(self) -> None:
        now = time.perf_counter()
        self.laps.append(now - self.last)
        self.last = now
        self.wal.poll()

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        self.wal.__exit__()

    def result(self, samples: int) -> WriteRun:
        return WriteRun(samples, self.seconds, self.cpu, self.laps, self.wal.peak)


def _batched(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def write_inline(path: Path, factory: SnapshotFactory, ticks: int, batch: int) -> WriteRun:
    """Build each batch's Snapshots, then write it: the recorder's whole cost per tick."""
    store = Writer(path)
    with Meter(path) as meter:
        for first in range(1, ticks + 1, batch):
            store.write_batch(
                [factory.make(s) for s in range(first, min(first + batch, ticks + 1))]
            )
            meter.lap()
    store.close()
    return meter.result(ticks * len(factory.specs))


def write_prebuilt(path: Path, snaps: list[Snapshot], batch: int) -> WriteRun:
    store = Writer(path)  # on a copy of the week this also loads its id caches, untimed
    with Meter(path) as meter:
        for chunk in _batched(snaps, batch):
            store.write_batch(chunk)
            meter.lap()
    store.close()
    return meter.result(sum(len(s.agents) for s in snaps))


_AGENT_INSERT = f"INSERT INTO agent_samples ({AGENT_COLUMNS}) VALUES ({', '.join('?' * 10)})"
_WRITER_PRAGMAS = ("journal_mode = WAL", "synchronous = NORMAL",
                   "journal_size_limit = 67108864", "wal_autocheckpoint = 1000")  # fmt: skip


def agent_rows(snaps: list[Snapshot]) -> list[tuple[Any, ...]]:
    """What write_batch puts in agent_samples for these snapshots (ids by position)."""
    return [
        (tick, i, i, schema.STATUS_CODES[a.status], round((a.cpu_utilization or 0) * 10),
         a.ram_used, a.gpu_memory_used, a.procs, a.threads, a.queue_depth)
        for tick, snap in enumerate(snaps, start=1)
        for i, a in enumerate(snap.agents, start=1)
    ]  # fmt: skip


def bare_sqlite(path: Path, rows: list[tuple[Any, ...]], per_batch: int) -> WriteRun:
    """executemany of ready tuples into agent_samples alone, one transaction per batch."""
    Writer(path).close()
    conn = schema.connect_rw(path)
    with Meter(path) as meter:
        for chunk in _batched(rows, per_batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_AGENT_INSERT, chunk)
            conn.execute("COMMIT")
            meter.lap()
    conn.close()
    return meter.result(len(rows))


async def _aiosqlite(path: Path, rows: list[tuple[Any, ...]], per_batch: int) -> WriteRun:
    async with aiosqlite.connect(path, isolation_level=None) as db:
        for pragma in _WRITER_PRAGMAS:
            await db.execute(f"PRAGMA {pragma}")
        with Meter(path) as meter:
            for chunk in _batched(rows, per_batch):
                await db.execute("BEGIN IMMEDIATE")
                await db.executemany(_AGENT_INSERT, chunk)
                await db.execute("COMMIT")
                meter.lap()
    return meter.result(len(rows))


def bare_aiosqlite(path: Path, rows: list[tuple[Any, ...]], per_batch: int) -> WriteRun:
    """The issue's reference figure: aiosqlite executemany, WAL, synchronous=NORMAL."""
    Writer(path).close()
    return asyncio.run(_aiosqlite(path, rows, per_batch))


@dataclass
class Writes:
    runs: dict[str, list[WriteRun]]  # kind -> its repeats, slowest first
    build_s: float
    build_cpu: float
    snapshots: int
    agents: int

    def median(self, kind: str) -> WriteRun:
        runs = self.runs[kind]
        return runs[len(runs) // 2]


def copy_synced(src: Path, dst: Path) -> None:
    """Copy and fsync, so the first checkpoint of the timed run does not flush the copy."""
    shutil.copyfile(src, dst)
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def bench_writes(args: argparse.Namespace, week: Path) -> Writes:
    specs = make_fleet(args.agents)

    def factory(seed: int) -> SnapshotFactory:  # starts right after the week: appends continue it
        return SnapshotFactory(specs, args.cores, random.Random(seed), END_S)

    runs: dict[str, list[WriteRun]] = {k: [] for k in RUN_NAMES}
    per_batch = args.batch * args.agents
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="writes-") as tmp:
        db = Path(tmp) / "run.db"
        write_inline(db, factory(7), 2 * args.batch, args.batch)  # imports, first-use costs
        remove_db(db)
        print("writes: building Snapshots up front ...", file=sys.stderr, flush=True)
        made = factory(args.seed)
        gc.disable()  # the recorder never holds 1M models: keep GC walks over them out of it
        t0, c0 = time.perf_counter(), time.process_time()
        snaps = [made.make(s) for s in range(1, args.write_ticks + 1)]
        build = (time.perf_counter() - t0, time.process_time() - c0)
        gc.freeze()
        gc.enable()
        rows = agent_rows(snaps)
        for rep in range(args.repeat):
            print(f"writes: round {rep + 1} of {args.repeat} ...", file=sys.stderr, flush=True)
            runs["inline"].append(
                write_inline(db, factory(args.seed), args.write_ticks, args.batch)
            )
            remove_db(db)
            runs["prebuilt"].append(write_prebuilt(db, snaps, args.batch))
            remove_db(db)
            copy_synced(week, db)
            runs["append"].append(write_prebuilt(db, snaps, args.batch))
            remove_db(db)
            runs["sqlite3"].append(bare_sqlite(db, rows, per_batch))
            remove_db(db)
            runs["aiosqlite"].append(bare_aiosqlite(db, rows, per_batch))
            remove_db(db)
        gc.unfreeze()
    for kind in runs:
        runs[kind].sort(key=lambda r: r.rate)
    return Writes(runs, *build, len(snaps), args.agents)


# -- the query benchmark -----------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    times: list[float]
    note: str
    target: bool

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1e3

    @property
    def p90_ms(self) -> float:
        return p90(self.times) * 1e3


def timed(name: str, calls: list[Callable[[], Any]], describe: Callable[[Any], str],
          target: bool = False) -> Timing:  # fmt: skip
    for call in calls[:3]:  # warm-up: imports, the connection path
        call()
    times, out = [], None
    for call in calls:
        t0 = time.perf_counter()
        out = call()
        times.append(time.perf_counter() - t0)
    return Timing(name, times, describe(out), target)


def bench_queries(path: Path, reps: int, seed: int, days: float) -> list[Timing]:
    rng = random.Random(seed)
    h = History(path)
    conn = schema.connect_ro(path)
    first, last = (x / 1000 for x in conn.execute("SELECT min(ts), max(ts) FROM ticks").fetchone())
    names = [n for (n,) in conn.execute("SELECT name FROM agents ORDER BY id").fetchall()]
    conn.close()
    day = 86400.0

    def series(span: float, scope: str = "agent", latest: float = 0.0) -> list[Callable[[], Any]]:
        calls = []
        for _ in range(reps):
            end = last - rng.uniform(0, latest) if latest else rng.uniform(first + span, last)
            entity = rng.choice(names) if scope == "agent" else ""
            calls.append(partial(h.series, scope, entity, "cpu", end - span, end, 300))
        return calls

    def points(s: Any) -> str:
        source = "raw rows" if s.resolution == 0 else f"{s.resolution} s rollups"
        return f"{len(s.points)} points from {source}"

    def dashboard(s: Any) -> str:
        return f"{len(s.agents)} agents, {len(s.events)} events"

    week = min(7.0, days)
    return [
        timed("History.latest()", [h.latest] * reps, dashboard),
        timed(
            "History.at(T), T random in the week",
            [partial(h.at, rng.uniform(first, last)) for _ in range(reps)],
            dashboard,
            True,
        ),
        timed("one agent's CPU, 24 h as 300 points", series(day), points, True),
        timed(
            f"one agent's CPU, {week:g} days as 300 points (ends in the last 6 h)",
            series(week * day, latest=6 * 3600),
            points,
            True,
        ),
        timed("host CPU, 24 h as 300 points", series(day, "host"), points),
        timed("one agent's CPU, 1 h as 300 points", series(3600), points),
        timed("one agent's CPU, 4 h as 300 points", series(4 * 3600), points),
    ]


# -- disk ----------------------------------------------------------------------------------------


@dataclass
class Disk:
    file: int
    samples: int
    objects: list[tuple[str, int, int, int, int]]  # name, bytes, unused, payload, cells
    dbstat: bool


def disk(path: Path) -> Disk:
    conn = schema.connect_ro(path)
    try:
        samples = int(conn.execute("SELECT count(*) FROM agent_samples").fetchone()[0])
        try:
            objects = conn.execute(
                "SELECT name, sum(pgsize), sum(unused), sum(payload), sum(ncell) FROM dbstat "
                "GROUP BY name ORDER BY sum(pgsize) DESC"
            ).fetchall()
            have = True
        except sqlite3.OperationalError:  # built without SQLITE_ENABLE_DBSTAT_VTAB
            objects, have = [], False
    finally:
        conn.close()
    return Disk(path.stat().st_size, samples, objects, have)


# -- reporting ------------------------------------------------------------------------------------


def cache_fs() -> str:
    """The filesystem under bench/.cache: write rates and sizes depend on it."""
    with contextlib.suppress(Exception):
        parts = psutil.disk_partitions(all=True)
        best = max((p for p in parts if str(CACHE).startswith(p.mountpoint)),
                   key=lambda p: len(p.mountpoint))  # fmt: skip
        return f"{best.fstype} on {best.device}"
    return "unknown filesystem"


def _ok(good: bool) -> str:
    return "**PASS**" if good else "**FAIL**"


def _ms(values: list[float]) -> str:
    ms = [v * 1e3 for v in values]
    return f"{statistics.median(ms):.1f} / {p90(values) * 1e3:.1f} / {max(ms):.1f}"


RUN_NAMES = {
    "inline": "`Writer.write_batch`, Snapshots built inline (fresh file)",
    "prebuilt": "`Writer.write_batch`, Snapshots built up front (fresh file)",
    "append": "`Writer.write_batch`, Snapshots built up front, appended to a copy of the week",
    "sqlite3": "bare sqlite3 `executemany` into `agent_samples` only",
    "aiosqlite": "bare aiosqlite `executemany` into `agent_samples` only",
}


def write_table(w: Writes) -> str:
    n = len(next(iter(w.runs.values())))
    lines = [
        f"| run | agent samples | wall s | agent samples/s (median of {n}) | all {n} | "
        "per CPU-second | ms per batch (median / p90 / max) | WAL peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, runs in w.runs.items():
        r = w.median(key)
        every = ", ".join(f"{x.rate / 1000:.0f}k" for x in runs)
        lines.append(
            f"| {RUN_NAMES[key]} | {r.samples:,} | {r.seconds:.2f} | **{r.rate:,.0f}** | "
            f"{every} | {r.cpu_rate:,.0f} | {_ms(r.laps)} | "
            f"{fmt_mb(max(x.wal_peak for x in runs))} |"
        )
    per, cpu = w.build_s / w.snapshots, w.build_cpu / w.snapshots
    lines += [
        "",
        f"Building the Snapshots alone (values drawn + pydantic validation, GC off): "
        f"{w.snapshots:,} in {w.build_s:.2f} s = {per * 1e6:.0f} µs ({cpu * 1e6:.0f} µs CPU) "
        f"per Snapshot of {w.agents} agents = {w.agents / per:,.0f} agent samples/s "
        f"({w.agents / cpu:,.0f} per CPU-second).",
    ]
    return "\n".join(lines)


def query_table(timings: list[Timing]) -> str:
    lines = [
        "| query | median ms | p90 ms | max ms | last result |",
        "|---|---:|---:|---:|---|",
    ]
    for t in timings:
        mark = " (target)" if t.target else ""
        lines.append(
            f"| {t.name}{mark} | **{t.median_ms:.2f}** | {t.p90_ms:.2f} | "
            f"{max(t.times) * 1e3:.2f} | {t.note} |"
        )
    return "\n".join(lines)


def disk_table(d: Disk) -> str:
    lines = [
        f"File after checkpoint: {d.file:,} bytes ({d.file / 2**30:.2f} GiB) for {d.samples:,} "
        f"agent samples = **{d.file / d.samples:.1f} bytes per agent sample**.",
    ]
    if not d.dbstat:
        return lines[0] + " (this SQLite has no dbstat: no breakdown)"
    lines += [
        "",
        "| object (dbstat) | bytes | share | bytes per agent sample | page fill | payload per "
        "cell |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    shown = 0
    for name, size, unused, payload, cells in d.objects:
        if size / d.file < 0.001:
            continue
        shown += size
        per_cell = f"{payload / cells:.1f} B" if cells else ""
        lines.append(
            f"| {name} | {size:,} | {size / d.file:.1%} | {size / d.samples:.2f} | "
            f"{1 - unused / size:.1%} | {per_cell} |"
        )
    rest = d.file - shown
    lines.append(
        f"| everything else | {rest:,} | {rest / d.file:.1%} | {rest / d.samples:.2f} | | |"
    )
    return "\n".join(lines)


def section(
    env: str, built: Built, cached: bool, path: Path, checks: tuple[int, str], d: Disk,
    timings: list[Timing], w: Writes, args: argparse.Namespace,
) -> str:  # fmt: skip
    rows = built.rows
    prebuilt, inline, bare = w.median("prebuilt"), w.median("inline"), w.median("aiosqlite")
    by_name = {t.name: t for t in timings if t.target}
    wal_peak = max([built.wal_peak, *(r.wal_peak for runs in w.runs.values() for r in runs)])
    origin = "cached from an earlier run" if cached else "built in this run"
    per_byte = d.file / d.samples
    agent_bytes = next((size for name, size, *_ in d.objects if name == "agent_samples"), 0)
    verdicts = [
        f"- Writes ≥ {WRITE_TARGET:,} agent samples/s through `Writer.write_batch`: "
        f"{_ok(prebuilt.rate >= WRITE_TARGET)} with Snapshots built up front "
        f"({prebuilt.rate:,.0f}/s, {prebuilt.rate / bare.rate:.2f}× bare aiosqlite executemany "
        f"at {bare.rate:,.0f}/s); {_ok(inline.rate >= WRITE_TARGET)} counting the building of "
        f"the Snapshots ({inline.rate:,.0f}/s).",
    ]
    verdicts += [
        f"- {name} median ≤ {QUERY_TARGET_MS:g} ms: {_ok(t.median_ms <= QUERY_TARGET_MS)} "
        f"({t.median_ms:.2f} ms, p90 {t.p90_ms:.2f} ms)."
        for name, t in by_name.items()
    ]
    verdicts += [
        f"- Not a target, for the record: {t.name} takes {t.median_ms:.1f} ms (p90 "
        f"{t.p90_ms:.1f} ms): {t.note}; ranges shorter than 300 points × 60 s = 5 h read raw "
        "rows, one `agent_samples` seek per tick."
        for t in timings
        if not t.target and t.median_ms > QUERY_TARGET_MS
    ]
    verdicts += [
        f"- ≤ {BYTES_TARGET:g} bytes per agent sample, indexes included: "
        f"{_ok(per_byte <= BYTES_TARGET)} ({per_byte:.1f} B for the whole file; "
        f"{agent_bytes / d.samples:.1f} B in `agent_samples` itself).",
        f"- WAL < {WAL_LIMIT // MB} MiB throughout: {_ok(wal_peak < WAL_LIMIT)} (peak "
        f"{fmt_mb(wal_peak)} over the build and every write run).",
    ]
    return "\n\n".join(
        [
            f"## History store — {date.today().isoformat()}",
            f"Machine: {env}.",
            f"Command: `{command()}`",
            "### The synthetic week",
            f"`{path.relative_to(ROOT)}` ({origin}, generator {built.generator}, seed "
            f"{built.seed}): {built.days:g} days at 1 s of {built.agents} agents — Claude Code, "
            "Codex, Aider, Gemini, `worker#N` and vLLM backends (every twelfth holds ~9 GiB of "
            "GPU memory); CPU (0-100 % of a core) and RSS (100 MiB-2 GiB) are clamped random "
            "walks switching between an idle and a busy level, about one restart per agent per "
            "day (a minute `exited`, then a new run and its events); a "
            f"{built.cores}-core host whose per-core figures carry the float noise of real "
            "`psutil.cpu_times` deltas, one GPU. Written with plain sqlite3 `executemany` in "
            "the writer's layout and id order (schema from `Writer(path)`, i.e. the real "
            "migrations), one `BEGIN IMMEDIATE` transaction per 120 ticks, under "
            "`connect_rw`'s pragmas; per-minute and per-hour rollups of the same values in the "
            "same transactions. "
            f"Rows: {', '.join(f'{k} {v:,}' for k, v in sorted(rows.items()))}. "
            f"Built in {built.seconds:.0f} s on {built.built_on}; WAL peak during the build "
            f"{fmt_mb(built.wal_peak)}. Going through the real path instead (build Snapshots + "
            f"`Writer.write_batch`, batches of {args.batch}) was estimated from a 2,000-tick run "
            f"at {built.estimate_s:.0f} s. Checked in this run: {checks[0]} random minute and "
            f"hour rollups recomputed from the raw rows, all equal; {checks[1]}.",
            "### Queries on the week",
            f"{args.reps} calls each after 3 warm-up calls, wall time around the public "
            "`History` method (each opens and closes its own read-only connection); agents and "
            "end times drawn at random (seeded). The file sits in the OS page cache (it was "
            "just built or read): these are warm-cache figures.",
            query_table(timings),
            "### Disk",
            disk_table(d),
            "### Sustained writes",
            f"{w.snapshots:,} Snapshots of {w.agents} agents (every agent running, one GPU, "
            f"{args.cores} cores), written in batches of {args.batch} Snapshots "
            f"({args.batch * w.agents:,} agent rows) per transaction; the bare runs write the "
            "same agent rows as ready tuples, with the same pragmas, into a file made by "
            "`Writer(path)`. The WAL peak is the largest -wal size seen (polled every 10 ms and "
            "after every commit). The Snapshots built up front are built with GC off and then "
            "frozen (`gc.freeze()`), so the collector never walks a million live models the "
            "recorder would never hold. The machine is shared (other sessions' tests may run "
            "meanwhile): the per-CPU-second column (`time.process_time`, all threads) is the "
            "steadier figure, and each run is repeated.",
            write_table(w),
            "### Verdicts",
            "\n".join(verdicts),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0, help="days of history to query")
    parser.add_argument("--agents", type=int, default=50, help="agents per tick")
    parser.add_argument("--cores", type=int, default=16, help="CPU cores of the synthetic host")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the cached week")
    parser.add_argument("--reps", type=int, default=50, help="timed calls per query")
    parser.add_argument("--write-ticks", type=int, default=20_000, help="ticks per write run")
    parser.add_argument("--batch", type=int, default=100, help="Snapshots per write_batch")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of write runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if args.days * 86400 < 2 * 3600 or args.agents < 1:
        parser.error("need at least 2 hours of history and one agent")
    env = machine(
        f"SQLite {sqlite3.sqlite_version}",
        f"pydantic {pydantic.VERSION}",
        f"aiosqlite {aiosqlite.__version__}",
        note=f"bench/.cache on {cache_fs()}",
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    path, built, cached = ensure_week(args)
    print("checking rollups, measuring the file ...", file=sys.stderr, flush=True)
    checked = verify(path, random.Random(args.seed))
    same = crosscheck(path)
    d = disk(path)
    print("queries ...", file=sys.stderr, flush=True)
    timings = bench_queries(path, args.reps, args.seed, args.days)
    w = bench_writes(args, path)
    text = section(env, built, cached, path, (checked, same), d, timings, w, args)
    publish(text, args.write)


if __name__ == "__main__":
    main()
