"""Rows stored once and shared by every tick that has them: reported states (`reports`) and
process trees (`procsets`). A tick's agent sample points at them by id, so a state that
holds for hours costs one row, not one per tick."""

from __future__ import annotations

import sqlite3

from . import statements as sql

ReportKey = tuple[str | None, str | None, str | None]
TreeKey = tuple[tuple[int, ...], tuple[int, ...]]
REPORTS_CACHED = 10_000
PROCSETS_CACHED = 10_000
TREE_AHEAD_MS = 60_000
"""A tree's `last_ts` is written this far ahead of its tick: one update a minute, not a tick."""


class SharedRows:
    """The writer's caches of those ids, on the writer's connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.reports: dict[ReportKey, int] = {}
        """Reported states already in `reports`; emptied whenever retention runs."""
        self.procsets: dict[TreeKey, int] = {}
        """Process trees already in `procsets`; emptied whenever retention runs."""
        self.tree_until: dict[int, int] = {}
        """procsets id -> the `last_ts` written for it (epoch ms, ahead of its ticks)."""

    def clear(self) -> None:
        """Forget every id: retention may have dropped rows nobody used for long."""
        self.reports.clear()
        self.procsets.clear()
        self.tree_until.clear()

    def forget_uncommitted(self, reports: dict[ReportKey, int]) -> None:
        """After a rolled-back batch: the report ids known before it, no tree ids."""
        self.reports = reports
        self.procsets.clear()
        self.tree_until.clear()

    def report_id(self, key: ReportKey, ms: int) -> int:
        row = self.conn.execute(sql.FIND_REPORT, tuple(v or "" for v in key)).fetchone()
        if row is None:
            row = self.conn.execute(sql.NEW_REPORT, (*key, ms)).fetchone()
        if len(self.reports) >= REPORTS_CACHED:
            self.reports.clear()
        self.reports[key] = int(row[0])
        return int(row[0])

    def procset_id(self, key: TreeKey, ms: int) -> int:
        """The id of one process tree (pids and their parents), stored once, shared by every
        sample that has it: a tree changes far less often than a tick comes."""
        pids, parents = key
        if len(parents) == len(pids):
            tree = " ".join(f"{p}:{q}" for p, q in zip(pids, parents, strict=True))
        else:
            tree = " ".join(map(str, pids))
        row = self.conn.execute(sql.FIND_PROCSET, (tree,)).fetchone()
        if row is None:
            row = self.conn.execute(sql.NEW_PROCSET, (tree, ms + TREE_AHEAD_MS)).fetchone()
            self.tree_until[int(row[0])] = ms + TREE_AHEAD_MS
        if len(self.procsets) >= PROCSETS_CACHED:
            self.procsets.clear()
        self.procsets[key] = int(row[0])
        return int(row[0])
