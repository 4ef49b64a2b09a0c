"""Which files a follower reads, and how a refusal or an error is said: once per path.

The policy is the caller's: the spool tailer reads only files we own (they are a way into the
recorder), a transcript reader any regular file (it only observes the user's own files).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from .lines import Problem

Accept = Callable[[os.stat_result], str | None]
"""A file policy: the reason a file is refused (one line for a person), or None to read it."""

_KINDS = {"p": "a FIFO", "c": "a character device", "b": "a block device", "s": "a socket"}


def regular_file(st: os.stat_result) -> str | None:
    """The policy for files only observed: any regular file (a FIFO would block a read)."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "refused: symbolic link"
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.filemode(mode)[0], "a directory or special file")
        return f"refused: {kind}, not a regular file"
    return None


class Reports:
    """Problems said once per path: a refusal until the file changes (inode, mode, owner), an
    I/O error for as long as it lasts (retried every poll, said once)."""

    def __init__(self, counters: dict[str, int]) -> None:
        self._counters = counters
        self._said: dict[str, tuple[object, ...]] = {}
        self._touched: set[str] = set()

    def say(
        self,
        path: str,
        reason: str,
        st: os.stat_result | None = None,
        *,
        error: bool = False,
        touch: bool = False,
    ) -> Problem | None:
        """The problem the first time, None while it is the same (`touch`: the caller repeats
        it every poll while it lasts, so it is kept until the next `prune`)."""
        if touch:
            self._touched.add(path)
        sig: tuple[object, ...] = (reason,)
        if st is not None:
            sig += (st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid)
        key = path + "\0" if error else path  # NUL never occurs in a path
        if self._said.get(key) == sig:
            return None
        self._said[key] = sig
        self._counters["errors" if error else "refused"] += 1
        return Problem(path, reason)

    def forget(self, path: str) -> None:
        """The path is fine now: a later refusal is said again."""
        self._said.pop(path, None)

    def prune(self, keep: Callable[[str], bool]) -> None:
        """Forget what was said of paths no longer looked at, so it is said again if they
        come back; repeated (touched) problems are kept."""
        touched = self._touched
        self._said = {
            k: v for k, v in self._said.items() if (p := k.rstrip("\0")) in touched or keep(p)
        }
        touched.clear()
