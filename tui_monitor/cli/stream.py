"""`tui-monitor stream`: this machine's recorder as newline-delimited JSON, for a viewer on
another machine (`tui-monitor --host`, which runs it over `ssh -T`).

It only ever reads: `AttachedSource(take_over=False)` follows the recorder's history and
never records, whoever stops. It ends quietly (exit 0) when the viewer goes: stdout closes,
stdin reaches EOF (sshd closes it when the connection drops), or SIGTERM/SIGHUP arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import stat
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, BinaryIO

import click

from .. import __version__, safe
from ..errors import TuiMonitorError
from ..fleet import protocol
from .context import Context, db_option, db_path, pass_ctx

if TYPE_CHECKING:
    from ..config import Settings

HEARTBEAT = 5.0
"""Seconds without a snapshot line before a heartbeat line says the stream is still there
(with the source's warning, e.g. "recorder stopped 3m ago")."""


class StreamRefused(TuiMonitorError):
    """Nothing to stream here (the error line on stdout said it to the viewer too)."""

    exit_code = 2


class _Stop(SystemExit):
    """SIGTERM or SIGHUP: unwind (a write blocked on a full pipe included) and exit 0. A
    SystemExit, because asyncio passes only those (and KeyboardInterrupt) out of callbacks."""


@click.command()
@db_option
@pass_ctx
def stream(obj: Context, db: Path | None) -> None:
    """Print this machine's recorder as JSON lines (read-only), for `tui-monitor --host`.

    A handshake line, then a line per tick, until stdin or stdout closes or SIGTERM/SIGHUP.
    Refuses (exit 2) when there is no history at the database path.
    """
    settings = obj.settings()
    path = db_path(obj, db)
    out = sys.stdout.buffer
    reason = _refusal(path, settings)
    if reason is not None:
        _write(out, protocol.encode_error(reason))
        raise StreamRefused(safe.clean(reason))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise _Stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        asyncio.run(_serve(out, path, settings))
    except (_Stop, BrokenPipeError, ConnectionResetError):
        pass  # the viewer went: nothing to say to anyone
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _quiet_stdout()


def _refusal(path: Path, settings: Settings) -> str | None:
    """Why this history cannot be streamed (none there, not ours, unreadable), or None."""
    import sqlite3

    from ..errors import SchemaError
    from ..source import recorded_snapshot

    if not path.is_file():
        return f"no history at {path} (run tui-monitor record there first)"
    try:
        recorded_snapshot(path, settings.budgets)
    except (sqlite3.Error, SchemaError, OSError) as exc:
        return f"the history at {path} cannot be read: {exc}"
    return None


async def _serve(out: BinaryIO, path: Path, settings: Settings) -> None:
    from ..models import Snapshot
    from ..source import AttachedSource
    from ..store.lock import recorder_pid

    interval = settings.interval
    source = AttachedSource(path, interval, recorder_pid(path), settings, take_over=False)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    _watch_stdin(loop, stop)
    _write(out, protocol.encode_handshake(__version__, socket.gethostname(), interval))
    pending: list[Snapshot] = []
    last_line = time.monotonic()

    def send(line: bytes) -> None:
        """Out of a loop callback a BrokenPipeError would only be logged: stop instead."""
        nonlocal last_line
        try:
            _write(out, line)
        except (BrokenPipeError, ConnectionResetError):
            stop.set()
        last_line = time.monotonic()

    def flush() -> None:
        if pending:  # a burst of ticks (a slow look) sends only its newest
            snap = pending[-1]
            pending.clear()
            send(protocol.encode_snapshot(snap, source.warning))

    def emit(snap: Snapshot) -> None:
        if not pending:
            loop.call_soon(flush)
        pending.append(snap)

    async def heartbeat() -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            if time.monotonic() - last_line >= HEARTBEAT:
                send(protocol.encode_heartbeat(source.warning))

    beats = asyncio.create_task(heartbeat())
    try:
        await source.run(emit, stop)
    finally:
        beats.cancel()


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """EOF on stdin ends the stream: sshd closes it when the connection goes. Only a pipe,
    socket or terminal is watched (a stream started with </dev/null runs until a signal)."""
    fd = sys.stdin.fileno() if sys.stdin is not None else -1
    try:
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError):
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)):
        return

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            stop.set()

    loop.add_reader(fd, readable)


def _write(out: BinaryIO, line: bytes) -> None:
    out.write(line)
    out.flush()


def _quiet_stdout() -> None:
    """A closed stdout must not fail again at exit (the interpreter flushes it once more)."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
