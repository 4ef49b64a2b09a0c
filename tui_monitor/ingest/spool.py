"""Spool files: the spool directory, and which files in it are safe to read."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from ..errors import StoreError, TailError
from ..sessions.follow import regular_file
from ..store.files import make_private_dirs


def ensure_spool_dir(path: Path) -> None:
    """Create the spool directory 0700 (or tighten ours to it); refuse a symlink or a stranger's."""
    path = Path(path)
    try:
        make_private_dirs(path.parent)  # the data dir, when this is the first to need it
    except StoreError as exc:
        raise TailError(f"spool directory {path}: {exc}") from None
    try:
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


def refusal(st: os.stat_result) -> str | None:
    """The spool's file policy: a regular file of ours that nobody else may write."""
    reason = regular_file(st)
    if reason is not None:
        return reason
    mode = st.st_mode
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
