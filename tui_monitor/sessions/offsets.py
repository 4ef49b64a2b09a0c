"""Where each followed file was read up to, remembered across restarts in a small JSON file.

An offset is kept with the file's identity (st_dev, st_ino), a hash of its first bytes and the
number of lines before it, so a restart neither re-reads nor skips, a new file that happens to
reuse an old inode is still read from the start, and a problem can still name its line. A
reader may keep what it knows of each file (`extra`) in the same file, so both are saved in one
atomic write and can never disagree after a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HEAD = 256  # bytes hashed to recognise a file again after a restart
STATE_MAX = 8 << 20


@dataclass
class Saved:
    """What the state file remembers of one path."""

    dev: int
    ino: int
    offset: int
    skip: bool = False
    """The offset is inside a line already rejected as too long: skip to its newline."""
    head_len: int = 0
    head: str = ""
    line: int = 0
    """Complete lines before `offset` (0 in state files written before it was kept)."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def same_file(fd: int, st: os.stat_result, saved: Saved) -> bool:
    """Whether the saved offset belongs to this file (same inode and same first bytes)."""
    if (saved.dev, saved.ino) != (st.st_dev, st.st_ino):
        return False
    return saved.head_len == 0 or digest(os.pread(fd, saved.head_len, 0)) == saved.head


def parse_state(raw: bytes) -> dict[str, Saved]:
    """The offsets of a state file; ValueError (phrased for a person) when it is not one."""
    return _parse(raw)[0]


def _parse(raw: bytes) -> tuple[dict[str, Saved], dict[str, Any]]:
    """The offsets and the readers' `extra` of a state file (an `extra` that is no object: {})."""
    if len(raw) > STATE_MAX:
        raise ValueError(f"is larger than {STATE_MAX >> 20} MiB")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError("is not valid JSON") from None
    files = doc.get("files") if isinstance(doc, dict) and doc.get("version") == 1 else None
    if not isinstance(files, dict):
        raise ValueError("is not a version 1 state file")
    result: dict[str, Saved] = {}
    for path, entry in files.items():
        try:
            s = Saved(**entry)
        except TypeError:
            s = Saved(-1, -1, -1)
        ints = (s.dev, s.ino, s.offset, s.head_len, s.line)
        if not (
            all(type(n) is int and n >= 0 for n in ints)
            and s.head_len <= HEAD
            and type(s.skip) is bool
            and type(s.head) is str
        ):
            raise ValueError(f"has a malformed entry for {path!r}")
        result[path] = s
    extra = doc.get("extra")
    return result, extra if isinstance(extra, dict) else {}


class OffsetFile:
    """The state file of one follower: read once, written only when something changed."""

    def __init__(self, path: Path | None) -> None:
        self.path = None if path is None else Path(path)
        self._written: bytes | None = None
        self._failed: str | None = None
        self.extra: dict[str, Any] = {}
        """What the readers kept beside the offsets, as the last `read` found it."""

    def read(self) -> dict[str, Saved]:
        """The saved offsets ({} without a file); ValueError says what is wrong with it."""
        if self.path is None:
            return {}
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise ValueError(f"cannot be read ({e.strerror})") from None
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ValueError("is not a regular file")
            raw = fh.read(STATE_MAX + 1)
        files, self.extra = _parse(raw)
        return files

    def write(self, files: dict[str, Saved], extra: Mapping[str, Any] | None = None) -> str | None:
        """Save `files` (and `extra`, JSON-able, by path); the reason it failed, the first time
        it fails so (else None)."""
        if self.path is None:
            return None
        doc: dict[str, Any] = {
            "version": 1,
            "files": {p: asdict(s) for p, s in sorted(files.items())},
        }
        if extra:
            doc["extra"] = dict(sorted(extra.items()))
        data = json.dumps(doc, separators=(",", ":")).encode()
        if data == self._written:
            return None
        try:
            write_atomic(self.path, data)
        except OSError as e:
            where = f"{e.filename}: " if e.filename else ""
            reason = f"cannot save offsets ({where}{e.strerror or e})"
            said, self._failed = self._failed, reason
            return None if reason == said else reason
        self._written, self._failed = data, None
        return None


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a 0600 temp file and rename, so a crash leaves the old state or the new."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fd, 0o600)
            fh.write(data)
            fh.flush()
            os.fsync(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
