"""store/frames.py: one recorded moment, read in one transaction, agrees with the ticks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from factories import host

from tui_monitor.models import (
    AgentEvent,
    AgentSample,
    ErrorRecord,
    GpuStatus,
    Snapshot,
)
from tui_monitor.store.frames import find_tick, next_problem, read_frame
from tui_monitor.store.queries import History
from tui_monitor.store.rows import to_ms
from tui_monitor.store.writer import Writer, resolve_error

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def tick(n: int, *, events: tuple[AgentEvent, ...] = (), errors: bool = False) -> Snapshot:
    agents = tuple(
        AgentSample(name=name, kind="k", source="config", status="running", pid=100 + i,
                    create_time=T0.timestamp(), procs=1, cpu_utilization=float(n + i),
                    ram_used=(n + 1) * 2**20)
        for i, name in enumerate(("a", "b"))
    )  # fmt: skip
    return Snapshot(
        seq=n, ts=at(n), interval=1.0, lag=0.0, duration=0.01,
        host=host(cpu=float(n)),
        gpu=GpuStatus(available=False, reason="none"), agents=agents, events=events,
        errors=tuple(ErrorRecord(ts=at(n), agent="a", error_type="E", message=str(n))
                     for _ in range(int(errors))),
    )  # fmt: skip


def ev(s: float, agent: str, level: str = "info") -> AgentEvent:
    return AgentEvent(ts=at(s), agent=agent, kind="note", level=level, message=f"{agent}@{s}")  # type: ignore[arg-type]


def test_a_frame_agrees_with_the_stored_ticks(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    store = Writer(db)
    ticks = [
        tick(n, events=(ev(n - 0.5, "a", "error" if n == 3 else "info"),), errors=n in (2, 4))
        for n in range(1, 9)
    ]
    store.write_batch(ticks)
    store.close()
    history = History(db)
    [first_error, _] = history.unresolved_errors()[::-1]
    assert resolve_error(db, first_error.id, at(5.5))  # opened at 2, resolved at 5.5

    tick_id = find_tick(db, at(6.2))
    assert tick_id is not None
    frame = read_frame(db, tick_id, lambda now: now - 3600, lambda now: 0)
    assert frame is not None
    assert frame.snapshot == history.at(at(6.2))
    # The chart: one row per tick up to the moment, values as stored.
    assert [r.ts for r in frame.chart] == [at(n).timestamp() for n in range(1, 7)]
    assert [r.agents["b"][0] for r in frame.chart] == [float(n + 1) for n in range(1, 7)]
    # Open errors at each tick equal what each stored tick says (an independent query).
    stored = [history.tick(i) for i in range(tick_id - 5, tick_id + 1)]
    assert [r.errors for r in frame.chart] == [sum(a.errors for a in s.agents) for s in stored if s]
    assert [r.errors for r in frame.chart] == [0, 1, 1, 2, 2, 1]
    # The events up to the moment, oldest first, and the tallies of the last hour.
    assert [e.message for e in frame.events] == [f"a@{n - 0.5}" for n in range(1, 7)]
    assert frame.tallies["a"] == (6, 1, at(5.5).timestamp())
    assert frame.tallies["b"] == (0, 0, None)
    # Tallies count from the cutoff on, and the last event is found beyond it.
    late = read_frame(db, tick_id, lambda now: now - 2, lambda now: 0)
    assert late is not None and late.tallies["a"] == (2, 0, at(5.5).timestamp())


def test_stepping_and_the_next_problem(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    store = Writer(db)
    store.write_batch(
        [tick(n, events=(ev(n, "b", "error"),) if n == 5 else ()) for n in range(1, 8)]
    )
    store.close()
    ids = {n: find_tick(db, at(n)) for n in range(1, 8)}
    assert find_tick(db, at(3.5)) == ids[3]
    assert find_tick(db, at(3), "prev") == ids[2]
    assert find_tick(db, at(3), "next") == ids[4]
    assert find_tick(db, at(0)) is None and find_tick(db, at(0), "first_after") == ids[1]
    assert find_tick(db, at(7), "next") is None
    assert next_problem(db, at(1)) == to_ms(at(5))
    assert next_problem(db, at(5)) is None
