"""Rows of the history file back into models: time stamps and whole snapshots.

The writer's inverse: `Writer.write_batch` then `snapshot` gives back what was written, except
what is not stored (per-process GPU memory, the pids of ticks from before schema 4) and the
stored precision (ms, CPU tenths).
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from ..errors import SchemaError
from ..models import (
    AgentEvent,
    AgentSample,
    AgentStatus,
    EventLevel,
    GpuSample,
    GpuStatus,
    HostSample,
    IngestStats,
    Snapshot,
    UsageRecord,
)
from .schema import LEVEL_NAMES, RAM_KIND_NAMES, STATUS_NAMES
from .tasks import boards_at

When = datetime | float

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(ts: When) -> int:
    """Epoch milliseconds, as the writer stores them; a naive datetime is taken as UTC."""
    if isinstance(ts, datetime):
        aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
        return (aware - EPOCH) // _MS
    return math.floor(ts * 1000)


def from_ms(ms: int) -> datetime:
    """Exact inverse of `to_ms` (no float round trip)."""
    return EPOCH + timedelta(milliseconds=ms)


_TICK = "SELECT id, ts, seq, interval, lag, duration, gpu_reason, gpu_driver FROM ticks"
_INGEST = "SELECT stats FROM ingest_stats WHERE tick <= ? ORDER BY tick DESC LIMIT 1"
_HOST = (
    "SELECT hostname, boot_time, cpu_count, cpu, cpu_per_core, load_1, load_5, load_15, "
    "ram_used, ram_total, ram_available, swap_used, swap_total, disk_read, disk_write, "
    "net_rx, net_tx FROM host_samples WHERE tick = ?"
)
_GPUS = (
    "SELECT idx, uuid, name, util, mem_util, mem_used, mem_total, temp, power, power_limit, "
    "error FROM gpu_samples WHERE tick = ? ORDER BY idx"
)
# A sample without a run (an exited agent) shows the command of its last run started by then,
# as the live collector does; pid and create_time stay None.
_AGENTS = """
    SELECT a.name, a.kind, a.source, s.status, r.pid, r.create_time,
           coalesce(r.process, l.process, ''), coalesce(r.cmdline, l.cmdline, ''),
           coalesce(r.cwd, l.cwd), coalesce(r.user, l.user),
           s.procs, s.threads, s.cpu, s.ram, s.gpu_mem, s.queue_depth,
           rp.reported, rp.task, rp.metrics, s.heartbeat, ps.tree, s.ram_kind
    FROM agent_samples s
    JOIN agents a ON a.id = s.agent
    LEFT JOIN reports rp ON rp.id = s.report
    LEFT JOIN procsets ps ON ps.id = s.procset
    LEFT JOIN agent_runs r ON r.id = s.run
    LEFT JOIN agent_runs l ON s.run IS NULL AND l.id = (
        SELECT id FROM agent_runs WHERE agent = s.agent AND create_time <= ?
        ORDER BY create_time DESC, id DESC LIMIT 1)
    WHERE s.tick = ?
    ORDER BY a.name
"""
_EVENTS = "SELECT id, ts, agent, kind, level, message, data FROM events"
_USAGE = (
    "SELECT id, ts, agent, model, input_tokens, output_tokens, cache_read_tokens, "
    "cache_write_tokens, cost_usd, request_id, cost_source, cache_write_1h_tokens, session "
    "FROM usage"
)
UNRESOLVED = (
    "SELECT agent, count(*) FROM errors WHERE ts <= ? AND (resolved = 0 OR resolved_ts > ?) "
    "GROUP BY agent"
)
"""Errors still open at a time (epoch ms, twice): for replay as much as for now."""


def _snapshot(conn: sqlite3.Connection, tick: Any, events: bool = True) -> Snapshot:
    """Rebuild one tick; events are those stamped after the previous tick, up to this one
    (none with `events=False`: a follower reads them by id instead)."""
    tick_id, ms, seq, interval, lag, duration, reason, driver = tick
    host = conn.execute(_HOST, (tick_id,)).fetchone()
    if host is None:
        raise SchemaError(f"tick {tick_id} has no host sample: the file is damaged")
    shown: list[Any] = []
    if events:
        prev = conn.execute(
            "SELECT ts FROM ticks WHERE ts < ? ORDER BY ts DESC LIMIT 1", (ms,)
        ).fetchone()
        since = prev[0] if prev else ms - math.ceil(max(interval, duration) * 1000)
        sql = f"{_EVENTS} WHERE ts > ? AND ts <= ? ORDER BY id"
        shown = conn.execute(sql, (since, ms)).fetchall()
    gpus = conn.execute(_GPUS, (tick_id,)).fetchall()
    agents = conn.execute(_AGENTS, (ms / 1000, tick_id)).fetchall()
    unresolved = dict(conn.execute(UNRESOLVED, (ms, ms)).fetchall())
    ingest = conn.execute(_INGEST, (tick_id,)).fetchone()
    usage = conn.execute(f"{_USAGE} WHERE tick = ? ORDER BY id", (tick_id,)).fetchall()
    return Snapshot(
        seq=seq,
        ts=from_ms(ms),
        interval=interval,
        lag=lag,
        duration=duration,
        host=_host(host),
        gpu=GpuStatus(
            available=reason is None,
            reason=reason,
            driver_version=driver,
            gpus=tuple(_gpu(g) for g in gpus),
        ),
        agents=tuple(_agent(a, unresolved.get(a[0], 0)) for a in agents),
        events=tuple(_event(e) for e in shown),
        usage=tuple(_usage_record(u) for u in usage),
        ingest=None if ingest is None else IngestStats.model_validate_json(ingest[0]),
        tasks=boards_at(conn, tick_id),
    )


def _host(h: Any) -> HostSample:
    per_core = None if h[4] is None else tuple(json.loads(h[4]))
    return HostSample(
        hostname=h[0],
        boot_time=h[1],
        cpu_count=h[2],
        cpu_utilization=h[3],
        cpu_per_core=per_core,
        load_1=h[5],
        load_5=h[6],
        load_15=h[7],
        ram_used=h[8],
        ram_total=h[9],
        ram_available=h[10],
        swap_used=h[11],
        swap_total=h[12],
        disk_read_bps=h[13],
        disk_write_bps=h[14],
        net_rx_bps=h[15],
        net_tx_bps=h[16],
    )


def _gpu(g: Any) -> GpuSample:
    return GpuSample(
        index=g[0],
        uuid=g[1],
        name=g[2],
        gpu_utilization=g[3],
        memory_utilization=g[4],
        gpu_memory_used=g[5],
        gpu_memory_total=g[6],
        gpu_temperature=g[7],
        power_w=g[8],
        power_limit_w=g[9],
        error=g[10],
    )


def procset(tree: str | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(pids, their parents) of a stored process tree ("pid:ppid ..."); parents may be empty."""
    if not tree:
        return (), ()
    pairs = [item.partition(":") for item in tree.split()]
    pids = tuple(int(p) for p, _, _ in pairs)
    if all(q for _, _, q in pairs):
        return pids, tuple(int(q) for _, _, q in pairs)
    return pids, ()


def _agent(a: Any, errors: int = 0) -> AgentSample:
    cpu = a[12]
    pids, parents = procset(a[20])
    return AgentSample(
        name=a[0],
        kind=a[1],
        source=a[2],
        status=cast(AgentStatus, STATUS_NAMES.get(a[3], "unknown")),
        pid=a[4],
        create_time=a[5],
        process=a[6],
        cmdline=a[7],
        cwd=a[8],
        user=a[9],
        pids=pids,
        parents=parents,
        procs=a[10],
        threads=a[11],
        cpu_utilization=None if cpu is None else cpu / 10,
        ram_used=a[13],
        ram_kind=RAM_KIND_NAMES.get(a[21]),
        gpu_memory_used=a[14],
        queue_depth=a[15],
        reported=a[16],
        task=a[17],
        metrics={} if a[18] is None else json.loads(a[18]),
        heartbeat=None if a[19] is None else a[19] / 1000,
        errors=errors,
    )


def _event(row: Any) -> AgentEvent:
    _, ms, agent, kind, level, message, data = row
    return AgentEvent(
        ts=from_ms(ms),
        agent=agent,
        kind=kind,
        level=cast(EventLevel, LEVEL_NAMES.get(level, "info")),
        message=message,
        data={} if data is None else json.loads(data),
    )


def _usage_record(r: Any) -> UsageRecord:
    """A row of `_USAGE` (its id, r[0], is the caller's)."""
    return UsageRecord(
        ts=from_ms(r[1]),
        agent=r[2],
        model=r[3],
        input_tokens=r[4],
        output_tokens=r[5],
        cache_read_tokens=r[6],
        cache_write_tokens=r[7],
        cost_usd=r[8],
        request_id=r[9],
        cost_source=r[10],
        cache_write_1h_tokens=r[11],
        session=r[12],
    )
