"""Following files that other programs append to: each complete line once, across restarts.

Generic on purpose: the spool tailer (`ingest/tail.py`) and every agent family's transcript
reader find their files their own way and say which files they accept; the follower opens,
reads and remembers. Files are polled (fstat, pread) rather than watched with inotify: polling
works on every filesystem (NFS, overlayfs and bind mounts, where inotify misses changes),
needs no dependency, and costs a few syscalls per file and poll.

- A partial last line waits for its newline. A line longer than `max_line` is skipped to its
  newline in bounded memory (a 2 GB line is never held), counted and reported once.
- Truncation starts the file again from zero; a file renamed away or deleted is drained
  through the descriptor already held before its successor is read, and its last line without
  a newline is handed out, not lost.
- Offsets survive restarts (`offsets.py`). A refused or unreadable file is reported once per
  path until it changes, and costs only itself.
- With `idle_close`, a file quiet for that long is closed and reopened only when its size
  changes: thousands of finished transcripts cost no descriptors.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .lines import Budget, FollowItem, Line, OpenFile, Problem
from .offsets import HEAD, OffsetFile, Saved, digest, same_file
from .policy import Accept, Reports, regular_file

__all__ = ["Accept", "FollowItem", "Follower", "Line", "Problem", "regular_file"]

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
COUNTERS = (
    "lines", "blank", "too_long", "unterminated", "refused", "errors",
    "truncations", "rotations", "vanished", "state_errors", "deferred",
)  # fmt: skip


def _never(path: str) -> bool:
    return False


class Follower:
    """Hands out the new complete lines of the files it is shown; `poll` from one thread.

    Args:
        state: The JSON file offsets are saved to by `save` (None: kept in memory only).
        accept: The file policy, given each file's stat as the caller made it.
        follow_links: Open through symbolic links (the caller then passes `os.stat` results);
            without it a path that became a link is refused.
        kind: What the files are, for messages ("spool file", "transcript").
        max_line: Longest line handed out, in bytes; longer ones are skipped and reported.
        max_lines: Lines handed out by one poll at most; the rest come next time.
        max_bytes: Bytes read by one poll at most.
        max_open: Files held open at most.
        idle_close: Seconds after which a file read to its end is closed, to be reopened when
            its size changes; when `max_open` files are open, files at their end make room
            (otherwise the rest wait). None: files stay open, and more than `max_open` are
            refused.
        retire_grace: Seconds a renamed or deleted file is still drained after its last data.
    """

    def __init__(
        self,
        state: Path | None,
        *,
        accept: Accept = regular_file,
        follow_links: bool = False,
        kind: str = "file",
        max_line: int = 65536,
        max_lines: int = 10000,
        max_bytes: int = 16 << 20,
        max_open: int = 256,
        idle_close: float | None = None,
        retire_grace: float = 2.0,
    ) -> None:
        if min(max_line, max_lines, max_bytes, max_open) < 1 or retire_grace < 0:
            raise ValueError("Follower limits must be positive")
        if idle_close is not None and idle_close < 0:
            raise ValueError("idle_close must not be negative")
        self._state = OffsetFile(state)
        self._accept = accept
        self._flags = _OPEN_FLAGS | (0 if follow_links else os.O_NOFOLLOW)
        self._follow_links = follow_links
        self._kind = kind
        self._max_line = max_line
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._max_open = max_open
        self._idle = idle_close
        self._grace = retire_grace
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.more = False
        """The last poll stopped at its budget or left files waiting: poll again soon."""
        self.backlog = 0
        """Bytes of the files shown to the last poll not read yet (a progress figure)."""
        self.extra: dict[str, Any] = {}
        """What the caller saved beside the offsets (`save(extra)`), loaded by the first poll."""
        self._active: dict[str, OpenFile] = {}
        self._retired: dict[str, list[OpenFile]] = {}  # renamed away or deleted, drained first
        self._pending: dict[str, Saved] = {}  # offsets of paths not open right now
        self._quiet: dict[str, tuple[int, int, int]] = {}  # closed at (dev, ino, size)
        self._waiting: dict[str, os.stat_result] = {}  # no descriptor free for them yet
        self._reports = Reports(self.counters)
        self._early: list[FollowItem] = []
        self._loaded = False
        self._closed = False
        self._turn = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Follower:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def poll(
        self, files: Mapping[str, os.stat_result], keep: Callable[[str], bool] = _never
    ) -> list[FollowItem]:
        """Read what was appended to `files` since the last poll; blocking file I/O.

        Args:
            files: Every path to follow now, with its stat as the caller found it. A path
                that was followed and is missing here was deleted or renamed away.
            keep: Whether a path missing from `files` was simply not looked at this time (its
                directory could not be read, or the caller checks it less often): its file,
                offset and reports are kept as they are.

        Returns:
            New complete lines in file order, and problems, at most `max_lines` lines.
        """
        with self._lock:
            if self._closed:
                return []
            out: list[FollowItem] = []
            if not self._loaded:
                self._loaded = True
                self._load_state(out)
            out += self._early
            self._early.clear()
            self._reports.prune(lambda p: p in files or keep(p))
            self.more = False
            self._reconcile(files, keep, out)
            self._read_all(out)
            self._measure()
            return out

    def report(
        self, path: str, reason: str, st: os.stat_result | None = None, *, error: bool = False
    ) -> Problem | None:
        """Say a problem of the caller's own (a directory it cannot list) once per path.

        Args:
            path: What it is about.
            reason: One line for a person.
            st: Its stat, when known: a refusal is said again once the file changes.
            error: An I/O error (counted as "errors"), not a refusal ("refused").

        Returns:
            The problem the first time, None while it is still the same; call it every poll
            for as long as the problem lasts, or it is forgotten and said again next time.
        """
        with self._lock:
            return self._reports.say(path, reason, st, error=error, touch=True)

    def save(self, extra: Mapping[str, Any] | None = None) -> None:
        """Persist the offsets of lines handed out so far; a failure is reported by `poll`.

        Args:
            extra: What the caller knows of each file (JSON-able, by path), saved in the same
                atomic write as the offsets, so the two always agree; `extra` after a restart.
        """
        with self._lock:
            if not self._loaded:
                return  # nothing read yet: keep the state file as it is
            files = {p: f.saved() for p, f in self._active.items()}
            for p, s in self._pending.items():
                files.setdefault(p, s)
            reason = self._state.write(files, extra)
            if reason is not None:
                self.counters["errors"] += 1
                self._early.append(Problem(str(self._state.path), reason))

    def close(self) -> None:
        """Close every file; a later `save` still records where each one stopped."""
        with self._lock:
            for path, f in self._active.items():
                self._pending[path] = f.saved()
                f.close()
            for olds in self._retired.values():
                for f in olds:
                    f.close()
            self._active.clear()
            self._retired.clear()
            self._closed = True

    # -- which files are open ------------------------------------------------------------

    def _reconcile(
        self,
        files: Mapping[str, os.stat_result],
        keep: Callable[[str], bool],
        out: list[FollowItem],
    ) -> None:
        now = time.monotonic()
        for path, f in list(self._active.items()):
            st = files.get(path)
            if st is None and keep(path):
                continue  # not looked at this time
            if st is not None and (st.st_dev, st.st_ino) == (f.dev, f.ino):
                reason = self._accept(st)
                if reason is not None:  # chmod/chown while open: stop, keep the offset
                    del self._active[path]
                    self._pending[path] = f.saved()
                    f.close()
                    self._say(out, path, reason, st)
                continue
            del self._active[path]
            self.counters["rotations" if st is not None else "vanished"] += 1
            f.last_data = now
            self._retired.setdefault(path, []).append(f)
        waiting, self._waiting = self._waiting, {}
        for path, st in waiting.items():  # deferred last time and not shown again: retried
            if path not in files and keep(path):
                self._consider(path, st, out, now)
        for path, st in files.items():
            self._consider(path, st, out, now)
        for path in list(self._pending):
            if path not in files and not keep(path):
                del self._pending[path]
                self._quiet.pop(path, None)

    def _consider(self, path: str, st: os.stat_result, out: list[FollowItem], now: float) -> None:
        """Open a file shown (or waiting) unless it is open, quiet, refused or must wait."""
        if path in self._active:
            return
        quiet = self._quiet.get(path)
        if quiet is not None:
            if quiet == (st.st_dev, st.st_ino, st.st_size):
                return  # closed at its end and unchanged since
            del self._quiet[path]
        reason = self._accept(st)
        if reason is not None:
            self._say(out, path, reason, st)
            return
        self._reports.forget(path)
        self._start(path, st, out, now)

    def _start(self, path: str, st: os.stat_result, out: list[FollowItem], now: float) -> None:
        ident = (st.st_dev, st.st_ino)
        if any((f.dev, f.ino) == ident for f in self._active.values()):
            return  # the same file under a second name: read it once
        for olds in self._retired.values():
            for f in olds:
                if (f.dev, f.ino) == ident:  # renamed to another name we follow
                    olds.remove(f)
                    f.path = path
                    self._active[path] = f
                    return
        if len(self._active) >= self._max_open and not self._make_room():
            if self._idle is None:
                self._say(out, path, f"refused: already following {self._max_open} files", st)
            else:
                self.counters["deferred"] += 1
                self._waiting[path] = st
                self.more = True
            return
        try:
            fd = os.open(path, self._flags)
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno == errno.ELOOP and not self._follow_links:  # became a link since lstat
                self._say(out, path, "refused: symbolic link", st)
            else:
                self._say(out, path, f"cannot open: {e.strerror}", error=True)
            return
        try:
            fst = os.fstat(fd)
            reason = self._accept(fst)
            if (fst.st_dev, fst.st_ino) != ident:
                reason = "refused: replaced while being opened"
            f = OpenFile(path, fd, fst.st_dev, fst.st_ino, self._max_line, self.counters)
            f.last_data = now
            saved = self._pending.pop(path, None)
            if reason is None and saved is not None and same_file(fd, fst, saved):
                f.pos, f.skipping, f.line = saved.offset, saved.skip, saved.line
                f.head_len, f.head = saved.head_len, saved.head
        except OSError as e:
            os.close(fd)
            self._say(out, path, f"cannot read: {e.strerror}", error=True)
            return
        if reason is not None:
            os.close(fd)
            self._say(out, path, reason, st)
            return
        self._active[path] = f

    def _make_room(self) -> bool:
        """Close the open file longest at its end (only with `idle_close`)."""
        if self._idle is None:
            return False
        idle = [f for f in self._active.values() if f.at_end]
        if not idle:
            return False
        self._rest(min(idle, key=lambda f: f.last_data))
        return True

    def _rest(self, f: OpenFile) -> None:
        del self._active[f.path]
        self._pending[f.path] = f.saved()
        self._quiet[f.path] = (f.dev, f.ino, f.pos)
        f.close()

    def _say(
        self,
        out: list[FollowItem],
        path: str,
        reason: str,
        st: os.stat_result | None = None,
        *,
        error: bool = False,
    ) -> None:
        problem = self._reports.say(path, reason, st, error=error)
        if problem is not None:
            out.append(problem)

    def _measure(self) -> None:
        """Unread bytes can only be in open files and in files waiting to be opened."""
        behind = sum(max(0, f.size - f.pos) for f in self._active.values())
        for path, st in self._waiting.items():
            saved = self._pending.get(path)
            same = saved is not None and (saved.dev, saved.ino) == (st.st_dev, st.st_ino)
            behind += max(0, st.st_size - (saved.offset if saved and same else 0))
        self.backlog = behind

    # -- reading -------------------------------------------------------------------------

    def _read_all(self, out: list[FollowItem]) -> None:
        budget = Budget(self._max_lines, self._max_bytes)
        paths = sorted(self._active.keys() | self._retired.keys())
        if not paths:
            return
        self._turn = (self._turn + 1) % len(paths)  # no file gets the whole budget every time
        now = time.monotonic()
        for path in paths[self._turn :] + paths[: self._turn]:
            if budget.lines <= 0 or budget.bytes <= 0:
                self.more = True
                return
            olds = self._retired.get(path, [])
            drained = True
            for f in list(olds):
                result = self._guarded_read(f, out, budget)
                if result is None:
                    continue
                done, got = result
                if not done:
                    drained, self.more = False, True
                    break
                if got:
                    f.last_data = now
                elif now - f.last_data >= self._grace:  # the writer has moved on
                    olds.remove(f)
                    f.finish(out)
            if not olds:
                self._retired.pop(path, None)
            active = self._active.get(path)
            if not drained or active is None:
                continue
            result = self._guarded_read(active, out, budget)
            if result is None:
                continue
            active.at_end, got = result
            if got:
                active.last_data = now
            if not active.at_end:
                self.more = True
            elif self._idle is not None and now - active.last_data >= self._idle:
                self._rest(active)

    def _guarded_read(
        self, f: OpenFile, out: list[FollowItem], budget: Budget
    ) -> tuple[bool, bool] | None:
        """`_read`, or None when an I/O error closed the file (reported once)."""
        try:
            result = f.read(out, budget)
            if self._active.get(f.path) is f and f.head_len < min(f.pos, HEAD):
                data = os.pread(f.fd, HEAD, 0)
                f.head_len, f.head = len(data), digest(data)
            return result
        except OSError as e:
            if self._active.get(f.path) is f:
                del self._active[f.path]
                self._pending[f.path] = f.saved()
            else:
                self._retired[f.path].remove(f)
            f.close()
            self._say(out, f.path, f"cannot read: {e.strerror}", error=True)
            return None

    def _load_state(self, out: list[FollowItem]) -> None:
        try:
            self._pending = self._state.read()
            self.extra = self._state.extra
        except ValueError as e:
            self.counters["state_errors"] += 1
            reason = f"state file {e}; reading every {self._kind} from the start"
            out.append(Problem(str(self._state.path), reason))
