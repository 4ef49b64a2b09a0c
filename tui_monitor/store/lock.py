"""One recorder per database: the `flock` on `<db>.lock` that says who records it, and the
check at start that moves a damaged database aside (recorder.py's docstring has why)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from datetime import datetime
from pathlib import Path

from ..errors import AlreadyRecording, SchemaError, StoreError
from . import files
from .schema import APPLICATION_ID


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def _read_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 32).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


class RecorderLock:
    """The single-instance lock of one database."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.path = lock_path(db)
        self._fd: int | None = None
        self.created: list[Path] = []
        """Directories `acquire` created for the database (0700)."""
        self._made = False

    def acquire(self) -> None:
        """Take the lock, creating the database's directories (0700) if they are missing;
        StoreError (one line) when the place cannot be written."""
        self.created = files.make_private_dirs(self.path.parent)
        self._made = not os.path.lexists(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(
                f"cannot write in {self.path.parent}: {exc.strerror}", exc.strerror
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise AlreadyRecording(self.db, pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> RecorderLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is not None and issubclass(kind, SchemaError) and self._made:
            # A file that is not ours was refused: leave nothing of ours beside it.
            with contextlib.suppress(OSError):
                self.path.unlink()
        self.release()


def recorder_pid(db: Path) -> int | None:
    """The pid of the live recorder of `db`, or None when nobody records it."""
    try:
        fd = os.open(lock_path(db), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd) or -1
    finally:
        os.close(fd)  # also drops our shared lock, if we got it
    return None


def _foreign_sqlite(db: Path) -> bool:
    """Whether the file is an SQLite database whose header says it is not one of ours: such a
    file is never moved aside, only refused (by the schema check, untouched)."""
    try:
        with db.open("rb") as f:
            header = f.read(100)
    except OSError:
        return False
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return False
    version = int.from_bytes(header[60:64], "big", signed=True)
    app = int.from_bytes(header[68:72], "big", signed=True)
    return not (app == APPLICATION_ID or (app == 0 and version >= 1))


def move_aside_if_corrupt(db: Path) -> str | None:
    """Run quick_check; if the file is damaged, move it (and -wal/-shm) aside and say so."""
    if not db.exists() or _foreign_sqlite(db):
        return None
    try:
        conn = sqlite3.connect(db)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
        problem = None if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:3])
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return None  # unreadable here (a read-only place, a lock): not damaged
        problem = str(exc)
    if problem is None:
        return None
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    target = db.with_name(f"{db.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{db}{suffix}")
        if src.exists():
            try:
                src.rename(Path(f"{target}{suffix}"))
            except OSError as exc:
                raise StoreError(
                    f"{db} is damaged ({problem}) and cannot be moved aside: {exc.strerror}"
                ) from None
    return f"{db} is damaged ({problem}); moved it to {target} and started a new database"
