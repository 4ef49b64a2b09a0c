"""A recorded moment as a `View`: the same state live ticks build, rebuilt from the history."""

from __future__ import annotations

from array import array
from math import nan
from pathlib import Path

from ..config import Settings
from ..cost.tick import cost_at, month_start_ms
from ..store.frames import ChartRow, read_frame
from .view import Point, View, message_cutoff


def load_view(db: Path, tick: int, settings: Settings) -> View | None:
    """Blocking (call it in a thread): one read transaction, then plain Python."""
    frame = read_frame(db, tick, message_cutoff, month_start_ms)
    if frame is None:
        return None
    now = frame.snapshot.ts.timestamp()
    view = View()
    view.add_events(frame.events, alerts=False)
    for e in frame.alerts:
        view.fold_alert(e)
    previous: Point | None = None
    for row in frame.chart:
        previous = _point(row, previous)
        view.add_point(previous)
    view.snapshot = cost_at(frame.snapshot, frame.usage, settings.budgets)  # the stored costs
    view.set_stats(frame.tallies, now)
    return view


def _point(row: ChartRow, previous: Point | None) -> Point:
    names = tuple(sorted(row.agents))
    if previous is not None and previous.names == names:
        names = previous.names
    values = array("d", [nan if v is None else float(v) for n in names for v in row.agents[n]])
    return Point(row.ts, row.cpu, row.mem, row.gpu, float(row.errors), names, values)
