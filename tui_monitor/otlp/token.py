"""The bearer token every OTLP request must carry.

Loopback TCP, unlike our Unix socket, is open to every local user, so the receiver wants a
secret that only this user can read: made once (`secrets`), kept in a 0600 file in the
runtime dir beside the ingest socket, read by `tui-monitor run` / `integrate` to put in an
agent's environment or hook config. A file another user owns, a symlink, or one readable by
others is refused, not used (the receiver then stays off and the header says why).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from ..errors import ServerError, StoreError
from ..store.files import make_private_dirs

TOKEN_MAX = 256


def load_token(path: Path) -> str:
    """The token in `path`, made (0600, in a 0700 dir) when there is none."""
    try:
        make_private_dirs(path.parent)
    except StoreError as exc:
        raise ServerError(str(exc)) from None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return read_token(path)
    except OSError as exc:
        raise ServerError(f"{path}: cannot write the token: {exc.strerror}") from None
    token = secrets.token_urlsafe(32)
    try:
        os.write(fd, token.encode("ascii") + b"\n")
    finally:
        os.close(fd)
    return token


def read_token(path: Path) -> str:
    """The token an existing file holds; ServerError when the file is not safe to trust."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise ServerError(f"{path}: cannot read the token: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ServerError(f"{path}: not a regular file")
        if st.st_uid != os.getuid():
            raise ServerError(f"{path}: owned by another user")
        if st.st_mode & 0o077:
            raise ServerError(f"{path}: readable by others (chmod 600 it)")
        raw = os.read(fd, TOKEN_MAX + 1)
    finally:
        os.close(fd)
    token = raw.decode("ascii", "replace").strip()
    if not token or len(token) > TOKEN_MAX or not token.isprintable() or " " in token:
        raise ServerError(f"{path}: does not hold a token (delete it to make a new one)")
    return token
