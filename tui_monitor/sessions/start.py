"""Starting the session feed in a recorder (kept here: recorder.py is full): the readers over
the backfill window, the book seeded from the history first, so totals survive a restart and
nothing read again counts twice."""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from ..config import Settings
from ..errors import SchemaError, StoreError
from .feed import SessionFeed, backfill_since, state_path
from .reader import readers

log = logging.getLogger(__name__)
T = TypeVar("T")

KEYS_SEEDED = 2 * 86400.0
"""Seconds of session usage keys the book is seeded with at start: what a crash between an
offset save and a commit can make the readers read again (a lost offset file re-reads the
whole window: the history's unique index and the ledger still count it once)."""


async def open_feed(
    settings: Settings,
    db: Path,
    *,
    history: bool,
    read: Callable[[Callable[[], Any]], Awaitable[Any]],
) -> SessionFeed:
    """The feed of this recorder, seeded from `db` (read on the history-read thread through
    `read`) when it keeps history; run it with `feed.run()`."""
    from ..store.queries import History

    cfg = settings.sessions
    since = backfill_since(cfg.backfill_days)
    state = state_path(db) if history else None
    feed = SessionFeed(
        settings,
        lambda: readers(state, since),
        errors_since=time.time() - settings.exited_linger,
    )
    if db.exists():
        seed = functools.partial(
            History(db).session_seed,
            int(since * 1000),
            int((time.time() - KEYS_SEEDED) * 1000),
        )
        try:
            feed.book.seed(*await read(seed))
        except (sqlite3.Error, SchemaError, StoreError) as exc:
            log.error("reading the stored sessions failed (totals start from the files): %s", exc)
    return feed
