"""The single writer: snapshots in, one BEGIN IMMEDIATE transaction per batch out.

`write_batch` is plain blocking sqlite3 (used by benchmarks and tests as is); `queue.WriteQueue`
wraps it with a bounded asyncio queue and runs each batch in a worker thread, so the event loop
never waits on the disk. Rollups (n, sum, min, max per minute and per hour) are folded into
the same transaction as the raw rows they summarise, so they can never disagree after a crash.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from ..models import IngestStats, Snapshot
from . import sessions
from . import statements as sql
from .schema import LEVEL_CODES, RAM_KIND_CODES, STATUS_CODES, connect_rw, immediate, migrate
from .shared import TREE_AHEAD_MS, ReportKey, SharedRows
from .tasks import change_rows

T = TypeVar("T")
SeriesKey = tuple[str, str, str]
"""A process tree's `last_ts` is written this far ahead of the tick using it, and not again
until a tick passes it: one small update a minute per tree instead of one a tick (retention
keeps a tree at most this much longer)."""
BULK_ROWS = 2000
"""Rows per JSON-array insert: few GIL hand-offs, and a small copy in memory."""
HOST_METRICS = (
    "cpu",
    "ram_used",
    "swap_used",
    "load_1",
    "disk_read",
    "disk_write",
    "net_rx",
    "net_tx",
)
AGENT_METRICS = ("cpu", "ram", "gpu_mem", "procs")
GPU_METRICS = ("util", "mem_used", "temp", "power")


@dataclass(frozen=True, slots=True)
class Batch:
    """What one commit wrote: tick ids and sampler seqs (first..last), and agent rows."""

    first_tick: int
    last_tick: int
    first_seq: int
    last_seq: int
    ticks: int
    agent_rows: int
    reported: int = 0
    """Ingest messages folded into these ticks (their events, errors and usage are in it)."""


def _ms_of(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _ms(snapshot: Snapshot) -> int:
    return _ms_of(snapshot.ts)


class Writer:
    """The write side of one database file: schema upkeep, id caches and batch writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mutex = threading.Lock()  # one thread at a time on the connection, even on cancel
        self.conn = connect_rw(path)
        sessions.register(self.conn)
        try:
            self.migrated_from = migrate(self.conn, path)
        except BaseException:
            self.conn.close()
            raise
        row = self.conn.execute("SELECT max(id) FROM ticks").fetchone()
        self.last_tick: int = row[0] or 0
        self._agents = dict(self.conn.execute("SELECT name, id FROM agents").fetchall())
        self._runs: dict[tuple[int, int, float], int] = {
            (a, p, c): i
            for i, a, p, c in self.conn.execute(
                "SELECT id, agent, pid, create_time FROM agent_runs"
            )
        }
        self._series: dict[SeriesKey, int] = {
            (s, e, m): i
            for i, s, e, m in self.conn.execute("SELECT id, scope, entity, metric FROM series")
        }
        self._ingest: IngestStats | None = None
        self._shared = SharedRows(self.conn)

    def close(self) -> None:
        with self._mutex:
            self.conn.close()

    def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Other write work (retention) on this connection, never during a batch."""
        with self._mutex:
            self._shared.clear()  # retention may drop states nobody used for long
            return fn(self.conn)

    def _id(self, cache: dict, key: object, sql: str, params: Sequence[object]) -> int:  # type: ignore[type-arg]
        found = cache.get(key)
        if found is None:
            found = cache[key] = int(self.conn.execute(sql, params).fetchone()[0])
        return found

    def _series_id(self, key: SeriesKey) -> int:
        return self._id(
            self._series,
            key,
            "INSERT INTO series (scope, entity, metric) VALUES (?, ?, ?) RETURNING id",
            key,
        )

    def write_batch(self, snapshots: Sequence[Snapshot]) -> Batch:
        """Write snapshots in one transaction; on any error nothing of them is kept."""
        with self._mutex:
            return self._transaction(snapshots)

    def _transaction(self, snapshots: Sequence[Snapshot]) -> Batch:
        caches = (
            dict(self._agents),
            dict(self._runs),
            dict(self._series),
            dict(self._shared.reports),
            self._ingest,
            self.last_tick,
        )
        try:
            with immediate(self.conn):
                return self._write(snapshots)
        except BaseException:
            # Ids of rows that were not committed, so the batch can be written again as it
            # is (and a later one never reuses a rolled-back agent id).
            reports: dict[ReportKey, int]
            (self._agents, self._runs, self._series, reports, self._ingest, self.last_tick) = caches
            self._shared.forget_uncommitted(reports)
            raise

    def _write(self, snapshots: Sequence[Snapshot]) -> Batch:
        """Rows for every table, plus rollups.

        Hot path (about 7 µs per agent row): metric values are gathered per series and minute
        in plain lists, and folded with the built-in sum/min/max when the minute changes;
        hour rollups are folded from the minute ones.
        """
        rows: dict[str, list[tuple[object, ...]]] = {k: [] for k in (*sql.INSERT, *sql.BULK)}
        session_rows: list[tuple[object, ...]] = []
        agent_rows = rows["agent_samples"]
        seen: dict[int, tuple[int, str, str]] = {}
        used: dict[int, int] = {}
        trees: dict[int, int] = {}
        shared = self._shared
        tree_until = shared.tree_until
        first = self.last_tick + 1
        columns: dict[tuple[str, str], list[list[float]]] = {}
        rollups: list[tuple[object, ...]] = []
        hours: dict[tuple[int, int], tuple[int, float, float, float]] = {}
        minute: int | None = None
        agents_get, runs_get, columns_get = self._agents.get, self._runs.get, columns.get
        add_agent_row, status_code = agent_rows.append, STATUS_CODES

        def fold_minute() -> None:
            assert minute is not None
            for (scope, entity), lists in columns.items():
                for metric, values in zip(_METRICS[scope], lists, strict=True):
                    if not values:
                        continue
                    sid = self._series_id((scope, entity, metric))
                    acc = (len(values), float(sum(values)), min(values), max(values))
                    rollups.append((sid, 60, minute, *acc))
                    key = (sid, minute // 60)
                    cur = hours.get(key)
                    hours[key] = (
                        acc
                        if cur is None
                        else (
                            cur[0] + acc[0],
                            cur[1] + acc[1],
                            min(cur[2], acc[2]),
                            max(cur[3], acc[3]),
                        )
                    )
            columns.clear()

        def gather(scope: str, entity: str, values: Sequence[float | None]) -> None:
            lists = columns.get((scope, entity))
            if lists is None:
                lists = columns[(scope, entity)] = [[] for _ in values]
            for values_of_metric, value in zip(lists, values, strict=True):
                if value is not None:
                    values_of_metric.append(value)

        for snap in snapshots:
            self.last_tick += 1
            tick, ms = self.last_tick, _ms(snap)
            if ms // 60000 != minute:
                if minute is not None:
                    fold_minute()
                minute = ms // 60000
            g, h = snap.gpu, snap.host
            reason = None if g.available else (g.reason or "unavailable")
            rows["ticks"].append(
                (
                    tick,
                    ms,
                    snap.seq,
                    snap.interval,
                    snap.lag,
                    snap.duration,
                    reason,
                    g.driver_version,
                )
            )
            if snap.ingest is not None and snap.ingest != self._ingest:
                self._ingest = snap.ingest  # a row only when a counter moved
                rows["ingest_stats"].append((tick, snap.ingest.model_dump_json()))
            per_core = None if h.cpu_per_core is None else json.dumps(h.cpu_per_core)
            rows["host_samples"].append(
                (
                    tick,
                    h.hostname,
                    h.boot_time,
                    h.cpu_count,
                    h.cpu_utilization,
                    per_core,
                    h.load_1,
                    h.load_5,
                    h.load_15,
                    h.ram_used,
                    h.ram_total,
                    h.ram_available,
                    h.swap_used,
                    h.swap_total,
                    h.disk_read_bps,
                    h.disk_write_bps,
                    h.net_rx_bps,
                    h.net_tx_bps,
                )
            )
            gather(
                "host",
                "",
                (
                    h.cpu_utilization,
                    h.ram_used,
                    h.swap_used,
                    h.load_1,
                    h.disk_read_bps,
                    h.disk_write_bps,
                    h.net_rx_bps,
                    h.net_tx_bps,
                ),
            )
            for gs in g.gpus:
                rows["gpu_samples"].append(
                    (
                        tick,
                        gs.index,
                        gs.uuid,
                        gs.name,
                        gs.gpu_utilization,
                        gs.memory_utilization,
                        gs.gpu_memory_used,
                        gs.gpu_memory_total,
                        gs.gpu_temperature,
                        gs.power_w,
                        gs.power_limit_w,
                        gs.error,
                    )
                )
                gather(
                    "gpu",
                    str(gs.index),
                    (gs.gpu_utilization, gs.gpu_memory_used, gs.gpu_temperature, gs.power_w),
                )
            for a in snap.agents:
                name = a.name
                aid = agents_get(name)
                if aid is None:
                    new_agent = (name, a.kind, a.source, ms, ms)
                    aid = self._id(self._agents, name, sql.NEW_AGENT, new_agent)
                seen[aid] = (ms, a.kind, a.source)
                run = None
                pid = a.pid
                if pid is not None and a.create_time is not None:
                    key = (aid, pid, a.create_time)
                    run = runs_get(key)
                    if run is None:
                        new_run = (*key, a.process, a.cmdline, a.cwd, a.user)
                        run = self._id(self._runs, key, sql.NEW_RUN, new_run)
                report = heartbeat = None
                if (
                    a.heartbeat is not None or a.reported is not None or a.task is not None
                ) or a.metrics:  # an agent's own metrics (OTLP) with no report of its own
                    metrics = json.dumps(a.metrics, sort_keys=True) if a.metrics else None
                    rkey = (a.reported, a.task, metrics)
                    report = shared.reports.get(rkey) or shared.report_id(rkey, ms)
                    used[report] = ms
                    if a.heartbeat is not None:
                        heartbeat = int(a.heartbeat * 1000)
                procset = None
                if a.pids:
                    tkey = (a.pids, a.parents)
                    procset = shared.procsets.get(tkey) or shared.procset_id(tkey, ms)
                    if ms >= tree_until.get(procset, 0):
                        trees[procset] = tree_until[procset] = ms + TREE_AHEAD_MS
                cpu = a.cpu_utilization
                if cpu is not None:
                    cpu = int(cpu * 10 + 0.5)  # tenths; CPU% is never negative
                ram, gpu = a.ram_used, a.gpu_memory_used
                add_agent_row(
                    (
                        tick,
                        aid,
                        run,
                        status_code[a.status],
                        cpu,
                        ram,
                        gpu,
                        a.procs,
                        a.threads,
                        a.queue_depth,
                        report,
                        heartbeat,
                        procset,
                        None if a.ram_kind is None else RAM_KIND_CODES[a.ram_kind],
                    )
                )
                # `gather`, inlined: this loop runs for every agent of every tick
                lists = columns_get(("agent", name))
                if lists is None:
                    lists = columns[("agent", name)] = [[], [], [], []]
                if cpu is not None:
                    lists[0].append(cpu)
                if ram is not None:
                    lists[1].append(ram)
                if gpu is not None:
                    lists[2].append(gpu)
                if run is not None:  # processes count only while a process runs
                    lists[3].append(a.procs)
            if snap.task_changes:
                rows["task_states"] += change_rows(tick, ms, snap.task_changes)
            if snap.event_rows:
                rows["events"] += snap.event_rows  # older than the tick's shown events
            for e in snap.events:
                data = json.dumps(e.data, ensure_ascii=True) if e.data else None
                rows["events"].append(
                    (_ms_of(e.ts), e.agent, e.kind, LEVEL_CODES[e.level], e.message, data)
                )
            rows["errors"] += [
                (_ms_of(r.ts), r.agent, r.error_type, r.message, r.stack) for r in snap.errors
            ]
            rows["usage"] += [
                (
                    _ms_of(u.ts),
                    u.agent,
                    u.model,
                    u.input_tokens,
                    u.output_tokens,
                    u.cache_read_tokens,
                    u.cache_write_tokens,
                    u.cost_usd,
                    u.request_id,
                    u.cost_source if u.cost_usd is not None else None,
                    tick,
                    u.cache_write_1h_tokens,
                    u.session,
                )
                for u in snap.usage
            ]
            session_rows += [sessions.row(m) for m in snap.session_changes]
        if minute is not None:
            fold_minute()
        rollups += [(sid, 3600, hour, *acc) for (sid, hour), acc in hours.items()]
        for table, stmt in sql.INSERT.items():
            self.conn.executemany(stmt, rows[table])
        for table, (bulk, single) in sql.BULK.items():
            if not rows[table]:
                continue
            # One statement for all of them: executemany gives up the GIL around every row
            # and waits up to 5 ms to get it back from a busy event loop (a flood's 30,000
            # events took minutes that way, 0.2 s like this). SQLite's JSON functions end
            # a string at NUL, so text holding one goes in row by row, exactly.
            todo = rows[table]
            for i in range(0, len(todo), BULK_ROWS):  # bounded: the JSON text is a copy
                chunk = todo[i : i + BULK_ROWS]
                payload = json.dumps(chunk, ensure_ascii=False)
                if "\\u0000" in payload:
                    self.conn.executemany(single, chunk)
                else:
                    self.conn.execute(bulk, (payload,))
        self.conn.executemany(sql.SESSION, session_rows)
        self.conn.executemany(sql.SEEN, [(*last, aid) for aid, last in seen.items()])
        self.conn.executemany(sql.USED_REPORT, [(ms, rid) for rid, ms in used.items()])
        self.conn.executemany(sql.USED_PROCSET, [(ms, pid) for pid, ms in trees.items()])
        self.conn.executemany(sql.ROLLUP, rollups)
        seqs = [s.seq for s in snapshots] or [0]
        reported = sum(s.reported for s in snapshots)
        return Batch(
            first, self.last_tick, seqs[0], seqs[-1], len(rows["ticks"]), len(agent_rows), reported
        )


_METRICS = {"host": HOST_METRICS, "gpu": GPU_METRICS, "agent": AGENT_METRICS}


def resolve_error(path: Path, error_id: int, when: datetime) -> bool:
    """Mark one error resolved (a person did it from the UI): a short write next to the
    recorder's, waiting for its lock like any writer. False if it was already resolved."""
    conn = connect_rw(path)
    try:
        cur = conn.execute(
            "UPDATE errors SET resolved = 1, resolved_ts = ? WHERE id = ? AND resolved = 0",
            (_ms_of(when), error_id),
        )
        return cur.rowcount == 1
    finally:
        conn.close()
