"""One fleet host's ssh link (`HostLink`) and all of them (`SshFleet`).

A link runs `ssh -T HOST tui-monitor stream` (the system ssh: the person's config, keys and
agent) with stdin a pipe (closing it tells the remote to stop), reads its lines with a bound,
and turns everything that can go wrong into a state and a one-line reason
(`models.HostState`): ssh's own complaints from the tail of its stderr, a missing remote
program from exit 127, a broken remote from the line it sent. It retries with backoff (1 s
doubling to `backoff_max`, back to 1 s after a connection that delivered snapshots).

Nothing a remote does can cost more than its own link: a line is at most
`protocol.MAX_LINE` bytes (asyncio's reader pauses the pipe at that bound, so memory stays
bounded), a flood of lines is cut off, and a large line is decoded off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from .. import safe
from ..aio import wait_set
from ..models import HostState, HostStatus, Snapshot
from . import protocol
from .settings import FleetSettings, HostConfig

log = logging.getLogger(__name__)

BACKOFF_START = 1.0
STDERR_TAIL = 4096
"""Bytes of ssh's stderr kept: its last line says why it failed."""
FLOOD_LINES = 50
"""Lines a second a stream may send (a remote ticks at most 10 times a second)."""
FLOOD_BYTES = 2 * protocol.MAX_LINE
"""Bytes a second a stream may send."""
OFF_LOOP = 256 * 1024
"""Lines at least this long are decoded in a thread (50 agents are ~20-40 kB: on the loop)."""
WATCH_EVERY = 0.25
"""Seconds between the fleet's looks at its links' ages (slow and stale come with time)."""
SLOW_MIN = 2.0
"""Seconds late a snapshot must be, at the least, for its host to show as slow (else two
intervals): a fast remote (0.2 s) would flap slow/live whenever our own loop pauses a
moment (a resize, a busy machine), which says nothing about the host."""
EXIT_GRACE = 2.0
"""Seconds ssh has to go after SIGTERM before SIGKILL."""

Clock = Callable[[], float]


class Backoff:
    """Seconds to wait before the next try: 1, 2, 4, ... up to `maximum`; `reset` after a
    good connection."""

    def __init__(self, maximum: float, start: float = BACKOFF_START) -> None:
        self.start, self.maximum = start, max(start, maximum)
        self._next = start

    def failed(self) -> float:
        delay, self._next = self._next, min(self.maximum, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.start


class Flood:
    """Lines and bytes within the current second, against the limits."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._since, self._lines, self._bytes = clock(), 0, 0

    def over(self, size: int) -> str | None:
        now = self.clock()
        if now - self._since >= 1.0:
            self._since, self._lines, self._bytes = now, 0, 0
        self._lines += 1
        self._bytes += size
        if self._lines > FLOOD_LINES:
            return f"flooding: over {FLOOD_LINES} lines a second"
        if self._bytes > FLOOD_BYTES:
            return f"flooding: over {FLOOD_BYTES // 2**20} MiB a second"
        return None


class _End(Exception):
    """The session is over: this state and reason (the process is then stopped)."""

    def __init__(self, state: HostState, reason: str) -> None:
        super().__init__(reason)
        self.state, self.reason = state, reason


class HostLink:
    """One `[[hosts]]` entry: its ssh process, its newest snapshot, its state.

    `monotonic` and `wall` are the clocks (tests inject their own): ages and the flood use
    the first, `HostStatus.received_at` the second.
    """

    def __init__(
        self,
        host: HostConfig,
        fleet: FleetSettings,
        control_dir: Path | None = None,
        *,
        monotonic: Clock = time.monotonic,
        wall: Clock = time.time,
    ) -> None:
        self.host, self.fleet, self.control_dir = host, fleet, control_dir
        self.monotonic, self.wall = monotonic, wall
        self.name = safe.name(host.name)
        self.backoff = Backoff(fleet.backoff_max)
        self.state: HostState = "connecting"
        self.reason: str | None = None
        self.snapshot: Snapshot | None = None
        self.remote_version: str | None = None
        self.received_at: float | None = None
        self.warning = ""
        self._connected_at: float | None = None
        """Monotonic s of the handshake (None: not connected)."""
        self._received: float | None = None
        """Monotonic s the newest snapshot arrived (None: none on this connection)."""
        self._interval = 1.0
        self._tail = bytearray()
        self.pids: list[int] = []
        """Every ssh process this link started (tests check they are gone)."""

    @property
    def status(self) -> HostStatus:
        return HostStatus(
            name=self.name,
            state=self.state,
            reason=self.reason,
            last_ts=None if self.snapshot is None else self.snapshot.ts.timestamp(),
            received_at=self.received_at,
            remote_version=self.remote_version,
            snapshot=self.snapshot,
        )

    def argv(self) -> list[str]:
        remote = self.host.remote_command("stream")
        return self.host.ssh_argv(self.fleet, self.control_dir, remote, tty=False)

    def refresh(self) -> bool:
        """Live, slow or stale by the age of the newest snapshot (connected links only);
        True when the state changed."""
        if self._connected_at is None:
            return False
        before = (self.state, self.reason)
        since = self._received if self._received is not None else self._connected_at
        age = self.monotonic() - since
        if age >= self.fleet.stale_after:
            self.state = "stale"
            self.reason = self.warning or f"no snapshot for over {self.fleet.stale_after:g}s"
        elif self._received is None:
            self.state, self.reason = "connecting", self.warning or None
        elif age > (late := max(2 * self._interval, SLOW_MIN)):
            self.state = "slow"
            self.reason = self.warning or f"no snapshot for over {late:g}s"
        else:
            self.state, self.reason = "live", self.warning or None
        return (self.state, self.reason) != before

    async def run(self, on_change: Callable[[], None], stop: asyncio.Event) -> None:
        """Connect, stream, and retry with backoff until `stop`."""
        while not stop.is_set():
            try:
                good = await _until(self._session(on_change), stop)
            except Exception as exc:  # a bug must cost this host only, and say so
                log.exception("fleet host %s", self.name)
                self._end("failed", f"internal error: {type(exc).__name__}: {exc}", on_change)
                good = False
            if stop.is_set():
                return
            if good:
                self.backoff.reset()
            await wait_set(stop, self.backoff.failed())

    async def _session(self, on_change: Callable[[], None]) -> bool:
        """One ssh process, start to end; True when it delivered a snapshot."""
        self._connected_at = self._received = None
        self.warning = ""
        self._tail.clear()
        self._set("connecting", None, on_change)
        argv = self.argv()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=protocol.MAX_LINE + 1,
                start_new_session=True,  # never the terminal's: no prompt, no signal from it
            )
        except OSError as exc:
            self._end("failed", f"cannot run {safe.clean(argv[0], 200)}: {exc.strerror}", on_change)
            return False
        assert proc.stdout is not None and proc.stderr is not None
        self.pids = [*self.pids[-9:], proc.pid]
        errors = asyncio.create_task(self._pump_stderr(proc.stderr))
        reader = asyncio.create_task(self._read(proc.stdout, on_change))
        exited = asyncio.create_task(proc.wait())
        try:
            await asyncio.wait({reader, exited}, return_when=asyncio.FIRST_COMPLETED)
            if not reader.done():  # its output may still be in the pipe (or held open
                await asyncio.wait({reader}, timeout=1.0)  # by a ControlMaster): drain
            ended = reader.result() if reader.done() else None
        finally:
            reader.cancel()
            await _stop_process(proc)
            exited.cancel()
            await asyncio.wait({errors}, timeout=0.5)  # the rest of ssh's complaint
            errors.cancel()
        good = self._received is not None
        state, reason = ended or self._exit_reason(proc.returncode)
        self._end(state, reason, on_change)
        return good

    async def _read(
        self, out: asyncio.StreamReader, on_change: Callable[[], None]
    ) -> tuple[HostState, str] | None:
        """Lines until EOF (None: the exit code says why) or a line that ends it."""
        flood = Flood(self.monotonic)
        deadline = 2 * self.fleet.connect_timeout  # ssh's connect, then the handshake
        try:
            async with asyncio.timeout(deadline):
                first = await out.readline()
        except TimeoutError:
            tail = self._last_stderr()
            return "unreachable", f"no answer within {deadline:g}s" + (f": {tail}" if tail else "")
        except ValueError:
            return "failed", f"a line longer than {protocol.MAX_LINE // 2**20} MiB"
        if not first:
            return None
        try:
            line = await _decode(first)
        except protocol.VersionMismatch as exc:
            return "failed", str(exc)
        except protocol.ProtocolError as exc:
            return "failed", f"not a tui-monitor stream: {exc}"
        if isinstance(line, protocol.ErrorLine):
            return "failed", line.reason
        if not isinstance(line, protocol.Handshake):
            return "failed", "the stream did not begin with a handshake"
        self.remote_version, self._interval = line.version, line.interval
        self._connected_at = self.monotonic()
        self.refresh()
        on_change()
        while True:
            try:
                raw = await out.readline()
            except ValueError:
                return "failed", f"a line longer than {protocol.MAX_LINE // 2**20} MiB"
            if not raw:
                return None
            too_much = flood.over(len(raw))
            if too_much:
                return "failed", too_much
            try:
                line = await _decode(raw)
            except protocol.ProtocolError as exc:
                return "failed", f"bad line from the remote: {exc}"
            if isinstance(line, protocol.ErrorLine):
                return "failed", line.reason
            if isinstance(line, protocol.Handshake):
                return "failed", "a second handshake in the stream"
            self.warning = line.warning
            if isinstance(line, protocol.SnapshotLine):
                self.snapshot = line.snapshot
                self._interval = line.snapshot.interval
                self._received, self.received_at = self.monotonic(), self.wall()
            self.refresh()
            on_change()

    async def _pump_stderr(self, err: asyncio.StreamReader) -> None:
        """Keep the last STDERR_TAIL bytes of ssh's (and the remote's) stderr."""
        while chunk := await err.read(STDERR_TAIL):
            self._tail += chunk
            del self._tail[:-STDERR_TAIL]

    def _last_stderr(self) -> str:
        lines = [ln.strip() for ln in bytes(self._tail).decode("utf-8", "replace").splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("Warning: Permanently added")]
        return safe.clean(lines[-1], protocol.REASON_MAX) if lines else ""

    def _exit_reason(self, code: int | None) -> tuple[HostState, str]:
        """Why the stream ended, from ssh's exit code and the last line of its stderr."""
        tail = self._last_stderr()
        program = safe.clean(self.host.command, 80)
        if code == 127 or "command not found" in tail:
            return "failed", f"no {program} on {self.name}" + (f" ({tail})" if tail else "")
        if code == 255:  # ssh's own words mostly start `ssh: ` already
            said = tail if tail.startswith("ssh: ") else f"ssh: {tail}"
            return "unreachable", said if tail else "ssh failed (exit 255)"
        if self._connected_at is not None:
            return "unreachable", tail or f"the stream ended (exit {code})"
        return "failed", f"the remote exited {code}" + (f": {tail}" if tail else "")

    def _set(self, state: HostState, reason: str | None, on_change: Callable[[], None]) -> None:
        if (state, reason) != (self.state, self.reason):
            self.state, self.reason = state, reason
            on_change()

    def _end(self, state: HostState, reason: str, on_change: Callable[[], None]) -> None:
        self._connected_at = self._received = None
        self._set(state, reason, on_change)
        log.info("fleet host %s: %s: %s", self.name, state, reason)


async def _decode(raw: bytes) -> protocol.Line:
    if len(raw) >= OFF_LOOP:
        return await asyncio.to_thread(protocol.decode, raw)
    return protocol.decode(raw)


async def _until(coro: Coroutine[Any, Any, bool], stop: asyncio.Event) -> bool:
    """`coro`'s result, or False once `stop` is set (it is cancelled then)."""
    task = asyncio.create_task(coro)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # cancelled from outside: its ssh goes too
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    return task.result()


async def _stop_process(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after EXIT_GRACE; always reaped. Only ssh itself: a shared
    connection's master (ControlPersist) lives on in its own session, as it should."""
    if proc.returncode is None:
        _signal(proc, signal.SIGTERM)
        try:
            async with asyncio.timeout(EXIT_GRACE):
                await proc.wait()
        except TimeoutError:
            _signal(proc, signal.SIGKILL)
            await proc.wait()
    if proc.stdin is not None:
        proc.stdin.close()


def _signal(proc: asyncio.subprocess.Process, sig: int) -> None:
    """`sig` to ssh by its pid, not `proc.send_signal`: that first polls (waitpid) the child,
    and an ssh that has just exited is then reaped there, behind asyncio's child watcher,
    which reports exit 255 instead of its real status (127, a missing remote program, read as
    unreachable) and warns on our stderr (over the remote's screen after `enter`). The one
    instant the pid may be free with returncode still None (the watcher reaped it, its
    callback has not run) is the window every kill-by-pid has; asyncio had it before 3.9."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


class SshFleet:
    """Every configured host's link, run side by side; the `Fleet` the viewer uses."""

    def __init__(
        self,
        hosts: Sequence[HostConfig],
        fleet: FleetSettings,
        control_dir: Path | None,
        *,
        monotonic: Clock = time.monotonic,
        wall: Clock = time.time,
    ) -> None:
        self.links = [
            HostLink(h, fleet, control_dir, monotonic=monotonic, wall=wall) for h in hosts
        ]

    def statuses(self) -> tuple[HostStatus, ...]:
        return tuple(link.status for link in self.links)

    async def run(self, on_change: Callable[[], None], stop: asyncio.Event) -> None:
        async def watch() -> None:
            while not await wait_set(stop, WATCH_EVERY):
                if any([link.refresh() for link in self.links]):
                    on_change()

        await asyncio.gather(watch(), *(link.run(on_change, stop) for link in self.links))


def control_dir() -> Path | None:
    """The private (0700, ours) directory for ssh's ControlMaster sockets: short, as socket
    paths must be: $XDG_RUNTIME_DIR/tui-monitor/ssh, else /tmp/tui-monitor-UID/ssh. None (no
    connection reuse) where it cannot be made private."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "tui-monitor" if runtime else Path(f"/tmp/tui-monitor-{os.getuid()}")
    path = base / "ssh"
    try:
        for directory in (base, path):
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory, 0o700)
        st = os.lstat(path)
    except OSError:  # no reuse, still a fleet
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return path
