"""Finding an agent's files under its directories: a bounded walk, cheap when nothing changed.

Agents keep thousands of finished transcripts and append to a few. A full walk (list every
directory, stat every file) runs every `rescan` seconds; in between only the directories are
stat'ed (a new file changes its directory's mtime, which is then listed again) and only the
files written within the last `hot` seconds; the others keep their last stat, so a poll of a
quiet tree costs a few syscalls per directory, not per file.

Directories are followed through symbolic links (a user's `~/.claude` is often one), each real
directory once: a link back up the tree is reported as a loop, once, never walked for ever.
An unreadable directory is reported once and what was known under it is kept.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .lines import Problem

Say = Callable[[str, str, "os.stat_result | None", bool], "Problem | None"]
"""Reports a problem once (`Follower.report`): path, reason, stat, whether an I/O error."""


@dataclass
class Found:
    """What one scan saw: the files to follow and the paths it could not look at."""

    files: dict[str, os.stat_result]
    unlooked: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    """Files new or different (inode, size, mtime) since the last scan."""
    problems: list[Problem] = field(default_factory=list)

    def keep(self, path: str) -> bool:
        """For `Follower.poll`: whether a path missing from `files` was simply not seen."""
        return any(path == u or path.startswith(u + os.sep) for u in self.unlooked)

    def unchanged(self, path: str) -> bool:
        """For `Follower.poll` given only `changed`: a file still there, as it was, or not seen."""
        return (path in self.files and path not in self.changed) or self.keep(path)


class Scanner:
    """Walks `roots` for files whose name `wanted` accepts, at most `depth` levels down.

    Args:
        roots: Directories to walk; a missing one is skipped until it appears.
        wanted: Whether a file name is one to follow (e.g. ends with ".jsonl").
        depth: How many directory levels below a root are walked (1: the root's own files).
        rescan: Seconds between full walks.
        hot: Files modified within this many seconds are stat'ed on every scan.
    """

    def __init__(
        self,
        roots: Sequence[Path],
        wanted: Callable[[str], bool],
        *,
        depth: int,
        rescan: float = 10.0,
        hot: float = 3600.0,
    ) -> None:
        self._roots = [os.path.abspath(os.path.expanduser(r)) for r in roots]
        self._wanted = wanted
        self._depth = depth
        self._rescan = rescan
        self._hot = hot
        self._next_full = 0.0
        self._dirs: dict[str, tuple[int, int, int, int]] = {}  # path -> (dev, ino, mtime, level)
        self._files: dict[str, os.stat_result] = {}
        self._before: dict[str, os.stat_result] = {}  # as the last scan saw them
        self._changed: set[str] = set()
        self._by_dir: dict[str, list[str]] = {}

    def scan(self, say: Say) -> Found:
        """The files to follow now, with their stat (through links); problems said once."""
        found = Found({})
        now = time.monotonic()
        self._changed = found.changed
        if now >= self._next_full:
            self._next_full = now + self._rescan
            self._before = self._files
            self._dirs, self._files, self._by_dir = {}, {}, {}
            seen: set[tuple[int, int]] = set()
            for root in self._roots:
                self._walk(root, 0, seen, found, say)
        else:
            self._refresh(found, say)
        found.files = dict(self._files)
        self._before = self._files
        return found

    def _walk(
        self,
        path: str,
        level: int,
        seen: set[tuple[int, int]],
        found: Found,
        say: Say,
    ) -> None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return  # a root not there yet, a dangling link
        except OSError as e:
            self._problem(found, say, path, f"cannot open directory: {e.strerror}", None, True)
            return
        if not stat.S_ISDIR(st.st_mode):
            return
        ident = (st.st_dev, st.st_ino)
        if ident in seen:
            reason = "refused: symbolic link loop (a directory already read)"
            self._problem(found, say, path, reason, os.lstat(path), False)
            return
        seen.add(ident)
        self._dirs[path] = (st.st_dev, st.st_ino, st.st_mtime_ns, level)
        self._list(path, level, seen, found, say)

    def _list(
        self, path: str, level: int, seen: set[tuple[int, int]], found: Found, say: Say
    ) -> bool:
        try:
            with os.scandir(path) as it:
                entries = sorted((e.name, _is_dir(e)) for e in it if e.name[0] != ".")
        except OSError as e:
            self._problem(found, say, path, f"cannot list directory: {e.strerror}", None, True)
            return False
        names: list[str] = []
        for name, is_dir in entries:
            child = os.path.join(path, name)
            if is_dir:  # through a link too
                if level + 1 < self._depth and child not in self._dirs:
                    self._walk(child, level + 1, seen, found, say)
                continue
            if not self._wanted(name):
                continue
            st = self._stat(child, found, say)
            if st is not None and not stat.S_ISDIR(st.st_mode):
                self._put(child, st)  # a FIFO or device too: the follower refuses it once
                names.append(child)
        self._by_dir[path] = names
        return True

    def _stat(self, path: str, found: Found, say: Say) -> os.stat_result | None:
        try:
            return os.stat(path)
        except FileNotFoundError:
            return None  # deleted since listed, or a dangling link
        except OSError as e:
            self._problem(found, say, path, f"cannot stat: {e.strerror}", None, True)
            return None

    def _refresh(self, found: Found, say: Say) -> None:
        """Between full walks: list changed directories, stat recently written files."""
        wall = time.time()
        changed: list[tuple[str, int]] = []
        for path, (dev, ino, mtime, level) in list(self._dirs.items()):
            try:
                st = os.stat(path)
            except OSError:
                self._next_full = 0.0  # a directory went away: walk again next time
                continue
            if (st.st_dev, st.st_ino) != (dev, ino):
                self._next_full = 0.0
            elif st.st_mtime_ns != mtime:
                self._dirs[path] = (dev, ino, st.st_mtime_ns, level)
                changed.append((path, level))
        seen = {(d[0], d[1]) for d in self._dirs.values()}
        for path, level in changed:
            before = self._by_dir.get(path, [])
            if not self._list(path, level, seen, found, say):
                dev, ino, _, level = self._dirs[path]
                self._dirs[path] = (dev, ino, -1, level)  # list it again next time
                continue
            for old in set(before) - set(self._by_dir[path]):
                self._files.pop(old, None)
        fresh = {p for path, _ in changed for p in self._by_dir.get(path, [])}
        for name, known in list(self._files.items()):
            if name in fresh or wall - known.st_mtime > self._hot:
                continue
            now = self._stat(name, found, say)
            if now is None and name not in found.unlooked:
                self._files.pop(name)
            elif now is None:
                continue  # unreadable for now: known as it was
            else:
                self._put(name, now)

    def _put(self, path: str, st: os.stat_result) -> None:
        old = self._before.get(path)
        if old is None or _sig(old) != _sig(st):
            self._changed.add(path)
        self._files[path] = st

    def _problem(
        self,
        found: Found,
        say: Say,
        path: str,
        reason: str,
        st: os.stat_result | None,
        error: bool,
    ) -> None:
        found.unlooked.add(path)
        problem = say(path, reason, st, error)
        if problem is not None:
            found.problems.append(problem)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Through a link too; a link looping on itself is not one (its stat is reported)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _sig(st: os.stat_result) -> tuple[int, ...]:
    """What makes a file worth showing the follower again (a chmod too: a refusal may end)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid)
