"""Export files: safe names, and writes that leave a complete file or nothing.

Shared by `tui-monitor export` and the UI's `x` and `ctrl+s`. A name built here cannot leave
its directory whatever an agent calls itself; a file written here appears whole, mode 0600,
never over another file unless asked, and never over anything but a file.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ..errors import NotAFile

CHUNK_CHARS = 1 << 16
SLUG_MAX = 40
Sink = Path | BinaryIO
"""Where an export goes: a file (written atomically) or an open binary stream (stdout)."""


# -- names ------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def slug(text: str, fallback: str = "x") -> str:
    """ASCII letters, digits, `-` and `_` only, at most SLUG_MAX long, never empty: a hostile
    name can neither leave a directory nor pass for an option or a hidden file."""
    out = _UNSAFE_NAME.sub("-", text[: SLUG_MAX * 8]).strip("-_")[:SLUG_MAX].strip("-_")
    return out or fallback


def stamp(at: datetime | None = None) -> str:
    """Compact UTC time for file names: 20261121T140530Z (naive = UTC, None = now)."""
    when = datetime.now(UTC) if at is None else at
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y%m%dT%H%M%SZ")


def default_name(
    kind: str, *, agent: str | None = None, at: datetime | None = None, suffix: str = ".json"
) -> str:
    """`tui-monitor-<kind>[-<agent>]-<UTC time>.<suffix>`, every part a slug."""
    parts = ["tui-monitor", slug(kind, "export")]
    if agent is not None:
        parts.append(slug(agent, "agent"))
    return f"{'-'.join(parts)}-{stamp(at)}.{slug(suffix.lstrip('.'), 'out')[:8]}"


def target(output: str | Path | None, name: str) -> Path:
    """The file to write: `output` itself, or `name` inside it when it is a directory (or a
    string ending in a slash), or `name` in the working directory when there is no `output`."""
    if output is None:
        return Path.cwd() / name
    path = Path(output)
    if path.is_dir() or str(output).endswith(("/", os.sep)):
        return path / name
    return path


# -- atomic writes ----------------------------------------------------------------------


def write_atomic(
    path: Path, chunks: Iterable[bytes | str], force: bool = False, *, unique: bool = False
) -> Path:
    """Write `chunks` to `path` as one complete file, mode 0600, or leave nothing at all.

    On Linux the data goes to an unnamed O_TMPFILE in the target directory, fsynced, then
    linked into place: a crash or kill -9 meanwhile leaves no trace, and the link itself
    refuses an existing name. Elsewhere a hidden `.NAME.XXXX.tmp` is used and removed on any
    error (only a kill -9 can leave one behind). An existing file is replaced only with
    `force`; with `unique` a taken name becomes NAME-2, NAME-3, ... instead of an error.
    Anything at `path` but a regular file (a device node, FIFO, symlink, directory) is
    refused with `NotAFile`, with or without `force`. Returns the absolute path written.
    """
    final = Path(os.path.abspath(path))
    if not unique:
        _refuse_special(final)
    if not (force or unique) and os.path.lexists(final):
        raise _exists(final)
    # Every name below is relative to this one directory, even if it is renamed meanwhile.
    dirfd = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = _open_unnamed(dirfd)
        if fd is None:
            final = _write_named(dirfd, final, chunks, force, unique)
        else:
            try:
                _write_all(fd, chunks)
                final = _place(dirfd, f"/proc/self/fd/{fd}", final, force, unique)
            finally:
                os.close(fd)
        with suppress(OSError):  # make the new name durable too, where a dir can be synced
            os.fsync(dirfd)
    finally:
        os.close(dirfd)
    return final


UNIQUE_TRIES = 1000


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "already exists (use --force to overwrite)", str(path))


_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse_special(final: Path, dirfd: int | None = None) -> None:
    """Raise NotAFile when something other than a regular file holds the name (the link
    itself, not what it points to); checked again just before a rename replaces it."""
    try:
        st = os.stat(final if dirfd is None else final.name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a file")
        raise NotAFile(final, kind)


def _candidates(final: Path, unique: bool) -> Iterator[Path]:
    yield final
    if unique:
        for n in range(2, UNIQUE_TRIES + 1):
            yield final.with_name(f"{final.stem}-{n}{final.suffix}")


def _open_unnamed(dirfd: int) -> int | None:
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.open(".", flag | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None  # this file system or kernel has no O_TMPFILE
        raise
    os.fchmod(fd, 0o600)  # whatever the umask
    return fd


def _write_all(fd: int, chunks: Iterable[bytes | str]) -> None:
    with open(fd, "wb", buffering=CHUNK_CHARS, closefd=False) as f:
        for chunk in chunks:
            f.write(chunk.encode() if isinstance(chunk, str) else chunk)
    os.fsync(fd)


def _temp_name(final: Path) -> str:
    return f".{final.name[:200]}.{secrets.token_hex(6)}.tmp"


def _place(dirfd: int, source: str, final: Path, force: bool, unique: bool) -> Path:
    """Give the written file its name: `source` is /proc/self/fd/N or a temp name in dirfd.

    A link never replaces a name (no clobber); `force` links a temp name and renames it over.
    linkat needs AT_SYMLINK_FOLLOW to link an O_TMPFILE through /proc: os.link uses linkat,
    with that flag, only when given a dir fd.
    """
    if force:
        tmp = _temp_name(final)
        os.link(source, tmp, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        try:
            _refuse_special(final, dirfd)
            os.replace(tmp, final.name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp, dir_fd=dirfd)
            raise
        return final
    for candidate in _candidates(final, unique):
        try:
            os.link(source, candidate.name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        except FileExistsError:
            continue
        return candidate
    raise _exists(final)


def _write_named(
    dirfd: int, final: Path, chunks: Iterable[bytes | str], force: bool, unique: bool
) -> Path:
    tmp = _temp_name(final)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600, dir_fd=dirfd)
    try:
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, chunks)
        finally:
            os.close(fd)
        try:
            return _place(dirfd, tmp, final, force, unique)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
        # no hard links here (FAT, some network shares): check, then rename
        for candidate in _candidates(final, unique and not force):
            if force or not os.path.lexists(candidate):
                _refuse_special(candidate, dirfd)
                os.replace(tmp, candidate.name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
                return candidate
        raise _exists(final)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dirfd)


def deliver(sink: Sink, chunks: Iterable[bytes | str], force: bool = False) -> Path | None:
    """Chunks to a file (atomically; its path is returned) or to an open binary stream."""
    if isinstance(sink, Path):
        return write_atomic(sink, chunks, force)
    for chunk in chunks:
        sink.write(chunk.encode() if isinstance(chunk, str) else chunk)
    sink.flush()
    return None
