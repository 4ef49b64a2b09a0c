"""Task boards in the history: one `task_states` row per change of a card (migration 5).

The board at tick T is, for every (board, key), the newest row at or before T; a board is on
it while its own row (key '') is not NULL. Rows only come when a file changes, so a board of
10,000 quiet tasks costs nothing per tick. Reading a board back parses every card's JSON, so
the last board read per database is kept and brought forward with the rows written since:
an attached viewer reading each new tick parses only what changed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ..models import TaskBoard, TaskCard, TaskChange
from ..tasks.diff import ALL
from ..tasks.order import board_order

_LATEST = (
    "SELECT id, board, key, card FROM task_states WHERE id IN "
    "(SELECT max(id) FROM task_states WHERE tick <= ? GROUP BY board, key)"
)
_SINCE = "SELECT id, board, key, card FROM task_states WHERE id > ? AND id <= ? ORDER BY id"
_UPTO = "SELECT max(id) FROM task_states WHERE tick <= ?"

_SUPERSEDED = (
    "DELETE FROM task_states WHERE id IN (SELECT s.id FROM task_states s WHERE s.ts < ? "
    "AND EXISTS (SELECT 1 FROM task_states n WHERE n.board = s.board AND n.key = s.key "
    "AND n.id > s.id AND n.ts < ?) LIMIT ?)"
)
_GONE = (
    "DELETE FROM task_states WHERE id IN (SELECT s.id FROM task_states s WHERE s.ts < ? "
    "AND s.card IS NULL AND NOT EXISTS (SELECT 1 FROM task_states o WHERE o.board = s.board "
    "AND o.key = s.key AND o.id < s.id) LIMIT ?)"
)


def prune_batch(conn: sqlite3.Connection, cutoff_ms: int, limit: int) -> int:
    """Retention: drop at most `limit` rows no board after `cutoff_ms` needs: states that a
    newer state replaced before the cutoff, then the last trace of tasks that left before it
    (only once nothing older of them is left, so an earlier state cannot come back)."""
    n = conn.execute(_SUPERSEDED, (cutoff_ms, cutoff_ms, limit)).rowcount
    if n < limit:
        n += conn.execute(_GONE, (cutoff_ms, limit - n)).rowcount
    return n


def change_rows(tick: int, ms: int, changes: Sequence[TaskChange]) -> list[tuple[object, ...]]:
    """The writer's rows for one tick's changes (JSON made here, in the writer's thread)."""
    rows: list[tuple[object, ...]] = []
    for c in changes:
        if c.key == ALL and c.meta is not None:
            rows += [(tick, ms, c.board, card.key, card.model_dump_json()) for card in c.meta.cards]
            continue
        if c.key == "":
            card = None if c.meta is None else c.meta.model_dump_json(exclude={"cards"})
        else:
            card = None if c.card is None else c.card.model_dump_json()
        rows.append((tick, ms, c.board, c.key, card))
    return rows


@dataclass
class _State:
    upto: int
    metas: dict[str, TaskBoard]
    cards: dict[tuple[str, str], TaskCard]
    boards: tuple[TaskBoard, ...] | None = None


_cache: dict[str, _State] = {}
_lock = threading.Lock()


def _db_name(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row is not None else ""


def _fold(state: _State, rows: Sequence[tuple[int, str, str, str | None]]) -> None:
    for row_id, board, key, card in rows:
        state.upto = max(state.upto, row_id)
        if key == "":
            if card is None:
                state.metas.pop(board, None)
            else:
                state.metas[board] = TaskBoard.model_validate_json(card)
        elif card is None:
            state.cards.pop((board, key), None)
        else:
            state.cards[(board, key)] = TaskCard.model_validate_json(card)
    state.boards = None


def boards_at(conn: sqlite3.Connection, tick: int) -> tuple[TaskBoard, ...]:
    """The task boards as they were at `tick` (in the caller's read transaction)."""
    upto = conn.execute(_UPTO, (tick,)).fetchone()[0]
    if upto is None:
        return ()
    name = _db_name(conn)
    with _lock:
        cached = _cache.get(name)
    if cached is not None and cached.upto <= upto:
        state = _State(cached.upto, dict(cached.metas), dict(cached.cards), cached.boards)
        if cached.upto < upto:
            _fold(state, conn.execute(_SINCE, (cached.upto, upto)).fetchall())
    else:
        state = _State(0, {}, {})
        _fold(state, sorted(conn.execute(_LATEST, (tick,)).fetchall()))
    if state.boards is None:
        per_board: dict[str, list[TaskCard]] = {name: [] for name in state.metas}
        for (board, _), card in state.cards.items():
            if board in per_board:
                per_board[board].append(card)
        state.boards = tuple(
            meta.model_copy(update={"cards": tuple(sorted(per_board[b], key=board_order))})
            for b, meta in sorted(state.metas.items())
        )
    with _lock:
        _cache[name] = state  # the newest read stays: the next tick starts from it
    return state.boards


def latest_boards(conn: sqlite3.Connection) -> dict[str, TaskBoard]:
    """The boards as last stored, by name (the watcher diffs against them after a restart)."""
    tick = conn.execute("SELECT max(tick) FROM task_states").fetchone()[0]
    return {} if tick is None else {b.name: b for b in boards_at(conn, tick)}


@dataclass(frozen=True, slots=True)
class Move:
    """One stored state of a task: when (epoch ms), where, and who had it."""

    ts: int
    column: str | None
    """None: the task left the board then."""
    agent: str | None
    path: str | None
    problem: str | None


def card_history(conn: sqlite3.Connection, board: str, key: str, upto_tick: int) -> list[Move]:
    """Every stored state of one task up to a tick, oldest first (the detail view's moves)."""
    out: list[Move] = []
    for ts, card in conn.execute(
        "SELECT ts, card FROM task_states WHERE board = ? AND key = ? AND tick <= ? ORDER BY id",
        (board, key, upto_tick),
    ).fetchall():
        if card is None:
            out.append(Move(ts, None, None, None, None))
            continue
        c = TaskCard.model_validate_json(card)
        out.append(Move(ts, c.column, c.agent, c.path, c.problem))
    return out
