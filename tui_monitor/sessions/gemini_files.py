"""Gemini CLI chat recordings followed on disk: `GeminiReader` driven over `chat_dirs()`.

Where: `~/.gemini/tmp/<project>/chats/` and `chats/<parent session>/` (gemini.py says what is
read). A `.jsonl` recording is appended to: the follower reads its new lines and the reader's
state of the file (its session, named only on the first line) is saved with the offset
(driver.py). A `.json` recording is one document rewritten whole on every change: it is read
again, whole, when its (inode, size, mtime) change, up to `max_document` bytes (a larger one is
counted, logged once and skipped until it changes); the reader counts each message once.
Nothing outside a `chats/` directory is read (`logs.json`, checkpoints: no usage).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from .driver import FileDriver
from .follow import Problem, regular_file
from .gemini import GeminiReader, chat_dirs, is_chat
from .records import SessionRecord
from .scan import Found

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def in_chats(path: str) -> bool:
    """Whether a found file is a recording: in `chats/` or a subagent folder inside it."""
    parent = os.path.dirname(path)
    return os.path.basename(parent) == "chats" or (
        os.path.basename(os.path.dirname(parent)) == "chats"
    )


class GeminiFiles(FileDriver):
    """Follows every Gemini CLI recording; `poll` from one thread (blocking file I/O).

    Args:
        dirs: The `tmp` directories holding project folders (default: `[chat_dirs()]`).
        state: Where offsets, reader state and documents' signatures are saved by `save`
            (None: memory only).
        since: Epoch seconds: files not written since are not read until they change; older
            messages give no records except `SessionInfo`.
        max_document: Largest `.json` recording read, in bytes.
        max_line, max_bytes, max_lines, max_open, idle_close, rescan: As for `CodexFiles`;
            `max_bytes` bounds the documents read by one poll too.
    """

    def __init__(
        self,
        dirs: Sequence[Path] | None = None,
        state: Path | None = None,
        *,
        since: float | None = None,
        max_document: int = 64 << 20,
        max_line: int = 64 << 20,
        max_bytes: int = 4 << 20,
        max_lines: int = 20_000,
        max_open: int = 64,
        idle_close: float = 60.0,
        rescan: float = 10.0,
    ) -> None:
        self._reader = GeminiReader()
        super().__init__(
            self._reader,
            "gemini recordings",
            [chat_dirs()] if dirs is None else dirs,
            is_chat,
            depth=4,  # tmp/<project>/chats/<parent session>
            state=state,
            since=since,
            max_line=max_line,
            max_bytes=max_bytes,
            max_lines=max_lines,
            max_open=max_open,
            idle_close=idle_close,
            rescan=rescan,
        )
        self._max_document = max_document
        self._due: dict[str, os.stat_result] = {}  # documents changed and not read yet
        self._logged_large: set[str] = set()
        self._docs = {"documents": 0, "too_large": 0, "rereads": 0}

    @property
    def more(self) -> bool:
        return super().more or bool(self._due)

    @property
    def backlog(self) -> int:
        return super().backlog + sum(st.st_size for st in self._due.values())

    @property
    def counters(self) -> dict[str, int]:
        """`FileDriver.counters`, with "documents" (`.json` recordings read), "too_large"
        (skipped for their size) and "rereads" (changed while read: read again later)."""
        out = super().counters
        out.update(self._docs)
        return out

    def mine(self, path: str) -> bool:
        return in_chats(path)

    def followed(self, path: str) -> bool:
        return path.endswith(".jsonl") and in_chats(path)

    def others(self, found: Found, out: list[SessionRecord], problems: list[Problem]) -> None:
        """Read the `.json` recordings that changed, within this poll's byte budget."""
        since = self._since
        for path in found.changed:
            st = found.files[path]
            if (
                path.endswith(".json")
                and in_chats(path)
                and (since is None or st.st_mtime >= since)
            ):
                self._due[path] = st
        for path in [p for p in self._due if p not in found.files]:
            del self._due[path]  # deleted before its turn
        budget = self._max_bytes
        for path in sorted(self._due):
            if budget <= 0:
                return  # `more` stays true: the rest next poll
            st = self._due.pop(path)
            budget -= self._document(path, st, found, out, problems)

    def _document(
        self,
        path: str,
        st: os.stat_result,
        found: Found,
        out: list[SessionRecord],
        problems: list[Problem],
    ) -> int:
        """Read one document if it changed since it was read; the bytes it cost."""
        track = self.track(path, found)
        sig = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if track.doc == sig:
            return 0  # as it was read (by this run or the last)
        reason = regular_file(st)
        if reason is not None:
            track.doc = sig
            self._report(path, reason, st, problems, error=False)
            return 0
        if st.st_size > self._max_document:
            track.doc = sig
            self._too_large(path, st.st_size, problems)
            return 0
        if st.st_size == 0:
            return 0  # truncated to be written again: its next change is read
        data, after = self._read(path, problems)
        if data is None or after is None:
            return 0
        track.doc = (after.st_dev, after.st_ino, after.st_size, after.st_mtime_ns)
        self._docs["documents"] += 1
        self.hand_out(track, self._reader.read_document(path, data), out)
        return len(data)

    def _read(
        self, path: str, problems: list[Problem]
    ) -> tuple[bytes | None, os.stat_result | None]:
        """The whole document and its stat, or (None, None) when it cannot be read now: too
        large, unreadable, or written while read (the scanner then sees it change again)."""
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except FileNotFoundError:
            return None, None  # deleted since it was found
        except OSError as e:
            why = "symbolic link loop" if e.errno == errno.ELOOP else e.strerror
            self._report(path, f"cannot open: {why}", None, problems, error=True)
            return None, None
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                self._report(path, "refused: not a regular file", before, problems, error=False)
                return None, None
            chunks: list[bytes] = []
            size = 0
            while size <= self._max_document:
                chunk = os.read(fd, min(self._max_document + 1 - size, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            after = os.fstat(fd)
        except OSError as e:
            self._report(path, f"cannot read: {e.strerror}", None, problems, error=True)
            return None, None
        finally:
            os.close(fd)
        if size > self._max_document:
            self._too_large(path, size, problems)
            return None, None
        same = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
        if not same or size != after.st_size:
            self._docs["rereads"] += 1
            return None, None
        return b"".join(chunks), after

    def _too_large(self, path: str, size: int, problems: list[Problem]) -> None:
        self._docs["too_large"] += 1
        if path not in self._logged_large:  # one log line a file, the rest counted
            self._logged_large.add(path)
            reason = f"{size} bytes, larger than {self._max_document}: not read"
            problems.append(Problem(path, reason))

    def _report(
        self,
        path: str,
        reason: str,
        st: os.stat_result | None,
        problems: list[Problem],
        *,
        error: bool,
    ) -> None:
        problem = self.report(path, reason, st, error=error)
        if problem is not None:
            problems.append(problem)
