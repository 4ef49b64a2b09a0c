"""Rollups maintained by the writer equal a direct GROUP BY over the raw rows they summarise."""

from __future__ import annotations

import itertools
import random
import sqlite3
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tui_monitor.models import AgentSample, GpuSample, GpuStatus, HostSample, Snapshot
from tui_monitor.store.schema import RESOLUTIONS
from tui_monitor.store.writer import AGENT_METRICS, GPU_METRICS, HOST_METRICS, Writer

T0 = 1_699_999_200  # a whole hour
AGENTS = ("alpha", "beta", "gamma")
Key = tuple[str, str, str, int, int]
Stats = tuple[int, float, float, float]


def value(rng: random.Random, scale: float = 1.0) -> float | None:
    """A multiple of 1/4 (so sums are exact in any order), or None one time in five."""
    return None if rng.random() < 0.2 else rng.randrange(0, 4000) / 4 * scale


def make_snapshot(seq: int, ms: int, rng: random.Random) -> Snapshot:
    def num(scale: float = 1.0) -> float | None:
        return value(rng, scale)

    def whole() -> int | None:
        v = num()
        return None if v is None else int(v * 4)

    host = HostSample(
        hostname="box", boot_time=1.6e9, cpu_count=4, cpu_utilization=num(), cpu_per_core=None,
        load_1=num(), load_5=None, load_15=None, ram_used=rng.randrange(1 << 30), ram_total=1 << 31,
        ram_available=1, swap_used=rng.randrange(1 << 20), swap_total=1 << 21,
        disk_read_bps=num(1000), disk_write_bps=num(), net_rx_bps=num(), net_tx_bps=num(),
    )  # fmt: skip
    gpus = tuple(
        GpuSample(
            index=i,
            gpu_utilization=num(),
            gpu_memory_used=whole(),
            gpu_temperature=num(),
            power_w=num(),
        )
        for i in range(2)
    )
    agents = []
    for i, name in enumerate(AGENTS):
        running = rng.random() < 0.8
        agents.append(
            AgentSample(
                name=name,
                kind="custom",
                source="config",
                status="running" if running else "exited",
                pid=100 + i if running else None,
                create_time=T0 - 50.0 if running else None,
                procs=rng.randrange(1, 5) if running else 0,
                cpu_utilization=num(0.1),
                ram_used=whole(),
                gpu_memory_used=whole(),
            )
        )
    return Snapshot(
        seq=seq, ts=datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms), interval=1.0,
        lag=0.0, duration=0.0, host=host, gpu=GpuStatus(available=True, gpus=gpus),
        agents=tuple(agents),
    )  # fmt: skip


def write(path: Path, offsets_ms: Sequence[int], splits: Sequence[int], seed: int) -> None:
    rng = random.Random(seed)
    snaps = [make_snapshot(i + 1, T0 * 1000 + ms, rng) for i, ms in enumerate(offsets_ms)]
    store = Writer(path)
    try:
        edges = sorted({0, len(snaps), *(s % (len(snaps) + 1) for s in splits)})
        for lo, hi in itertools.pairwise(edges):
            store.write_batch(snaps[lo:hi])
    finally:
        store.close()


def from_rollups(conn: sqlite3.Connection) -> dict[Key, Stats]:
    rows = conn.execute(
        "SELECT s.scope, s.entity, s.metric, r.res, r.bucket, r.n, r.sum, r.min, r.max "
        "FROM rollups r JOIN series s ON s.id = r.series"
    ).fetchall()
    return {tuple(r[:5]): tuple(r[5:]) for r in rows}


def from_raw(conn: sqlite3.Connection) -> dict[Key, Stats]:
    """The same numbers computed straight from the raw tables."""
    sources: list[tuple[str, str, str, str]] = [
        ("host", "''", col, "JOIN host_samples x ON x.tick = t.id") for col in HOST_METRICS
    ]
    sources += [
        ("gpu", "CAST(x.idx AS TEXT)", col, "JOIN gpu_samples x ON x.tick = t.id")
        for col in GPU_METRICS
    ]
    agent_join = "JOIN agent_samples y ON y.tick = t.id JOIN agents a ON a.id = y.agent"
    sources += [("agent", "a.name", col, agent_join) for col in AGENT_METRICS]
    out: dict[Key, Stats] = {}
    for scope, entity, metric, join in sources:
        col = f"{'y' if scope == 'agent' else 'x'}.{metric}"
        if (scope, metric) == ("agent", "procs"):  # counted only while a process runs
            col = "CASE WHEN y.run IS NOT NULL THEN y.procs END"
        for res in RESOLUTIONS:
            rows = conn.execute(
                f"SELECT {entity}, t.ts / 1000 / {res} AS b, count({col}), sum({col}), "
                f"min({col}), max({col}) FROM ticks t {join} GROUP BY 1, b "
                f"HAVING count({col}) > 0"
            ).fetchall()
            for ent, bucket, n, total, lo, hi in rows:
                out[(scope, ent, metric, res, bucket)] = (n, total, lo, hi)
    return out


def assert_rollups_match(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        rolled, raw = from_rollups(conn), from_raw(conn)
    finally:
        conn.close()
    assert rolled.keys() == raw.keys()
    for key, (n, total, lo, hi) in raw.items():
        assert rolled[key] == (n, float(total), float(lo), float(hi)), key
    return len(raw)


def test_rollups_equal_group_by(tmp_path: Path) -> None:
    rng = random.Random(7)
    # ~400 ticks over 2.5 hours: bursts a second apart and gaps of minutes, so buckets of
    # both widths are split across batches and merged by the upsert
    offsets: list[int] = []
    t = -90_000
    while t < 9_000_000:
        offsets.append(t)
        t += rng.choice([1000, 1000, 1500, 20_000, 61_000])
    offsets = offsets[:400]
    assert offsets[-1] - offsets[0] > 2 * 3600 * 1000
    write(tmp_path / "h.db", offsets, splits=[5, 6, 50, 51, 120, 121, 122, 300, 399], seed=1)
    keys = assert_rollups_match(tmp_path / "h.db")
    assert keys > 5 * (len(HOST_METRICS) + 2 * len(GPU_METRICS) + 3 * len(AGENT_METRICS))


def test_agent_cpu_rolls_up_in_tenths(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    write(path, [0, 1000, 2000], splits=[1], seed=3)
    conn = sqlite3.connect(path)
    try:
        raw = conn.execute(
            "SELECT sum(cpu) FROM agent_samples s JOIN agents a ON a.id = s.agent "
            "WHERE a.name = 'alpha'"
        ).fetchone()[0]
        rolled = conn.execute(
            "SELECT sum FROM rollups r JOIN series s ON s.id = r.series "
            "WHERE s.scope = 'agent' AND s.entity = 'alpha' AND s.metric = 'cpu' AND res = 60"
        ).fetchone()
    finally:
        conn.close()
    assert raw is None or float(raw) == rolled[0]
    assert_rollups_match(path)


@settings(max_examples=25, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=1, max_value=4_000_000), min_size=1, max_size=25),
    splits=st.lists(st.integers(min_value=0, max_value=30), max_size=5),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_rollups_equal_group_by_any_split(gaps: list[int], splits: list[int], seed: int) -> None:
    offsets = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.db"
        write(path, offsets, splits, seed)
        assert_rollups_match(path)
