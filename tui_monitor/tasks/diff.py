"""Two moments of a board into what happened: history rows (`TaskChange`) and events.

A task keeps its key as its file moves, so `inbox/T-1.yaml` -> `assigned/w1/T-1.yaml` is one
`task.assigned`, not a removal and a creation. Edits that change neither column nor agent
are stored (the detail view and replay show them) but are no event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import AgentEvent, EventLevel, TaskBoard, TaskCard, TaskChange

MAX_EVENTS = 1000
"""Events from one update; more (a folder of 10,000 files deleted) are summed up in one."""
TITLE_IN_EVENT = 120
ALL = "\0all"
"""The key of a change that stores every card of its board (`meta`) at once."""


def meta_of(board: TaskBoard) -> TaskBoard:
    """The board without its cards: what the history keeps under key ''."""
    return board.model_copy(update={"cards": (), "version": 0})


def _same_meta(a: TaskBoard, b: TaskBoard) -> bool:
    return (a.root, a.columns, a.problem) == (b.root, b.columns, b.problem)


def diff(
    old: TaskBoard | None, new: TaskBoard, now: datetime
) -> tuple[list[TaskChange], list[AgentEvent]]:
    """What changed from `old` (None: never seen) to `new`."""
    name = new.name
    changes: list[TaskChange] = []
    events: list[AgentEvent] = []
    if old is None or not _same_meta(old, new):
        changes.append(TaskChange(board=name, key="", meta=meta_of(new)))
    if old is None:  # every card is new: one change carries them all (no 10,000 objects)
        changes.append(TaskChange.model_construct(board=name, key=ALL, card=None, meta=new))
    before = {} if old is None else {c.key: c for c in old.cards}
    after = {} if old is None else {c.key: c for c in new.cards}
    for key, card in after.items():
        was = before.get(key)
        if was is card or was == card:
            continue
        changes.append(TaskChange.model_construct(board=name, key=key, card=card, meta=None))
        if old is not None:
            event = _event(name, was, card, now)
            if event is not None:
                events.append(event)
    for key, card in before.items():
        if key not in after:
            changes.append(TaskChange.model_construct(board=name, key=key, card=None, meta=None))
            events.append(_make(name, "task.removed", card, f"removed from {card.column}", now))
    if old is None:
        counts = {c: sum(1 for k in new.cards if k.column == c) for c in new.columns}
        shown = ", ".join(f"{n} {c}" for c, n in counts.items())
        events.append(
            AgentEvent(
                ts=now,
                agent=name,
                kind="task.scanned",
                level="warning" if new.problem else "info",
                message=f"task board {name}: {new.problem or shown}",
                data={"board": name, "counts": counts, "problem": new.problem},
            )
        )
    if len(events) > MAX_EVENTS:
        more = len(events) - MAX_EVENTS + 1
        events = events[: MAX_EVENTS - 1]
        events.append(
            AgentEvent(
                ts=now,
                agent=name,
                kind="task.moved",
                message=f"task board {name}: {more} more changes (the history has them all)",
                data={"board": name, "more": more},
            )
        )
    return changes, events


def _event(board: str, was: TaskCard | None, card: TaskCard, now: datetime) -> AgentEvent | None:
    if was is None:
        what = f"created in {card.column}"
        level: EventLevel = "warning" if card.problem else "info"
        return _make(board, "task.created", card, what, now, level=level)
    if was.column != card.column:
        kind = {"assigned": "task.assigned", "done": "task.completed"}.get(
            card.column, "task.moved"
        )
        return _make(board, kind, card, f"{was.column} → {card.column}", now, was=was)
    if was.agent != card.agent:
        what = f"reassigned {was.agent or '-'} → {card.agent or '-'}"
        return _make(board, "task.assigned", card, what, now, was=was)
    return None


def _make(
    board: str,
    kind: str,
    card: TaskCard,
    what: str,
    now: datetime,
    *,
    was: TaskCard | None = None,
    level: EventLevel = "info",
) -> AgentEvent:
    title = (card.title or "")[:TITLE_IN_EVENT]
    who = f" ({card.agent})" if card.agent and kind != "task.removed" else ""
    message = f"{card.id} {what}{who}" + (f": {title}" if title else "")
    if card.problem:
        message += f" [{card.problem}]"
    data: dict[str, Any] = {
        "board": board,
        "id": card.id,
        "key": card.key,
        "column": card.column,
        "agent": card.agent,
        "path": card.path,
    }
    if was is not None:
        data["from"] = {"column": was.column, "agent": was.agent, "path": was.path}
    return AgentEvent(
        ts=now, agent=card.agent or board, kind=kind, level=level, message=message, data=data
    )
