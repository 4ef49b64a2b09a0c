"""Claude Code's transcripts, followed: where they are, and the reader the recorder polls.

Where: `<config>/projects/<slug>/<session>.jsonl`, where `<config>` is every entry of
`CLAUDE_CONFIG_DIR` (a comma-separated list), else both `~/.config/claude` and `~/.claude`;
subagents in `<session>/subagents/agent-<id>.jsonl` (2.x) or `agent-<id>.jsonl` beside the
session (older). The files are found by `scan.py`, read by `follow.py` (offsets kept, partial
lines waiting, huge lines skipped, deleted files drained) and their lines turned into records
by `claude_lines.py`, where the format's traps are handled and listed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from .claude_lines import ClaudeLines
from .follow import Follower, Line, Problem
from .records import SessionRecord
from .scan import Scanner

log = logging.getLogger(__name__)


def claude_dirs(env: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    """The `projects` directories Claude Code writes transcripts to, each real one once.

    Args:
        env: The environment (default `os.environ`); `CLAUDE_CONFIG_DIR` is read from it.
        home: The home directory (default `Path.home()`).

    Returns:
        `<dir>/projects` for each `CLAUDE_CONFIG_DIR` entry when it is set, else for
        `~/.config/claude` and `~/.claude`; existing or not (they may appear later).
    """
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    listed = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    bases = [Path(p).expanduser() for p in listed] or [
        home / ".config" / "claude",
        home / ".claude",
    ]
    out: list[Path] = []
    seen: set[str] = set()
    for base in bases:
        real = os.path.realpath(base / "projects")
        if real not in seen:
            seen.add(real)
            out.append(base / "projects")
    return out


class ClaudeReader:
    """Follows every Claude Code transcript; `poll` from one thread (blocking file I/O).

    Args:
        dirs: The `projects` directories (default: `claude_dirs()`).
        state: Where read offsets are saved by `save` (None: memory only, so a new reader
            reads everything again; the consumer's keys make that harmless).
        since: Epoch seconds: older lines give no usage, activity or error records, and files
            not written since are not read until they change (a backfill window).
        max_line: Longest line parsed, in bytes; longer ones (huge tool output) are skipped,
            counted and logged once.
        max_bytes: Bytes read by one poll at most (a poll stays short; `more` says call again).
        idle_close: Seconds a finished transcript stays open.
    """

    def __init__(
        self,
        dirs: Sequence[Path] | None = None,
        state: Path | None = None,
        *,
        since: float | None = None,
        max_line: int = 16 << 20,
        max_bytes: int = 4 << 20,
        max_lines: int = 20_000,
        max_open: int = 64,
        idle_close: float = 60.0,
        rescan: float = 10.0,
    ) -> None:
        self._since = since
        self._scanner = Scanner(
            claude_dirs() if dirs is None else dirs,
            lambda name: name.endswith(".jsonl"),
            depth=4,
            rescan=rescan,
        )
        self._follower = Follower(
            state,
            follow_links=True,
            kind="transcript",
            max_line=max_line,
            max_lines=max_lines,
            max_bytes=max_bytes,
            max_open=max_open,
            idle_close=idle_close,
        )
        self.counters = self._follower.counters
        """The follower's counters (lines, too_long, vanished, ...) and the parser's
        (bad_lines, skipped_types, usage, errors_seen)."""
        self.last_problem: str | None = None
        """The latest problem, one line naming file (and line): for a status line."""
        self._lines = ClaudeLines(self.counters, self._log, since)

    @property
    def more(self) -> bool:
        """The last poll stopped at its budget: poll again soon (a backfill is under way)."""
        return self._follower.more

    @property
    def backlog(self) -> int:
        """Bytes of transcripts not read yet, as of the last poll (backfill progress)."""
        return self._follower.backlog

    def __enter__(self) -> ClaudeReader:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def poll(self) -> list[SessionRecord]:
        """Records from what was written since the last poll, in file order.

        Returns:
            SessionInfo, SessionUsage, SessionActivity and SessionError records. Usage with a
            key already returned may come again with larger figures: replace by key (see
            `records.supersedes`), never add.
        """
        found = self._scanner.scan(self._say)
        since = self._since
        files = {  # only what changed: a quiet tree costs the follower nothing
            p: found.files[p]
            for p in found.changed
            if since is None or found.files[p].st_mtime >= since
        }
        problems = list(found.problems)
        out: list[SessionRecord] = []
        for item in self._follower.poll(files, found.unchanged):
            if isinstance(item, Line):
                self._lines.line(item, out)
            else:
                problems.append(item)
        for p in problems:
            where = p.path if p.line is None else f"{p.path}:{p.line}"
            self._log(f"{where}: {p.reason}")
        for path in self._lines.known():
            if path not in found.files and not found.keep(path):
                self._lines.forget(path)
        return out

    def save(self) -> None:
        """Persist the read offsets (after the records are safely handed on)."""
        self._follower.save()

    def close(self) -> None:
        self._follower.close()

    def _say(
        self, path: str, reason: str, st: os.stat_result | None, error: bool
    ) -> Problem | None:
        return self._follower.report(path, reason, st, error=error)

    def _log(self, text: str) -> None:
        self.last_problem = text
        log.warning("claude transcripts: %s", text)
