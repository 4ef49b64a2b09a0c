"""The ingest socket: a Unix stream socket, one reply line per line received.

Safety: the socket lives in a directory of ours with mode 0700 (checked, never followed
through a symlink), is created 0600 (umask set around bind, so there is no window where it is
wider), never in the abstract namespace (which has no permissions at all), and every peer's
uid is checked with SO_PEERCRED. A socket file left by a crashed recorder is replaced; a live
one (something answers on it) is never stolen.

Throughput: lines are read in chunks and answered in one write per chunk. When the hub holds
`limit` pending records, the connection stops reading until the next tick takes them, so the
sender blocks in its own write: back-pressure, not loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import stat
import struct
from pathlib import Path

from ..errors import ServerError
from .hub import IngestHub
from .protocol import MAX_LINE

log = logging.getLogger(__name__)

OK = b'{"ok":true}\n'
CHUNK = 64 * 1024
SLICE = 128
"""Lines handled before giving the event loop back: a flood must not starve the UI."""
_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def _reply(error: str) -> bytes:
    return (json.dumps({"ok": False, "error": error}, ensure_ascii=True) + "\n").encode()


def prepare_dir(directory: Path) -> None:
    """Create the socket's directory 0700, or check an existing one is ours and private."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(directory)
    except OSError as exc:
        raise ServerError(f"cannot create {directory}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ServerError(f"{directory} is not a directory (a symlink?); refusing to use it")
    if st.st_uid != os.geteuid():
        raise ServerError(f"{directory} belongs to uid {st.st_uid}, not to us; refusing it")
    if st.st_mode & 0o077:
        os.chmod(directory, 0o700)


def _alive(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _bind(path: Path) -> socket.socket:
    if len(os.fsencode(path)) > 107:
        raise ServerError(f"socket path too long for a Unix socket ({path})")
    prepare_dir(path.parent)
    with contextlib.suppress(FileNotFoundError):
        st = os.lstat(path)
        if not stat.S_ISSOCK(st.st_mode):
            raise ServerError(f"{path} exists and is not a socket; refusing to replace it")
        if _alive(path):
            raise ServerError(f"another recorder is listening on {path}")
        os.unlink(path)  # left by a recorder that died
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise ServerError(f"cannot listen on {path}: {exc.strerror}") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.setblocking(False)
    return sock


def peer_uid(sock: socket.socket) -> int | None:
    try:
        _pid, uid, _gid = _CRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
        )
    except (OSError, AttributeError):
        return None
    return int(uid)


class IngestServer:
    """Serves one socket path into one hub until `close`."""

    def __init__(
        self,
        path: Path,
        hub: IngestHub,
        *,
        max_connections: int = 64,
        idle_timeout: float = 600.0,
    ) -> None:
        self.path = path
        self.hub = hub
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._inode: int | None = None

    async def start(self) -> None:
        sock = _bind(self.path)
        self._inode = os.stat(self.path).st_ino
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=CHUNK)
        self.hub.listening = str(self.path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(OSError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino == self._inode:  # ours, not a successor's
                os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        hub = self.hub
        try:
            sock = writer.get_extra_info("socket")
            uid = peer_uid(sock) if sock is not None else None
            if uid != os.geteuid():
                who = "unknown uid" if uid is None else f"uid {uid}"
                await self._refuse(reader, writer, f"{who} is not the owner of this monitor")
                return
            if hub.connections >= self.max_connections:
                await self._refuse(reader, writer, f"too many connections ({self.max_connections})")
                return
            hub.connections += 1
            try:
                await self._lines(reader, writer)
            finally:
                hub.connections -= 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # closing; returning normally keeps 3.11's stream callback from logging it
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _refuse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, why: str
    ) -> None:
        """Say why, then swallow what the peer already sent: closing a Unix socket with unread
        data resets it, and the peer would lose our reason."""
        self.hub.refused += 1
        writer.write(_reply(f"refused: {why}"))
        writer.write_eof()
        with contextlib.suppress(TimeoutError, OSError):
            async with asyncio.timeout(1.0):
                while len(await reader.read(CHUNK)) > 0:
                    pass

    async def _lines(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hub = self.hub
        buf = b""
        skipping = False  # inside a line that is already too long: drop to its newline
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(CHUNK), self.idle_timeout)
            except TimeoutError:
                writer.write(_reply(f"closed: idle for {self.idle_timeout:g} s"))
                return
            if not chunk:
                if buf and not skipping:  # a last line without its newline still counts
                    verdict = hub.receive(buf)
                    writer.write(OK if verdict is None else _reply(verdict))
                    await writer.drain()
                return
            buf += chunk
            replies: list[bytes] = []
            start = 0
            handled = 0
            while True:
                end = buf.find(b"\n", start)
                if end < 0:
                    break
                handled += 1
                if handled % SLICE == 0:
                    await asyncio.sleep(0)
                if skipping:
                    skipping = False
                    hub.received += 1
                    hub.rejected += 1
                    reason = hub.last_rejection = f"line longer than {MAX_LINE} bytes"
                    replies.append(_reply(reason))
                else:
                    if hub.pending >= hub.limit:  # full: stop here until a tick drains
                        if replies:
                            writer.write(b"".join(replies))
                            replies = []
                        await hub.room()
                    line = buf[start:end]
                    verdict = hub.receive(line[:-1] if line.endswith(b"\r") else line)
                    replies.append(OK if verdict is None else _reply(verdict))
                start = end + 1
            buf = buf[start:]
            if len(buf) > MAX_LINE + 1:  # no newline in sight: never buffer more than a line
                skipping, buf = True, b""
            if replies:
                writer.write(b"".join(replies))
                await writer.drain()
