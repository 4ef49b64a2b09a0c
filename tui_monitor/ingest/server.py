"""The ingest socket: a Unix stream socket, one reply line per line received.

Safety: the socket lives in a directory of ours with mode 0700 (checked, never followed
through a symlink), is created 0600 (umask set around bind, so there is no window where it is
wider), never in the abstract namespace (which has no permissions at all), and every peer's
uid is checked with SO_PEERCRED. A socket file left by a crashed recorder is replaced; a live
one (something answers on it) is never stolen.

Throughput: lines are read in chunks and answered in one write per chunk. When the hub holds
`limit` pending records, the connection stops reading until the next tick takes them, so the
sender blocks in its own write: back-pressure, not loss. A line with `"ack": "stored"` is
answered once the tick holding it is committed (replies stay in order, so the lines after it
on that connection wait for it too); the connection keeps reading meanwhile.
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

from ..aio import within
from ..errors import ServerError
from .hub import IngestHub
from .protocol import MAX_LINE

log = logging.getLogger(__name__)

OK = b'{"ok":true}\n'
Reply = bytes | asyncio.Future[str | None]
"""A reply line, or (`"ack": "stored"`) the future of its commit: None, or why not stored."""
CHUNK = 64 * 1024
WAITING = 64
"""Chunks of replies a connection may have waiting for commits before it stops reading."""
CLOSE_WAIT = 1.0
"""Seconds `close` gives connections to write their last replies."""
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


class _Replies:
    """One connection's replies, in order: written at once, or, behind a line that asked for
    `"ack": "stored"`, by a task of their own once the commit is known, while the connection
    keeps reading (up to WAITING chunks ahead)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._queue: asyncio.Queue[list[Reply] | None] = asyncio.Queue(WAITING)
        self._task: asyncio.Task[None] | None = None

    async def send(self, items: list[Reply]) -> None:
        if not items or (self._task is not None and self._task.done()):
            return  # nothing to say, or the peer is gone (the writing task saw it)
        if self._task is None and all(isinstance(i, bytes) for i in items):
            self.writer.write(b"".join(i for i in items if isinstance(i, bytes)))
            await self.writer.drain()
            return
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ingest-replies")
        await self._put(items)

    async def _put(self, items: list[Reply] | None) -> None:
        """Queue for the writing task; a full queue waits for it, unless it ends (the peer
        went away): then nobody would ever take them."""
        assert self._task is not None
        if not self._queue.full():
            self._queue.put_nowait(items)
            return
        put = asyncio.ensure_future(self._queue.put(items))
        try:
            await asyncio.wait({put, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            put.cancel()  # a no-op once it went in

    async def _run(self) -> None:
        with contextlib.suppress(ConnectionError):
            while (items := await self._queue.get()) is not None:
                out: list[bytes] = []
                for item in items:
                    if isinstance(item, bytes):
                        out.append(item)
                        continue
                    if not item.done() and out:  # what is ready goes out before the wait
                        self.writer.write(b"".join(out))
                        out = []
                    reason = await item
                    out.append(OK if reason is None else _reply(reason))
                self.writer.write(b"".join(out))
                await self.writer.drain()

    async def finish(self) -> None:
        """Wait until every reply is written (those waiting for a commit included)."""
        if self._task is not None and not self._task.done():
            await self._put(None)
            await self._task

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()


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
        self._readers: set[asyncio.Task[None]] = set()
        self._inode: int | None = None

    async def start(self) -> None:
        sock = _bind(self.path)
        self._inode = os.stat(self.path).st_ino
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=CHUNK)
        self.hub.listening = str(self.path)

    async def stop_reading(self) -> None:
        """Accept no more connections and read no more lines; replies still waiting for a
        commit stay, to be written once the recorder has written what it holds."""
        if self._server is not None:
            self._server.close()
        for task in list(self._readers):
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)

    async def close(self) -> None:
        """Write the replies that are known (the recorder settled every commit first), close
        every connection and remove the socket file."""
        await self.stop_reading()
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=CLOSE_WAIT)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(OSError, TimeoutError):
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
        replies = _Replies(writer)
        lines: asyncio.Task[None] | None = None
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
                lines = asyncio.create_task(self._lines(reader, replies), name="ingest-lines")
                self._readers.add(lines)
                await asyncio.wait({lines})  # cancelled by stop_reading: still reply
                failure = None if lines.cancelled() else lines.exception()
                if failure is not None:
                    raise failure
                await replies.finish()
            finally:
                hub.connections -= 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # closing; returning normally keeps 3.11's stream callback from logging it
        finally:
            if lines is not None:
                lines.cancel()
                self._readers.discard(lines)
            replies.cancel()
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

    def _verdict(self, line: bytes) -> Reply:
        reason, stored = self.hub.take(line)
        if reason is not None:
            return _reply(reason)
        return OK if stored is None else stored

    async def _lines(self, reader: asyncio.StreamReader, replies: _Replies) -> None:
        hub = self.hub
        buf = b""
        skipping = False  # inside a line that is already too long: drop to its newline
        while True:
            try:
                chunk = await within(reader.read(CHUNK), self.idle_timeout)
            except TimeoutError:
                await replies.send([_reply(f"closed: idle for {self.idle_timeout:g} s")])
                return
            if not chunk:
                if buf and not skipping:  # a last line without its newline still counts
                    await replies.send([self._verdict(buf)])
                return
            buf += chunk
            out: list[Reply] = []
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
                    out.append(_reply(reason))
                else:
                    if hub.pending >= hub.limit:  # full: stop here until a tick drains
                        await replies.send(out)
                        out = []
                        await hub.room()
                    line = buf[start:end]
                    out.append(self._verdict(line[:-1] if line.endswith(b"\r") else line))
                start = end + 1
            buf = buf[start:]
            if len(buf) > MAX_LINE + 1:  # no newline in sight: never buffer more than a line
                skipping, buf = True, b""
            await replies.send(out)
