"""Spool files: what is safe to read, and the remembered offsets (written atomically)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import TailError

HEAD = 256  # bytes hashed to recognise a file again after a restart
STATE_MAX = 8 << 20


@dataclass
class Saved:
    """What the state file remembers of one path."""

    dev: int
    ino: int
    offset: int
    skip: bool = False
    head_len: int = 0
    head: str = ""


def ensure_spool_dir(path: Path) -> None:
    """Create the spool directory 0700 (or tighten ours to it); refuse a symlink or a stranger's."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        if os.path.islink(path):
            raise TailError(f"spool directory {path} is a symbolic link; refusing it") from None
        raise TailError(f"spool directory {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise TailError(
                f"spool directory {path} is owned by uid {st.st_uid}, not {os.geteuid()}; "
                "refusing it"
            )
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    except OSError as e:
        raise TailError(f"spool directory {path}: {e.strerror}") from None
    finally:
        os.close(fd)


_KINDS = {"p": "a FIFO", "c": "a character device", "b": "a block device", "s": "a socket"}


def refusal(st: os.stat_result) -> str | None:
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "refused: symbolic link"
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.filemode(mode)[0], "a directory or special file")
        return f"refused: {kind}, not a regular file"
    if st.st_uid != os.geteuid():
        return f"refused: owned by uid {st.st_uid}, not {os.geteuid()}"
    if mode & stat.S_IWOTH:
        return "refused: writable by others (chmod o-w to allow it)"
    if mode & stat.S_IWGRP and st.st_gid != os.getegid():
        return f"refused: writable by group {st.st_gid} (chmod g-w to allow it)"
    return None


def dir_refusal(st: os.stat_result) -> str | None:
    """Same rules as ensure_spool_dir, for spool dirs the recorder did not create."""
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return "refused: spool directory is a symbolic link or not a directory"
    if st.st_uid != os.geteuid():
        return f"refused: spool directory owned by uid {st.st_uid}, not {os.geteuid()}"
    return None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def same_file(fd: int, st: os.stat_result, saved: Saved) -> bool:
    """Whether the saved offset belongs to this file (same inode and same first bytes)."""
    if (saved.dev, saved.ino) != (st.st_dev, st.st_ino):
        return False
    return saved.head_len == 0 or digest(os.pread(fd, saved.head_len, 0)) == saved.head


def parse_state(raw: bytes) -> dict[str, Saved]:
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
        ints = (s.dev, s.ino, s.offset, s.head_len)
        if not (
            all(type(n) is int and n >= 0 for n in ints)
            and s.head_len <= HEAD
            and type(s.skip) is bool
            and type(s.head) is str
        ):
            raise ValueError(f"has a malformed entry for {path!r}")
        result[path] = s
    return result


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
