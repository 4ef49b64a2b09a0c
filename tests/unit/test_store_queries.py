"""History queries against real SQLite files written by the real writer."""

from __future__ import annotations

import math
import re
import sqlite3
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tui_monitor.config import AgentRule, GpuSettings, PresetSettings, RetentionSettings, Settings
from tui_monitor.errors import SchemaError
from tui_monitor.models import (
    AgentEvent,
    AgentSample,
    ErrorRecord,
    GpuSample,
    GpuStatus,
    HostSample,
    Snapshot,
    UsageRecord,
)
from tui_monitor.sampler import Sampler
from tui_monitor.store.queries import History
from tui_monitor.store.retention import prune
from tui_monitor.store.schema import SCHEMA_VERSION
from tui_monitor.store.writer import Writer

if TYPE_CHECKING:
    from conftest import SpawnAgent

T0 = 1_699_999_200  # a whole hour, epoch seconds
BASE = datetime.fromtimestamp(T0, UTC)


# -- builders -------------------------------------------------------------------------------


def at(s: float) -> datetime:
    return BASE + timedelta(seconds=s)


def host(**kw: Any) -> HostSample:
    base: dict[str, Any] = dict(
        hostname="box", boot_time=1.6e9, cpu_count=8, cpu_utilization=12.5,
        cpu_per_core=(10.0, 15.25), load_1=0.5, load_5=0.25, load_15=0.125, ram_used=4 << 30,
        ram_total=16 << 30, ram_available=12 << 30, swap_used=1 << 20, swap_total=1 << 30,
        disk_read_bps=1.5, disk_write_bps=2.5, net_rx_bps=3.5, net_tx_bps=4.5,
    )  # fmt: skip
    return HostSample(**(base | kw))


def agent(name: str, **kw: Any) -> AgentSample:
    base: dict[str, Any] = dict(
        kind="custom", source="config", status="running", pid=1000 + len(name),
        create_time=T0 - 500.25, process=name, cmdline=f"python -m {name}", cwd="/srv",
        user="svc", pids=(1000 + len(name), 2000), procs=2, threads=5, cpu_utilization=1.5,
        ram_used=1 << 20, gpu_memory_used=None, queue_depth=None,
    )  # fmt: skip
    return AgentSample(name=name, **(base | kw))


def gpu(index: int, **kw: Any) -> GpuSample:
    base: dict[str, Any] = dict(
        uuid=f"GPU-{index}", name="H100", gpu_utilization=50.0, memory_utilization=20.0,
        gpu_memory_used=8 << 30, gpu_memory_total=80 << 30, gpu_temperature=60.0,
        power_w=300.0, power_limit_w=700.0,
    )  # fmt: skip
    return GpuSample(index=index, **(base | kw))


def snap(
    seq: int,
    s: float,
    agents: Iterable[AgentSample] = (),
    gpus: Iterable[GpuSample] | None = None,
    events: Iterable[AgentEvent] = (),
    **host_kw: Any,
) -> Snapshot:
    status = (
        GpuStatus(available=False, reason="NVML found no GPUs")
        if gpus is None
        else GpuStatus(available=True, driver_version="550.54", gpus=tuple(gpus),
                       process_memory={1004: 123})
    )  # fmt: skip
    return Snapshot(
        seq=seq, ts=at(s), interval=1.0, lag=0.001, duration=0.02, host=host(**host_kw),
        gpu=status, agents=tuple(sorted(agents, key=lambda a: a.name)), events=tuple(events),
    )  # fmt: skip


def event(s: float, name: str, message: str = "", level: str = "info", **kw: Any) -> AgentEvent:
    return AgentEvent(ts=at(s), agent=name, kind="note", level=level, message=message, **kw)  # type: ignore[arg-type]


def stored(s: Snapshot) -> Snapshot:
    """What the store can give back: everything but per-process GPU memory."""
    gpu_status = s.gpu.model_copy(update={"process_memory": {}})
    return s.model_copy(update={"gpu": gpu_status})


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


@pytest.fixture
def store(db: Path) -> Iterator[Writer]:
    s = Writer(db)
    yield s
    s.close()


# -- snapshots ------------------------------------------------------------------------------


def history_of(store: Writer) -> list[Snapshot]:
    """Three ticks: b runs, then exits (keeping its command), then a GPU goes dark."""
    s0 = snap(1, -1, [agent("a"), agent("b", cpu_utilization=33.3)], [gpu(0), gpu(1)])
    s1 = snap(
        2,
        0,
        [
            agent("a", cpu_utilization=None, queue_depth=7, gpu_memory_used=5 << 20),
            agent("b", status="exited", pid=None, create_time=None, pids=(), procs=0,
                  threads=None, cpu_utilization=None, ram_used=None),
            AgentSample(name="never", kind="custom", source="config", status="exited"),
        ],
        [gpu(0, gpu_utilization=None), gpu(1)],
        [event(-0.5, "b", "exited (pid 1001)", "warning", data={"pid": 1001, "ok": True}),
         event(-0.25, "a", "hello")],
        cpu_per_core=None, load_1=None, disk_read_bps=None,
    )  # fmt: skip
    s2 = snap(3, 1, [agent("a")], [gpu(0), gpu(1, error="GPU is lost")], [event(1, "a", "x")])
    store.write_batch([s0, s1])
    store.write_batch([s2])
    return [s0, s1, s2]


def test_every_status_round_trips_and_old_codes_still_read(store: Writer, db: Path) -> None:
    """`unknown` (a first sample) is stored with a code of its own; the codes rows already
    hold keep their meaning, and a code from a newer version reads as unknown, not a crash."""
    statuses = ["running", "idle", "waiting", "stopped", "zombie", "exited", "stale", "unknown"]
    agents = [agent(f"a{i}", status=st, cpu_utilization=None) for i, st in enumerate(statuses)]
    store.write_batch([snap(1, 0, agents)])
    h = History(db)
    latest = h.latest()
    assert latest is not None
    assert [a.status for a in latest.agents] == statuses
    codes = store.conn.execute("SELECT status FROM agent_samples ORDER BY agent").fetchall()
    assert sorted(c for (c,) in codes) == [1, 2, 3, 4, 5, 6, 7, 8]  # 1-7 as ever
    store.conn.execute("UPDATE agent_samples SET status = 99")
    store.conn.commit()
    latest = h.latest()
    assert latest is not None and {a.status for a in latest.agents} == {"unknown"}


def test_round_trip_latest_and_at(store: Writer, db: Path) -> None:
    s0, s1, s2 = history_of(store)
    h = History(db)
    assert h.latest() == stored(s2)
    assert h.at(at(-1)) == stored(s0)
    assert h.at(at(0)) == stored(s1)
    assert h.at(at(0.999)) == stored(s1)  # between ticks: the earlier one
    assert h.at(T0 + 0.5) == stored(s1)  # epoch seconds work too
    assert h.at(at(0.5).replace(tzinfo=None)) == stored(s1)  # naive means UTC
    assert h.at(at(-1.001)) is None  # before the first tick
    exited = {a.name: a for a in stored(s1).agents}["b"]
    assert (exited.pid, exited.process, exited.cmdline) == (None, "b", "python -m b")


def test_dark_gpu_round_trip(store: Writer, db: Path) -> None:
    dark = snap(1, 0, [agent("a")], None)
    store.write_batch([dark])
    got = History(db).latest()
    assert got == stored(dark)
    assert got is not None and got.gpu.available is False and got.gpu.reason


def test_process_trees_are_stored_once_and_shared_by_ticks(store: Writer, db: Path) -> None:
    family = {"pids": (4101, 4102, 4107), "parents": (1, 4101, 4102)}  # a chain of three
    spawned = {"pids": (4101, 4102, 4107, 4110), "parents": (1, 4101, 4102, 4101)}
    snaps = [
        snap(i, i, [agent("a", **(spawned if i >= 50 else family)), agent("b", pids=(7,))])
        for i in range(100)
    ]
    store.write_batch(snaps[:60])
    store.write_batch(snaps[60:])
    trees = store.conn.execute("SELECT tree FROM procsets ORDER BY id").fetchall()
    assert trees == [
        ("4101:1 4102:4101 4107:4102",),
        ("7",),
        ("4101:1 4102:4101 4107:4102 4110:4101",),
    ]
    h = History(db)
    for i in (0, 49, 50, 99):
        got = {a.name: a for a in h.at(at(i)).agents}  # type: ignore[union-attr]
        want = spawned if i >= 50 else family
        assert (got["a"].pids, got["a"].parents) == (want["pids"], want["parents"])
        assert (got["b"].pids, got["b"].parents) == ((7,), ())  # parents unknown: not made up
    # a rolled-back batch leaves no id behind in the writer's memory
    twice = agent("c", pids=(9, 10))
    with pytest.raises(sqlite3.IntegrityError):  # the same agent twice in a tick
        store.write_batch([snap(200, 200, [twice, twice])])
    store.write_batch([snap(201, 201, [agent("d", pids=(11,)), agent("c", pids=(9, 10))])])
    got = History(db).latest()
    assert got is not None and [a.pids for a in got.agents] == [(9, 10), (11,)]


def test_ticks_listing_and_stepping(store: Writer, db: Path) -> None:
    history_of(store)
    h = History(db)
    ticks = h.ticks_between(at(-10), at(10))
    assert [t for _, t in ticks] == [at(-1), at(0), at(1)]
    assert h.ticks_between(at(-0.5), at(0.5)) == [ticks[1]]
    assert h.ticks_between(at(-10), at(10), limit=2) == ticks[:2]
    assert h.tick_near(at(0), "prev") == ticks[0]
    assert h.tick_near(at(0), "next") == ticks[2]
    assert h.tick_near(at(-1), "prev") is None and h.tick_near(at(1), "next") is None
    s = h.tick(ticks[1][0])
    assert s is not None and s.seq == 2
    assert h.tick(999) is None
    assert History(db).latest() is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
async def test_round_trip_real_sampler(spawn_agent: SpawnAgent, db: Path) -> None:
    proc = spawn_agent("idle")
    rule = AgentRule(name="idler", cmdline=rf"--tag {re.escape(proc.tag)}(\s|$)")
    settings = Settings(
        agents=[rule], presets=PresetSettings(enabled=False), gpu=GpuSettings(enabled=False)
    )
    sampler = Sampler(settings)
    snaps = [await sampler.tick(), await sampler.tick()]
    proc.stop()
    snaps.append(await sampler.tick())
    sampler.close()
    assert snaps[1].agents[0].pid == proc.pid and snaps[1].agents[0].pids
    assert snaps[1].agents[0].ram_kind in ("pss", "rss")  # stored since schema 4, read back
    assert snaps[2].agents[0].status == "exited" and snaps[2].events
    store = Writer(db)
    store.write_batch(snaps)
    store.close()
    h = History(db)
    got = [h.at(s.ts) for s in snaps]
    assert got == [_as_stored(s) for s in snaps]
    assert got[2] == h.latest()


def _as_stored(s: Snapshot) -> Snapshot:
    """A live snapshot as stored: ms timestamps and CPU in tenths of a percent."""

    def ms(ts: datetime) -> datetime:
        return datetime.fromtimestamp(int(ts.timestamp() * 1000) / 1000, UTC)

    agents = tuple(
        a.model_copy(
            update={
                "cpu_utilization": None
                if a.cpu_utilization is None
                else round(a.cpu_utilization * 10) / 10,
            }
        )
        for a in s.agents
    )
    events = tuple(e.model_copy(update={"ts": ms(e.ts)}) for e in s.events)
    gpu_status = s.gpu.model_copy(update={"process_memory": {}})
    return s.model_copy(
        update={"ts": ms(s.ts), "agents": agents, "events": events, "gpu": gpu_status}
    )


# -- series ---------------------------------------------------------------------------------

STEP = 10  # seconds between synthetic ticks
SPAN = 3 * 3600


def cpu_at(s: int) -> float | None:
    """Agent a's CPU at second s: whole tenths, and None now and then."""
    return None if s % 70 == 0 else ((s // STEP) % 37) / 10 + 1


@pytest.fixture
def series_db(store: Writer, db: Path) -> Path:
    batch: list[Snapshot] = []
    for i, s in enumerate(range(0, SPAN, STEP)):
        gpus = [gpu(0, gpu_temperature=float(40 + (s // STEP) % 9))]
        agents = [agent("a", cpu_utilization=cpu_at(s)), agent("b")]
        batch.append(snap(i + 1, s, agents, gpus, ram_used=s * 1000))
        if len(batch) == 97:
            store.write_batch(batch)
            batch = []
    store.write_batch(batch)
    return db


def expected(values: Mapping[int, float | None], width: int) -> list[tuple[float, ...]]:
    groups: dict[int, list[float]] = defaultdict(list)
    for s, v in values.items():
        if v is not None:
            groups[(T0 + s) // width * width].append(v)
    return [(float(t), sum(g) / len(g), min(g), max(g)) for t, g in sorted(groups.items())]


def close_to(got: Sequence[tuple[float, ...]], want: Sequence[tuple[float, ...]]) -> bool:
    return len(got) == len(want) and all(
        all(math.isclose(x, y, rel_tol=1e-9) for x, y in zip(g, w, strict=True))
        for g, w in zip(got, want, strict=True)
    )


def test_series_raw_for_minutes(series_db: Path) -> None:
    h = History(series_db)
    got = h.series("agent", "a", "cpu", at(600), at(900))
    assert got.resolution == 0
    cpus = {s: cpu_at(s) for s in range(600, 901, STEP)}
    want = [(T0 + s, v, v, v) for s, v in cpus.items() if v is not None]
    assert close_to(got.points, want)
    assert got.points[0][1] == 3.3  # percent, not tenths
    ram = h.series("host", "", "ram_used", at(600), at(660), points=3)
    assert ram.resolution == 0 and ram.step == 30.0
    assert close_to(ram.points, expected({s: s * 1000.0 for s in range(600, 661, STEP)}, 30))


def test_series_minute_rollups_for_a_day(series_db: Path) -> None:
    got = History(series_db).series("agent", "a", "cpu", at(0), at(86400), points=300)
    assert got.resolution == 60 and got.step == 300.0
    assert len(got.points) <= 300
    assert close_to(got.points, expected({s: cpu_at(s) for s in range(0, SPAN, STEP)}, 300))


def test_series_hour_rollups_for_a_year(series_db: Path) -> None:
    h = History(series_db)
    got = h.series("gpu", "0", "temp", at(-200 * 86400), at(165 * 86400), points=300)
    assert got.resolution == 3600
    assert got.step == 108000.0  # 30 hours: the fewest whole hours that fit 300 points
    temps = {s: float(40 + (s // STEP) % 9) for s in range(0, SPAN, STEP)}
    assert close_to(got.points, expected(temps, 108000))


def test_series_falls_back_to_rollups_when_raw_is_gone(series_db: Path) -> None:
    store = Writer(series_db)
    prune(store.conn, T0 + 4 * 3600, RetentionSettings(raw_hours=0.5))
    store.close()
    got = History(series_db).series("agent", "a", "cpu", at(600), at(900), points=300)
    assert got.resolution == 60
    assert close_to(got.points, expected({s: cpu_at(s) for s in range(600, 960, STEP)}, 60))


def test_series_errors_and_unknowns(series_db: Path) -> None:
    h = History(series_db)
    with pytest.raises(ValueError, match="unknown agent metric 'load_1'"):
        h.series("agent", "a", "load_1", at(0), at(60))
    with pytest.raises(ValueError, match="unknown scope"):
        h.series("disk", "", "cpu", at(0), at(60))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="GPU is named by its index"):
        h.series("gpu", "H100", "util", at(0), at(60))
    with pytest.raises(ValueError, match="ends before"):
        h.series("host", "", "cpu", at(60), at(0))
    assert h.series("agent", "nobody", "cpu", at(0), at(60)).points == []
    assert h.series("gpu", "7", "util", at(0), at(86400)).points == []
    assert h.series("host", "", "cpu", at(-7200), at(-3600)).points == []


# -- events and errors ----------------------------------------------------------------------


@pytest.fixture
def events_db(store: Writer, db: Path) -> tuple[Path, list[AgentEvent]]:
    evs = [
        event(1, "a", "100% done"),
        event(2, "b", "100 percent done", "warning"),
        event(3, "a", "snake_case name", "error"),
        event(4, "b", "snakeXcase name", "debug"),
        event(5, "a", "Été ÉCLATANT", "critical"),
        event(6, "b", "all DONE", "info"),
    ]
    store.write_batch([snap(i + 1, i + 1, [agent("a")], events=[e]) for i, e in enumerate(evs)])
    return db, evs


def messages(rows: list[tuple[int, AgentEvent]]) -> list[str]:
    return [e.message for _, e in rows]


def test_events_filters(events_db: tuple[Path, list[AgentEvent]]) -> None:
    db, evs = events_db
    h = History(db)
    assert [e for _, e in h.events()] == evs[::-1]
    assert messages(h.events(agent="a")) == ["Été ÉCLATANT", "snake_case name", "100% done"]
    assert messages(h.events(min_level="error")) == ["Été ÉCLATANT", "snake_case name"]
    assert messages(h.events(text="%")) == ["100% done"]
    assert messages(h.events(text="e_c")) == ["snake_case name"]
    assert messages(h.events(text="done")) == ["all DONE", "100 percent done", "100% done"]
    assert messages(h.events(text="éclatant")) == ["Été ÉCLATANT"]
    assert messages(h.events(start=at(2), end=at(3))) == ["snake_case name", "100 percent done"]
    assert messages(h.events(agent="b", min_level="info", text="DONE")) == [
        "all DONE",
        "100 percent done",
    ]
    assert h.events(agent="nobody") == []
    with pytest.raises(ValueError, match="unknown level 'loud'"):
        h.events(min_level="loud")


def test_events_paging(events_db: tuple[Path, list[AgentEvent]]) -> None:
    db, evs = events_db
    h = History(db)
    seen: list[AgentEvent] = []
    before: int | None = None
    while page := h.events(limit=4 if before is None else 2, before_id=before):
        ids = [i for i, _ in page]
        assert ids == sorted(ids, reverse=True)
        seen += [e for _, e in page]
        before = ids[-1]
    assert seen == evs[::-1]
    first = h.events(limit=1)[0][0]
    assert messages(h.events(agent="a", before_id=first, limit=1)) == ["Été ÉCLATANT"]


def test_unresolved_errors(store: Writer, db: Path) -> None:
    rows = [
        (1000, "a", "KeyError", "k", "trace", 0),
        (2000, "b", "OSError", "disk", None, 0),
        (3000, "a", "ValueError", "v", None, 1),
        (4000, "a", "TypeError", "t", None, 0),
    ]
    store.conn.executemany(
        "INSERT INTO errors (ts, agent, error_type, message, stack, resolved) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [((T0 * 1000) + ts, *rest) for ts, *rest in rows],
    )
    h = History(db)
    got = h.unresolved_errors()
    assert [(e.error_type, e.agent) for e in got] == [("TypeError", "a"), ("OSError", "b"),
                                                      ("KeyError", "a")]  # fmt: skip
    assert got[2].ts == at(1) and got[2].stack == "trace" and got[2].message == "k"
    assert [e.error_type for e in h.unresolved_errors(agent="a")] == ["TypeError", "KeyError"]
    assert len(h.unresolved_errors(limit=1)) == 1
    assert h.unresolved_errors(agent="c") == []


# -- info, check, lifecycle -----------------------------------------------------------------


def test_info_and_check(store: Writer, db: Path) -> None:
    history_of(store)
    info = History(db).info()
    assert info.path == db and info.schema_version == SCHEMA_VERSION
    assert info.size > 0 and info.wal_size >= 0
    assert (info.first_tick, info.last_tick) == (at(-1), at(1))
    assert info.rows["ticks"] == 3 and info.rows["agent_samples"] == 6
    assert info.rows["gpu_samples"] == 6 and info.rows["events"] == 3
    assert info.rows["agents"] == 3 and info.rows["agent_runs"] == 2
    assert info.rows["errors"] == 0 and info.rows["usage"] == 0
    assert set(info.rows) >= {"host_samples", "series", "rollups"}
    assert History(db).check() == ["ok"] and History(db).check(full=True) == ["ok"]


def test_empty_history(store: Writer, db: Path) -> None:
    h = History(db)
    assert h.latest() is None and h.at(at(0)) is None and h.events() == []
    info = h.info()
    assert info.first_tick is None and set(info.rows.values()) == {0}


def test_missing_file_is_a_schema_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.db"
    with pytest.raises(SchemaError, match="no such database"):
        History(path).latest()
    assert not path.exists()


def test_readers_do_not_pin_the_wal(series_db: Path, store: Writer) -> None:
    """After any query the writer can checkpoint the whole WAL away: nothing was left open."""
    h = History(series_db)
    h.latest()
    h.series("agent", "a", "cpu", at(0), at(86400))
    h.series("agent", "a", "cpu", at(0), at(600))
    h.events(text="x")
    h.info()
    store.write_batch([snap(99_999, SPAN, [agent("a")])])
    busy, _, _ = store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    assert Path(f"{series_db}-wal").stat().st_size == 0


@pytest.mark.parametrize("nul", ["", "\x00"], ids=["bulk", "with-nul-row-by-row"])
def test_reported_text_round_trips_exactly_through_the_bulk_insert(
    store: Writer, db: Path, nul: str
) -> None:
    """Events, errors and usage go in as one JSON array per batch (row by row when a text
    holds NUL, which SQLite's JSON functions would cut): nothing may change."""
    nasty = f'nul{nul} esc\x1b[2J bidi\u202e quote" back\\slash [@click=app.quit]x[/] é 😀 \ud7ff'
    events = (event(0, nasty, nasty, "warning", data={nasty: [1, 2.5, None, nasty]}),)
    errors = (ErrorRecord(ts=at(0), agent=nasty, error_type=nasty, message=nasty, stack=nasty),)
    usage = tuple(
        UsageRecord(ts=at(0), agent=nasty, model=nasty, input_tokens=2**53, output_tokens=7,
                    cost_usd=cost, request_id=rid)
        for cost, rid in ((0.1, nasty), (0.1, nasty), (None, None), (1e-9, "x"))
    )  # fmt: skip
    tick = snap(1, 0, [agent("a")], events=events).model_copy(
        update={"errors": errors, "usage": usage}
    )
    store.write_batch([tick])
    h = History(db)
    [(_, back)] = h.events(agent=nasty)
    assert (back.agent, back.message, back.data) == (nasty, nasty, {nasty: [1, 2.5, None, nasty]})
    [err] = h.unresolved_errors(nasty)
    assert (err.agent, err.error_type, err.message, err.stack) == (nasty,) * 4
    rows = [r for _, r in h.usage_since(0)]
    assert [(r.model, r.input_tokens, r.cost_usd, r.request_id) for r in rows] == [
        (nasty, 2**53, 0.1, nasty),  # the same request_id twice: once
        (nasty, 2**53, None, None),
        (nasty, 2**53, 1e-9, "x"),
    ]
