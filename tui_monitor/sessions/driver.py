"""A family's line parser driven from disk: the scanner finds files, the follower reads them,
the parser turns lines into records, and what the parser knows of each file is saved with its
offset.

Codex counts usage as increases of a cumulative total and tells a fork's own lines from the
history it copies; Gemini CLI names a recording's session only on its first line. So a parser
reading on from a saved offset needs what it knew when the offset was saved: `save` writes
both in one atomic write (`Follower.save(extra=...)`), and after a restart the parser's state
is imported before the file's first new line. A file read from its start again (replaced,
truncated, or its offset lost) starts without it, as the parsers expect.

The backfill window (`since`) is ClaudeReader's rule: files not modified since are not read
until they change; lines of the files read are all fed (a cumulative total's baseline, a
session id), and only the records older than `since` are dropped (`SessionInfo` is kept: the
latest wins). Step records (activity, errors, rate limits) a previous run already handed out
are not handed out again when a file is re-read after a restart or a rename (a whole
document, a message written again, a rollout moved to the archive while closed): each file's
latest such time, and which steps were at it, is saved too. Usage needs no such care: its keys
make a second copy replace the first.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from .follow import Follower, Line, Problem
from .records import RateLimit, SessionActivity, SessionError, SessionInfo, SessionRecord
from .scan import Found, Scanner

GONE_GRACE = 30.0
"""Seconds a vanished file's parser state is kept: the follower may still drain it, and a
file renamed while it was read goes on under its new name."""
_STEPS = (SessionActivity, SessionError, RateLimit)


class LineParser(Protocol):
    """What `codex.CodexReader` and `gemini.GeminiReader` offer a driver."""

    counters: dict[str, int]

    def feed(self, path: str, number: int, data: bytes) -> list[SessionRecord]: ...
    def forget(self, path: str) -> None: ...
    def export_state(self, path: str) -> dict[str, Any] | None: ...
    def import_state(self, path: str, state: Any) -> None: ...


@dataclass
class Track:
    """What the driver keeps of one file, saved beside its offset."""

    number: int = 0
    """The last line number fed (0: none since this run began)."""
    mark: float | None = None
    """The latest time of a step record handed out from this file."""
    marked: set[str] = field(default_factory=set)
    """What the step records handed out at `mark` were (`_step`)."""
    floor: float | None = None
    """`mark` as a previous run saved it: step records before it, and those at it that
    `floored` names, were handed out then."""
    floored: frozenset[str] = frozenset()
    doc: tuple[int, ...] | None = None
    """A whole document's (dev, ino, size, mtime_ns) when it was last read."""
    gone: float | None = None
    """When the scanner stopped seeing the file (monotonic)."""
    ident: tuple[int, int] | None = None
    """The file's (st_dev, st_ino), to know it again under another name."""

    def keep(self, record: SessionRecord, since: float | None) -> bool:
        """Whether a record of this file is handed out (see the module's rules)."""
        if isinstance(record, SessionInfo):
            return True
        ts = record.ts
        if since is not None and ts < since:
            return False
        if isinstance(record, _STEPS):
            step = _step(record)
            floor = self.floor
            if floor is not None and (ts < floor or (ts == floor and step in self.floored)):
                return False
            if self.mark is None or ts > self.mark:
                self.mark, self.marked = ts, {step}
            elif ts == self.mark:
                self.marked.add(step)
        return True

    def lower(self) -> None:
        """What was handed out so far is not handed out again (the file is read anew)."""
        self.floor, self.floored = self.mark, frozenset(self.marked)


def _step(record: SessionActivity | SessionError | RateLimit) -> str:
    """What tells two step records of the same time apart."""
    if isinstance(record, SessionActivity):
        return f"{record.kind}:{record.tool or ''}"
    if isinstance(record, SessionError):
        return f"error:{record.error_type}"
    return f"limit:{record.window_minutes}"


class FileDriver:
    """Reads a family's files with a line parser; `poll` from one thread (blocking file I/O).

    Args:
        parser: The family's line parser (one for all files: threads span files).
        label: What the files are, for log lines ("codex rollouts").
        dirs: The roots to walk.
        wanted: Whether a file name is one of the family's.
        depth: Directory levels walked below a root (see `Scanner`).
        state: Where offsets and parser state are saved by `save` (None: memory only).
        since: The backfill window's start, epoch seconds (see the module).
        max_line, max_bytes, max_lines, max_open, idle_close, rescan: As for `ClaudeReader`.
    """

    def __init__(
        self,
        parser: LineParser,
        label: str,
        dirs: Sequence[Path],
        wanted: Callable[[str], bool],
        *,
        depth: int,
        state: Path | None,
        since: float | None,
        max_line: int,
        max_bytes: int,
        max_lines: int,
        max_open: int,
        idle_close: float,
        rescan: float,
    ) -> None:
        self._parser = parser
        self._label = label
        self._log = logging.getLogger(type(self).__module__)
        self._since = since
        self._scanner = Scanner(dirs, wanted, depth=depth, rescan=rescan)
        self._follower = Follower(
            state,
            follow_links=True,
            kind=label,
            max_line=max_line,
            max_lines=max_lines,
            max_bytes=max_bytes,
            max_open=max_open,
            idle_close=idle_close,
        )
        self._max_bytes = max_bytes
        self._tracks: dict[str, Track] = {}
        self._saved: dict[str, Any] | None = None  # the last run's tracks, taken on first sight
        self._vanished: dict[tuple[int, int], str] | None = None  # this poll's, by identity
        self._own: dict[str, int] = {"files": 0, "resumed": 0, "moved": 0, "reader_errors": 0}
        self.last_problem: str | None = None
        """The latest problem, one line naming file (and line): for a status line."""

    # -- the reader's surface (reader.SessionReader) ---------------------------------------------

    @property
    def more(self) -> bool:
        """The last poll stopped at its budget: poll again soon (a backfill is under way)."""
        return self._follower.more

    @property
    def backlog(self) -> int:
        """Bytes not read yet, as of the last poll (backfill progress)."""
        return self._follower.backlog

    @property
    def counters(self) -> dict[str, int]:
        """The follower's counters (lines, too_long, vanished, ...), the parser's (bad_json,
        duplicates, ...; its "errors" as "reader_errors") and the driver's ("files": the
        family's files the last scan found; "resumed": files
        whose parser state was carried over a restart; "moved": files renamed, their state
        carried to the new name)."""
        out = dict(self._follower.counters)
        for name, value in self._parser.counters.items():
            if name in ("too_long", "blank"):  # the parser's own limits: the same meaning
                out[name] += value
            elif name == "errors":
                out["reader_errors"] = value
            elif name != "lines":  # every line the follower hands out is fed
                out[name] = value
        out.update((k, v) for k, v in self._own.items() if k != "reader_errors")
        out.setdefault("reader_errors", 0)
        out["bad_lines"] = out.get("bad_json", 0) + out.get("not_object", 0)
        return out

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def poll(self) -> list[SessionRecord]:
        """Records from what was written since the last poll, in file order.

        Returns:
            SessionInfo, SessionUsage, SessionActivity, SessionError and RateLimit records.
            Usage keys make a re-read harmless: keep one record per key (`records.supersedes`).
        """
        found = self._scanner.scan(self._say)
        self._own["files"] = sum(1 for p in found.files if self.mine(p))
        files = {  # only what changed: a quiet tree costs the follower nothing
            p: found.files[p]
            for p in found.changed
            if self.followed(p) and self.recent(found.files[p])
        }
        problems = list(found.problems)
        out: list[SessionRecord] = []
        self._vanished = None
        items = self._follower.poll(files, found.unchanged)
        if self._saved is None:  # the follower loads the state file in its first poll
            self._saved = dict(self._follower.extra)
        for item in items:
            if isinstance(item, Line):
                self._line(item, found, out)
            else:
                problems.append(item)
        self.others(found, out, problems)
        for p in problems:
            where = p.path if p.line is None else f"{p.path}:{p.line}"
            self.problem(f"{where}: {p.reason}")
        self._sweep(found)
        return out

    def save(self) -> None:
        """Persist offsets and parser state together (after the records are handed on)."""
        extra: dict[str, Any] = dict(self._saved or {})  # files not read again this run
        for path, track in self._tracks.items():
            if track.gone is not None:
                continue  # deleted or renamed away: its offset is not saved either
            extra[path] = {
                "line": track.number,
                "mark": track.mark,
                "marked": sorted(track.marked),
                "doc": track.doc,
                "reader": self._parser.export_state(path),
            }
        self._follower.save(extra)

    def close(self) -> None:
        self._follower.close()

    # -- for the family's driver ----------------------------------------------------------------

    def mine(self, path: str) -> bool:
        """Whether a found file is one of the family's (its name alone may not say)."""
        return True

    def followed(self, path: str) -> bool:
        """Whether a found file is read line by line (a family may read some files whole)."""
        return self.mine(path)

    def recent(self, st: os.stat_result) -> bool:
        """Whether a file was written within the backfill window (else it waits to change)."""
        return self._since is None or st.st_mtime >= self._since

    def others(self, found: Found, out: list[SessionRecord], problems: list[Problem]) -> None:
        """Files the follower does not read (whole documents): the family's own."""

    def track(self, path: str, found: Found) -> Track:
        """The file's track: this run's, a file's renamed here, or the last run's."""
        track = self._tracks.get(path)
        st = found.files.get(path)
        if track is None and st is not None:
            if self._vanished is None:  # once a poll, and only when a new file is read
                self._vanished = {
                    t.ident: p
                    for p, t in self._tracks.items()
                    if t.ident is not None and p not in found.files and not found.keep(p)
                }
            old = self._vanished.pop((st.st_dev, st.st_ino), None)
            track = None if old is None else self._move(old, path)
        if track is None:
            track = self._tracks[path] = Track()
            saved = (self._saved or {}).pop(path, None)
            if isinstance(saved, dict):
                mark, marked = saved.get("mark"), saved.get("marked")
                if isinstance(mark, int | float) and mark == mark:
                    track.mark = float(mark)
                    if isinstance(marked, list):
                        track.marked = {m for m in marked if isinstance(m, str)}
                    track.lower()
                doc = saved.get("doc")
                if isinstance(doc, list) and all(type(n) is int for n in doc):
                    track.doc = tuple(doc)
        track.gone = None
        if st is not None:
            track.ident = (st.st_dev, st.st_ino)
        return track

    def _move(self, old: str, path: str) -> Track:
        """A file renamed (`codex archive` moves rollouts): its track and parser state go
        with it. Read on through the descriptor, it goes on where it was; read again from
        its start, the parser starts again and the steps handed out before are not again."""
        track = self._tracks.pop(old)
        state = self._parser.export_state(old)
        self._parser.forget(old)
        if state is not None:
            self._parser.import_state(path, state)
        track.lower()
        self._tracks[path] = track
        self._own["moved"] += 1
        return track

    def hand_out(
        self, track: Track, records: list[SessionRecord], out: list[SessionRecord]
    ) -> None:
        since = self._since
        out.extend(r for r in records if track.keep(r, since))

    def problem(self, text: str) -> None:
        self.last_problem = text
        self._log.warning("%s: %s", self._label, text)

    def report(
        self, path: str, reason: str, st: os.stat_result | None, *, error: bool
    ) -> Problem | None:
        """Say a problem of a file the follower does not read, once (`Follower.report`)."""
        return self._follower.report(path, reason, st, error=error)

    # -- lines ------------------------------------------------------------------------------------

    def _line(self, item: Line, found: Found, out: list[SessionRecord]) -> None:
        path, number = item.path, item.number
        fresh = path not in self._tracks
        saved = (self._saved or {}).get(path) if fresh else None
        track = self.track(path, found)
        if fresh and isinstance(saved, dict):
            line, state = saved.get("line"), saved.get("reader")
            if type(line) is int and 0 < line < number and state is not None:
                # read on from the saved offset: the parser goes on where it stopped
                self._parser.import_state(path, state)
                self._own["resumed"] += 1
        track.number = number
        self.hand_out(track, self._parser.feed(path, number, item.data), out)

    def _sweep(self, found: Found) -> None:
        """Forget files gone for a while (their records stay counted); keep the saved state
        of files still there but not read this run."""
        now = time.monotonic()
        renamed: dict[tuple[int, int], str] | None = None
        for path, track in list(self._tracks.items()):
            if path in found.files or found.keep(path):
                track.gone = None
            elif track.gone is None:
                if renamed is None:  # only when a file vanished: new names by identity
                    renamed = {
                        (st.st_dev, st.st_ino): p
                        for p, st in found.files.items()
                        if p not in self._tracks
                    }
                new = renamed.get(track.ident) if track.ident else None
                if new is not None:
                    self._move(path, new)
                else:
                    track.gone = now
            elif now - track.gone >= GONE_GRACE:
                del self._tracks[path]
                self._parser.forget(path)
        if self._saved:
            for path in [p for p in self._saved if p not in found.files and not found.keep(p)]:
                del self._saved[path]

    def _say(
        self, path: str, reason: str, st: os.stat_result | None, error: bool
    ) -> Problem | None:
        return self._follower.report(path, reason, st, error=error)
