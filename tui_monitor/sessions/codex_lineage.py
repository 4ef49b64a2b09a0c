"""Whose line is it: a Codex rollout's own lines, and the history a fork or subagent copies.

A forked thread (`codex fork`, a backtrack, a `spawn_agent` fork) or a spawned subagent gets
a new rollout file that starts with its own `session_meta` and then, in many versions, a copy
of its ancestors' history: their `session_meta` lines and every `token_count` line with the
ancestors' cumulative totals, re-stamped at the fork or with their old times (codex-rs
`agent/control/spawn.rs` keeps event messages and metas when it forks; `Session::
record_initial_history` then seeds the new thread's counter with the last copied total, so
its own totals go on from there). Summing such copies overcounts 5-91x (ccusage #897, #950,
tokscale #679, CodexBar #3524).

A line is the file's own when its `ordinal` reaches the first meta's
`subagent_history_start_ordinal` (or `history_base.end_ordinal_exclusive`), written by codex
0.14x on. Without ordinals, a file whose first meta names a parent, or any file after another
thread's meta, is taken to be copying until a line proves it is its own: a repeat of its own
meta, its own `thread_id`, a v7 `turn_id` minted after its birth, a turn `started_at` after
it, a `token_count` after the birth that came `BURST_GAP` after the line before it, or a line
stamped more than `REPLAY_SLACK` seconds after the birth. The rules lean one way: a
copied line taken for the thread's own would count an ancestor's usage again, while a
thread's own line taken for a copy only delays what it shows (its totals still raise the
counter's mark, so the next step is measured right).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from .fields import epoch, text, uuid7_seconds

REPLAY_SLACK = 10.0
"""Seconds after a fork's birth within which a line may still be copied history."""
BURST_GAP = 1.0
"""A copy is written in one burst as the thread starts (its lines re-stamped within
milliseconds, or keeping times before the birth); a `token_count` line this long after the
line before it, and after the birth, is a response the thread waited for: its own."""
MARK_FIELDS = 5

_ROLLOUT = re.compile(
    r"rollout-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-"
    r"([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})(?:_[^/]*)?\.jsonl"
)


def is_rollout(name: str) -> bool:
    """Whether a file name is a rollout's: `rollout-<time>-<thread id>[_<n>].jsonl`."""
    return _ROLLOUT.fullmatch(name) is not None


def file_id(path: str) -> str | None:
    """The thread id in a rollout's file name: its own, whatever its lines copy."""
    match = _ROLLOUT.fullmatch(os.path.basename(path))
    return match[1].lower() if match else None


@dataclass
class RolloutState:
    """What one file has said so far; small and JSON-able, to be kept beside its offset."""

    own: str | None = None
    """The file's own thread: its first `session_meta`, or the id in its name."""
    meta_seen: bool = False
    parent: str | None = None
    birth: float | None = None
    start_ordinal: int | None = None
    inherited: bool = False
    """The lines are copied history, until a line proves otherwise."""
    model: str | None = None
    cwd: str | None = None
    branch: str | None = None
    version: str | None = None
    last_ts: float | None = None
    mark: tuple[int, ...] | None = None
    """The token counter's high-water mark (`codex_usage.Tokens` fields)."""
    number: int = 0
    """The last line number read."""
    logged: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, path: str, data: Any) -> RolloutState:
        """A state `to_json` wrote; unknown or mistyped values are left at their defaults."""
        st = cls(own=file_id(path))
        if not isinstance(data, dict):
            return st
        for field in fields(cls):
            value = data.get(field.name)
            if field.name == "mark":
                if isinstance(value, list | tuple) and len(value) == MARK_FIELDS:
                    st.mark = tuple(value) if all(is_int(v) for v in value) else None
            elif value is not None and _fits(field.name, value):
                setattr(st, field.name, value)
        return st


def begin(
    st: RolloutState, payload: dict[str, Any], ts: float | None, ordinal: int | None
) -> str | None:
    """Take in a `session_meta` line: "own" for the file's own first one, "parent" when
    another thread's shows which thread this one was forked from (versions before
    `forked_from_id` said it only so), else None."""
    sid = text(payload.get("id")) or text(payload.get("session_id"))
    if sid is None:
        return None
    if st.meta_seen or (st.own is not None and sid != st.own):
        # A repeat of the file's own meta ends copying; another thread's starts it.
        if st.start_ordinal is None or ordinal is None:
            st.inherited = sid != st.own
        if not st.meta_seen:  # the first meta is another thread's: the own one was lost
            st.meta_seen, st.birth = True, uuid7_seconds(st.own)
        if sid != st.own and st.parent is None:
            st.parent = sid  # a copy starts with the parent's own meta
            return "parent"
        return None
    st.meta_seen, st.own = True, sid
    st.parent = parent_of(payload, sid)
    # the latest of its id's time, its stated start and the line's own time: a rollout
    # written out late (codex materialises files lazily) has its copy stamped after its id
    times = (uuid7_seconds(sid), epoch(payload.get("timestamp")), ts)
    st.birth = max((t for t in times if t is not None), default=None)
    start = payload.get("subagent_history_start_ordinal")
    history = payload.get("history_base")
    if not is_int(start) and isinstance(history, dict):
        start = history.get("end_ordinal_exclusive")
    st.start_ordinal = start if is_int(start) else None
    st.inherited = st.parent is not None
    return "own"


def inherited(
    st: RolloutState,
    ts: float | None,
    ordinal: int | None,
    payload: dict[str, Any],
    gap: float | None = None,
) -> bool:
    """Whether a line is copied history; takes the file out of copying at the first line
    that proves to be its own. `gap`: for a `token_count` line, the seconds since the line
    before it."""
    if st.start_ordinal is not None and ordinal is not None:
        return ordinal < st.start_ordinal
    thread = text(payload.get("thread_id"))
    if thread is not None and st.own is not None and thread != st.own:
        return True
    if not st.inherited:
        return False
    if (thread is not None and thread == st.own) or _after_birth(st, ts, payload, gap):
        st.inherited = False
        return False
    return True


def parent_of(payload: dict[str, Any], sid: str) -> str | None:
    """The thread a fork or subagent came from: `parent_thread_id` (0.14x), the spawn source
    `{"subagent": {"thread_spawn": {"parent_thread_id"}}}`, or `forked_from_id`. A review or
    compact subagent (`{"subagent": "review"}`) and a plain `"cli"` source name none."""
    source = payload.get("source")
    spawn: Any = None
    if isinstance(source, dict) and isinstance(source.get("subagent"), dict):
        spawn = source["subagent"].get("thread_spawn")
    candidates = (
        payload.get("parent_thread_id"),
        spawn.get("parent_thread_id") if isinstance(spawn, dict) else None,
        payload.get("forked_from_id"),
    )
    for candidate in candidates:
        found = text(candidate)
        if found is not None and found != sid:
            return found
    return None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _after_birth(
    st: RolloutState, ts: float | None, payload: dict[str, Any], gap: float | None
) -> bool:
    """Whether a line shows a turn the thread ran itself: a v7 turn id minted after its
    birth, a turn started after it, a response awaited after it, or a line written well
    after it."""
    if st.birth is None:
        return False
    turn = uuid7_seconds(payload.get("turn_id"))
    if turn is not None and turn >= st.birth:
        return True
    started = epoch(payload.get("started_at"))
    if started is not None and started > st.birth:
        return True
    if ts is None or ts <= st.birth:
        return False
    return (gap is not None and gap >= BURST_GAP) or ts > st.birth + REPLAY_SLACK


def _fits(name: str, value: Any) -> bool:
    """Whether an imported value has the type its field holds."""
    if name in ("own", "parent", "model", "cwd", "branch", "version"):
        return isinstance(value, str)
    if name in ("birth", "last_ts"):
        return is_int(value) or isinstance(value, float)
    if name in ("meta_seen", "inherited"):
        return isinstance(value, bool)
    return is_int(value)
