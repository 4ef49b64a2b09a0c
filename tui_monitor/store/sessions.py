"""The `sessions` table: real agents' root sessions as the writer upserts them, and what
`tui-monitor sessions` and the recorder's restart read back.

A session's usage rows carry its id in `usage.session` and its name in `usage.agent`
(subagents' usage is stored under its root's), so every total here is a sum over usage joined
on (session, agent): the `usage_session` index. Costs are the ones fixed when the usage was
recorded, never re-priced; one usage record without a price makes the session's cost unknown
(None), never a smaller figure.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from ..models import SessionFamily, SessionMeta, SessionTokens
from . import schema
from .rows import from_ms

_SUMS = (
    "count(u.id), coalesce(sum(u.input_tokens), 0), coalesce(sum(u.output_tokens), 0), "
    "coalesce(sum(u.cache_read_tokens), 0), coalesce(sum(u.cache_write_tokens), 0), "
    "coalesce(sum(u.cache_write_1h_tokens), 0), total(u.cost_usd), "
    "coalesce(sum(u.id IS NOT NULL AND u.cost_usd IS NULL), 0)"
)
# Sessions first (a range of `sessions_last` when bounded), their usage through the
# `usage_session` index: a month of usage is read once, and only session usage.
_SUMMARY = (
    "SELECT s.family, s.session_id, s.agent, s.cwd, s.git_branch, s.version, s.models, "
    f"s.first_ts, s.last_ts, {_SUMS} "
    "FROM sessions s LEFT JOIN usage u ON u.session = s.session_id AND u.agent = s.agent "
    "{where} GROUP BY s.last_ts, s.family, s.session_id ORDER BY s.last_ts, s.family, s.session_id"
)
_KEYS = (
    "SELECT agent, request_id FROM usage "
    "WHERE ts >= ? AND session IS NOT NULL AND request_id IS NOT NULL ORDER BY ts, id"
)


_FAMILIES = frozenset(get_args(SessionFamily))


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One stored session with its usage summed (subagents' included: stored under it)."""

    family: str
    session_id: str
    agent: str
    cwd: str | None
    git_branch: str | None
    version: str | None
    models: tuple[str, ...]
    first_ts: datetime | None
    last_ts: datetime | None
    records: int
    """Usage records summed (one per model response)."""
    tokens: SessionTokens
    cost_usd: float | None
    """USD summed over its usage as priced when recorded; None when any record has no price."""
    unpriced: int
    """Its usage records stored without a cost."""


def row(meta: SessionMeta) -> tuple[object, ...]:
    """The writer's parameters of `statements.SESSION` for one session change."""
    return (
        meta.family,
        meta.session_id,
        meta.agent,
        meta.cwd,
        meta.git_branch,
        meta.version,
        json.dumps(list(dict.fromkeys(meta.models)), ensure_ascii=False),
        None if meta.first_ts is None else math.floor(meta.first_ts * 1000),
        None if meta.last_ts is None else math.floor(meta.last_ts * 1000),
    )


def merge_models(old: str | None, new: str | None) -> str | None:
    """The stored models (JSON list) then the new ones not among them, in order."""
    listed = [*_models(old)]
    listed += [m for m in dict.fromkeys(_models(new)) if m not in listed]
    return json.dumps(listed, ensure_ascii=False)


def _models(text: str | None) -> tuple[str, ...]:
    """A stored JSON list of models; anything else (never written by us) reads as none."""
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(m for m in value if isinstance(m, str))


def register(conn: sqlite3.Connection) -> None:
    """Give the writer's connection the SQL function its session upsert uses."""
    conn.create_function("tm_models", 2, merge_models, deterministic=True)


def _ms(value: int | None) -> datetime | None:
    return None if value is None else from_ms(value)


def _summary(r: Any) -> SessionSummary:
    records, unpriced = r[9], r[16]
    return SessionSummary(
        family=r[0],
        session_id=r[1],
        agent=r[2],
        cwd=r[3],
        git_branch=r[4],
        version=r[5],
        models=_models(r[6]),
        first_ts=_ms(r[7]),
        last_ts=_ms(r[8]),
        records=records,
        tokens=SessionTokens(
            input=r[10], output=r[11], cache_read=r[12], cache_write=r[13], cache_write_1h=r[14]
        ),
        cost_usd=None if unpriced else r[15],
        unpriced=unpriced,
    )


def _meta(r: Any) -> SessionMeta:
    return SessionMeta(
        family=r[0],
        session_id=r[1],
        agent=r[2],
        cwd=r[3],
        git_branch=r[4],
        version=r[5],
        models=_models(r[6]),
        first_ts=None if r[7] is None else r[7] / 1000,
        last_ts=None if r[8] is None else r[8] / 1000,
    )


class SessionQueries:
    """History's reads of sessions (mixed into `queries.History`, which names the file)."""

    path: Path

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = schema.connect_ro(self.path)
        try:
            yield conn
        finally:
            conn.close()

    def session_summaries(
        self, since_ms: int | None = None, families: Collection[str] | None = None
    ) -> list[SessionSummary]:
        """Every stored session whose last line is from `since_ms` (epoch ms) on (None: all),
        of these families (None: all), with its usage summed; oldest last line first."""
        where, params = _where(since_ms, families)
        with self._read() as conn:
            rows = conn.execute(_SUMMARY.format(where=where), params).fetchall()
        return [_summary(r) for r in rows]

    def session_seed(
        self, since_ms: int, keys_since_ms: int
    ) -> tuple[list[tuple[SessionMeta, SessionTokens]], list[tuple[str, str]]]:
        """What the recorder's session book starts from after a restart: the sessions whose
        last line is from `since_ms` on with their stored token totals, and the (agent,
        request_id) keys of session usage stored from `keys_since_ms` on, oldest first (so a
        response read again is not counted twice)."""
        where, params = _where(since_ms, None)
        with self._read() as conn:
            conn.execute("BEGIN")  # one moment for both reads
            rows = conn.execute(_SUMMARY.format(where=where), params).fetchall()
            keys = conn.execute(_KEYS, (keys_since_ms,)).fetchall()
        # a family a later tui-monitor reads is no session this one follows
        seeds = [(_meta(r), _summary(r).tokens) for r in rows if r[0] in _FAMILIES]
        return seeds, [(agent, request_id) for agent, request_id in keys]


def _where(
    since_ms: int | None, families: Collection[str] | None
) -> tuple[str, tuple[object, ...]]:
    terms: list[str] = []
    params: list[object] = []
    if since_ms is not None:
        terms.append("s.last_ts >= ?")
        params.append(since_ms)
    if families is not None:
        names = sorted(set(families))
        terms.append(f"s.family IN ({', '.join('?' * len(names))})" if names else "0")
        params += names
    return (f"WHERE {' AND '.join(terms)}" if terms else ""), tuple(params)
