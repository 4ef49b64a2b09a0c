"""The history's files on disk: private directories, a 0600 database, read-only places.

History holds what agents said and did (command lines, messages, stacks): nobody else on the
box should read it. SQLite gives the -wal and -shm files the mode of the database file, so the
database is created 0600 by us before SQLite sees it; directories we create are 0700. Files
made by an older tui-monitor (0644) are tightened when we open them, if they are ours.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from ..errors import StoreError

SIDE_FILES = ("-wal", "-shm", ".lock", ".spool.json")
"""Files next to the database that belong to it."""


def make_private_dirs(directory: Path) -> list[Path]:
    """Create `directory` and any missing parents, each 0700; returns the ones created.

    Raises StoreError (one line) when a directory cannot be created (read-only place,
    permission denied, a file in the way).
    """
    missing: list[Path] = []
    current = directory
    while not os.path.exists(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    created: list[Path] = []
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue  # made by someone else meanwhile
        except OSError as exc:
            raise StoreError(
                f"cannot create directory {path}: {exc.strerror}", exc.strerror
            ) from None
        with contextlib.suppress(OSError):
            os.chmod(path, 0o700)  # whatever the umask
        created.append(path)
    if not directory.is_dir():
        raise StoreError(f"{directory} is not a directory")
    return created


def tighten(path: Path) -> None:
    """Mode 0600 on the database and its side files, where they exist and are ours."""
    for name in ("", *SIDE_FILES):
        target = Path(f"{path}{name}")
        try:
            st = os.lstat(target)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_mode & 0o077:
            with contextlib.suppress(OSError):
                os.chmod(target, stat.S_IMODE(st.st_mode) & 0o600)


def create_private(path: Path) -> None:
    """Create an empty database file 0600 if there is none, so SQLite's -wal and -shm get
    0600 too; tighten an existing one. StoreError when the place is not writable."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        tighten(path)
        return
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}", exc.strerror) from None
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def read_only_place(path: Path) -> bool:
    """Whether the database's directory cannot be written: a read-only filesystem, or a
    directory we may not write (SQLite then cannot create the -shm a WAL reader needs)."""
    directory = path.parent
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(directory, os.W_OK)


def wal_has_data(path: Path) -> bool:
    """Whether a -wal file with frames in it sits next to the database."""
    try:
        return os.stat(f"{path}-wal").st_size > 0
    except OSError:
        return False
