"""One open file cut into complete lines, in bounded memory: the follower's reading part.

A partial last line waits in `buf` for its newline; a line longer than `max_line` is dropped
as it is read (a 2 GB line never sits in memory) and reported once, with its number.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

from .offsets import Saved

_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class Line:
    """One complete line of a followed file."""

    path: str
    data: bytes
    """Without the newline and without one trailing carriage return."""
    number: int
    """1-based line number in the file (counted from the start when offsets were first kept)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A refused or unreadable file, a rejected line, a state-file problem: one line for a
    person, said once."""

    path: str
    reason: str
    line: int | None = None
    """The line it is about, when it is about one."""


FollowItem = Line | Problem


@dataclass
class Budget:
    """What one poll may still hand out, shared by every file it reads."""

    lines: int
    bytes: int


@dataclass(eq=False)
class OpenFile:
    """A file held open; `buf` holds the bytes of its unfinished line, from `offset`."""

    path: str
    fd: int
    dev: int
    ino: int
    max_line: int
    counters: dict[str, int]
    pos: int = 0
    buf: bytearray = field(default_factory=bytearray)
    skipping: bool = False  # inside a line already rejected as too long
    head_len: int = 0
    head: str = ""
    line: int = 0  # complete lines before `offset`
    last_data: float = 0.0
    at_end: bool = False
    size: int = 0  # as of the last read

    @property
    def offset(self) -> int:
        return self.pos - len(self.buf)

    def saved(self) -> Saved:
        return Saved(
            self.dev, self.ino, self.offset, self.skipping, self.head_len, self.head, self.line
        )

    def read(self, out: list[FollowItem], budget: Budget) -> tuple[bool, bool]:
        """Hand out the complete lines: (read to the current end, read any bytes)."""
        size = self.size = os.fstat(self.fd).st_size
        if size < self.pos:
            self.counters["truncations"] += 1
            self.pos, self.skipping, self.head_len, self.head, self.line = 0, False, 0, "", 0
            self.buf.clear()
        got = False
        while True:
            self._split(out, budget)
            if budget.lines <= 0 or budget.bytes <= 0:
                return False, got
            if self.pos >= size:
                return True, got
            chunk = os.pread(self.fd, min(_CHUNK, size - self.pos, budget.bytes), self.pos)
            if not chunk:
                return True, got  # truncated under us: seen next poll
            got = True
            self.pos += len(chunk)
            budget.bytes -= len(chunk)
            if self.skipping:
                nl = chunk.find(b"\n")
                if nl < 0:
                    continue
                chunk, self.skipping = chunk[nl + 1 :], False
                self.line += 1
            self.buf += chunk

    def finish(self, out: list[FollowItem]) -> None:
        """Close a file renamed away or deleted; a last line without newline is handed out."""
        if self.buf and not self.skipping:
            self.counters["unterminated"] += 1
            self.line += 1
            self._emit(self.buf, out)
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1

    def _split(self, out: list[FollowItem], budget: Budget) -> None:
        buf, start = self.buf, 0
        while budget.lines > 0:
            nl = buf.find(b"\n", start)
            if nl < 0:
                if len(buf) - start > self.max_line + 1:  # too long even if a CR follows
                    self._too_long(self.line + 1, out)
                    budget.lines -= 1
                    start, self.skipping = len(buf), True
                break
            self.line += 1
            self._emit(buf[start:nl], out)
            budget.lines -= 1
            start = nl + 1
        if start:
            del buf[:start]

    def _emit(self, line: bytes | bytearray, out: list[FollowItem]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_line:
            self._too_long(self.line, out)
        elif line:
            self.counters["lines"] += 1
            out.append(Line(self.path, bytes(line), self.line))
        else:
            self.counters["blank"] += 1

    def _too_long(self, number: int, out: list[FollowItem]) -> None:
        self.counters["too_long"] += 1
        out.append(Problem(self.path, f"line longer than {self.max_line} bytes", number))
