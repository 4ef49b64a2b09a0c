"""Client for ingest protocol v1: `send` for `tui-monitor emit`, `Reporter` for Python agents.

Standard library only, and nothing from tui_monitor: an agent can copy this one file into its
own project. A line is one JSON object; the recorder answers every line with one reply line,
``{"ok":true}`` or ``{"ok":false,"error":"<reason>"}``. By default "ok" means accepted: held
in the recorder's memory and written with its next flush (a crash of the recorder before
that loses it). A line with ``"ack": "stored"`` is answered only once it is committed to the
history database: `send(..., stored=True)` and `Reporter(..., stored=True)` ask for that.

`Reporter` must never hurt the agent it lives in: calls only serialise and append to a bounded
buffer, one daemon thread does all socket work, and nothing raises into the caller.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import select
import socket
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

__all__ = [
    "AGENT_ENV",
    "MAX_LINE_BYTES",
    "ClientError",
    "Reporter",
    "default_agent",
    "default_socket_path",
    "send",
]

AGENT_ENV = "TUI_MONITOR_AGENT"
"""The agent's name, set by `tui-monitor run --name NAME`: the default of `Reporter`'s `agent`
(and of `emit --agent`), and how the recorder names the process `run` started."""
MAX_LINE_BYTES = 64 * 1024
"""The longest line the protocol allows, its newline included."""

WINDOW = 64
"""Lines a Reporter writes ahead of their replies (one round trip per message is too slow)."""
WINDOW_STORED = 1024
"""... when each reply waits for a commit (about a second): more in flight, same rate."""

BACKOFF_MIN = 0.1
BACKOFF_MAX = 5.0
MAX_ATTEMPTS = 5
"""Connections lost while one message waited first in line for its reply before it is dropped:
a line that makes the recorder hang up must not block everything behind it forever."""

STACK_MAX = 8192
"""Characters of a stack trace kept (the end, where the failure is), so errors fit in a line."""

IDLE_CHECK = 1.0
"""Seconds between checks that an idle connection is still open (so a restarted recorder
hears the register again without waiting for the agent's next message)."""

_POLL = 0.1
_REASON_MAX = 500
_MSG_NOSIGNAL: int = getattr(socket, "MSG_NOSIGNAL", 0)
STAT_NAMES = ("queued", "sent", "accepted", "rejected", "dropped", "reconnects", "errors")


def default_socket_path() -> Path:
    """$TUI_MONITOR_SOCKET if set; else $XDG_RUNTIME_DIR/tui-monitor/ingest.sock; else (no
    XDG_RUNTIME_DIR) a private dir /tmp/tui-monitor-<uid>/ingest.sock."""
    explicit = os.environ.get("TUI_MONITOR_SOCKET")
    if explicit:
        return Path(explicit).expanduser()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "tui-monitor" / "ingest.sock"
    return Path("/tmp") / f"tui-monitor-{os.getuid()}" / "ingest.sock"


def default_agent() -> str | None:
    """$TUI_MONITOR_AGENT (the name `tui-monitor run` gave this process), if set."""
    return os.environ.get(AGENT_ENV) or None


class ClientError(Exception):
    """One line: why the message was not accepted (refused by the server with its reason, no
    server listening at PATH, timed out, ...)."""


def _one_line(text: str, limit: int = _REASON_MAX) -> str:
    """A reason from the other end of a socket, made safe to print on one terminal line."""
    text = text[: limit + 1]
    out = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return out if len(out) <= limit else out[: limit - 3] + "..."


class _TooLong(ValueError):
    pass


def _encode(message: object) -> bytes:
    """One protocol line; ValueError/TypeError when it is not JSON or too long."""
    text = json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    line = text.encode("ascii")
    if len(line) > MAX_LINE_BYTES:  # the newline does not count, as on the server
        raise _TooLong(
            f"message too long: {len(line)} bytes as a JSON line, the limit is {MAX_LINE_BYTES}"
        )
    return line + b"\n"


def _parse_reply(raw: bytes) -> tuple[bool, str]:
    """(accepted, reason) from one reply line; an unreadable reply counts as a rejection."""
    try:
        reply = json.loads(raw)
    except (ValueError, RecursionError):
        reply = None
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        shown = raw[:80].decode("utf-8", "replace")
        return False, _one_line(f"unreadable reply from the recorder: {shown!r}")
    if reply["ok"]:
        return True, ""
    reason = reply.get("error")
    return False, _one_line(str(reason) if reason else "rejected (no reason given)")


def _no_listener(path: Path) -> str:
    return (
        f"no tui-monitor recorder is listening at {path} "
        "(start `tui-monitor` or `tui-monitor record`)"
    )


def send(
    message: dict[str, object],
    *,
    path: Path | None = None,
    timeout: float = 5.0,
    stored: bool = False,
) -> None:
    """Deliver one message and wait for its reply.

    Args:
        message: one protocol v1 message (``v``, ``type``, ``agent``, ...).
        path: the recorder's socket (default: `default_socket_path()`).
        timeout: seconds to wait for the connection and the reply.
        stored: wait until the recorder has committed the message to its history (adds
            ``"ack": "stored"``), not only accepted it into memory. The reply then takes up to
            the recorder's interval plus its flush interval (about 2 s by default).

    Raises:
        ClientError: one line: the recorder refused the message (its reason), could not store
            it, is not listening, or did not answer within `timeout`.
    """
    target = path if path is not None else default_socket_path()
    if stored:
        message = {**message, "ack": "stored"}
    try:
        line = _encode(message)
    except _TooLong as exc:
        raise ClientError(str(exc)) from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise ClientError(f"message cannot be sent as JSON: {exc}") from None
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(os.fspath(target))
            # Refused at once (another uid, too many)? Its reason may still be waiting.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(line)
            raw = _read_line(sock, deadline)
    except (FileNotFoundError, ConnectionRefusedError):
        raise ClientError(_no_listener(target)) from None
    except PermissionError:
        raise ClientError(f"permission denied connecting to the recorder at {target}") from None
    except TimeoutError:
        if stored:
            raise ClientError(
                f"the recorder at {target} did not confirm within {timeout:g} s that the "
                "message is stored (it may be unable to write: a full disk?); it may still be"
            ) from None
        raise ClientError(f"no reply from the recorder at {target} within {timeout:g} s") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ClientError(f"cannot talk to the recorder at {target}: {reason}") from None
    if raw is None:
        raise ClientError(f"the recorder at {target} hung up without replying")
    ok, reason = _parse_reply(raw)
    if not ok:
        raise ClientError(reason)


def _read_line(sock: socket.socket, deadline: float) -> bytes | None:
    """The first line the peer sends, or None if it closes first; TimeoutError at deadline."""
    buf = bytearray()
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            return None
        buf += chunk
        if len(buf) > MAX_LINE_BYTES:
            raise OSError("reply line too long")
    return bytes(buf[: buf.index(b"\n")])


@dataclass(slots=True)
class _Item:
    line: bytes
    seq: int | None  # None: the automatic register line, which flush() does not wait for
    attempts: int = 0


@dataclass(slots=True)
class _Conn:
    sock: socket.socket
    out: bytearray = field(default_factory=bytearray)
    inbuf: bytearray = field(default_factory=bytearray)
    written: int = 0  # leading items of the window already put on this connection
    replies: int = 0


class Reporter:
    """Reports one agent to the recorder from a background thread, at least once per message.

    Calls never block and never raise; when the recorder is away, messages wait in a bounded
    buffer (the oldest dropped first) and go out when it is back. `stats` counts lines on the
    wire, the automatic register lines and re-sends after a reconnect included.

    Args:
        agent: the agent's name, as the table shows it (default: $TUI_MONITOR_AGENT, set
            by `tui-monitor run --name NAME`; ValueError when neither names one).
        path: the recorder's socket (default: `default_socket_path()`).
        kind: the kind every (re-)registration announces.
        buffer: messages held while the recorder is away or slow.
        register: announce the agent on every connection.
        stored: ask for ``"ack": "stored"`` on every line: a line counts as answered (in
            `flush` and in `stats["accepted"]`) only once the recorder has committed it to its
            history, so `flush()` returning True means everything so far is on disk; a line
            lost in a recorder crash is sent again. Replies then take about a second.
    """

    def __init__(
        self,
        agent: str | None = None,
        *,
        path: Path | None = None,
        kind: str | None = None,
        buffer: int = 1000,
        register: bool = True,
        stored: bool = False,
    ) -> None:
        if buffer < 1:
            raise ValueError("buffer must hold at least one message")
        agent = agent or default_agent()
        if not agent:
            raise ValueError(f"no agent name: pass one, or set ${AGENT_ENV} (tui-monitor run)")
        self.agent: str = agent
        self.path = path if path is not None else default_socket_path()
        self._stored = stored
        self._window_size = WINDOW_STORED if stored else WINDOW
        self._buffer = buffer
        self._auto_register = register
        self._register_fields: dict[str, object] = {"kind": kind}
        self._closed = False
        self._reset()
        _LIVE.add(self)
        if register:
            with self._cond:
                self._ensure_thread()

    def _reset(self) -> None:
        """Fresh state: at construction, and in a forked child (the parent owns the old)."""
        self._owner = os.getpid()
        self._cond = threading.Condition()
        self._queue: deque[_Item] = deque()
        self._window: deque[_Item] = deque()  # written or about to be, awaiting replies
        self._seq = 0
        self._stats = dict.fromkeys(STAT_NAMES, 0)
        self._last_rejection: str | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._down = False  # the latest connection attempt failed

    def _check_fork(self) -> None:
        if os.getpid() != self._owner:
            self._reset()

    @property
    def stats(self) -> dict[str, int]:
        """queued, sent, accepted, rejected, dropped, reconnects, errors (a copy)."""
        self._check_fork()
        with self._cond:
            return dict(self._stats)

    @property
    def last_rejection(self) -> str | None:
        """The recorder's reason for the latest rejected line."""
        self._check_fork()
        return self._last_rejection

    # -- the agent's calls ---------------------------------------------------------------

    def register(
        self,
        *,
        kind: str | None = None,
        labels: dict[str, str] | None = None,
        pid: int | None = None,
    ) -> None:
        """Announce (again) who this agent is; also what every reconnection announces."""
        fields: dict[str, object] = {
            "kind": kind if kind is not None else self._register_fields.get("kind"),
            "labels": labels,
            "pid": pid,
        }
        if self._submit("register", fields):
            self._register_fields = fields

    def heartbeat(
        self,
        status: str | None = None,
        *,
        queue_depth: int | None = None,
        task: str | None = None,
        metrics: dict[str, float] | None = None,
    ) -> None:
        fields = {"status": status, "queue_depth": queue_depth, "task": task, "metrics": metrics}
        self._submit("heartbeat", fields)

    def event(
        self,
        message: str,
        *,
        level: str = "info",
        kind: str = "message",
        data: dict[str, object] | None = None,
    ) -> None:
        self._submit("event", {"level": level, "kind": kind, "message": message, "data": data})

    def error(self, message: str, *, error_type: str = "Error", stack: str | None = None) -> None:
        if stack is not None and len(stack) > STACK_MAX:
            stack = "...(truncated)\n" + stack[-STACK_MAX:]
        self._submit("error", {"error_type": error_type, "message": message, "stack": stack})

    def exception(self, exc: BaseException) -> None:
        """error() from an exception, with its formatted traceback as the stack."""
        try:
            stack = "".join(traceback.format_exception(exc))
            self.error(str(exc) or type(exc).__name__, error_type=type(exc).__name__, stack=stack)
        except Exception:
            self._count("errors")

    def usage(
        self,
        model: str,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cost_usd: float | None = None,
        request_id: str | None = None,
        cache_write_1h_tokens: int = 0,
    ) -> None:
        """Tokens of one request; `cache_write_1h_tokens` is the part of `cache_write_tokens`
        written with a one-hour TTL (priced higher than five-minute writes)."""
        fields = {
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
            # left out when 0: a recorder older than the field refuses unknown fields
            "cache_write_1h_tokens": cache_write_1h_tokens or None,
            "cost_usd": cost_usd,
            "request_id": request_id,
        }
        self._submit("usage", fields)

    def flush(self, timeout: float = 5.0) -> bool:
        """True when everything queued so far was sent and answered (and none of it dropped)."""
        try:
            self._check_fork()
            deadline = time.monotonic() + timeout
            with self._cond:
                target, dropped = self._seq, self._stats["dropped"]
                while not self._settled(target):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
                return self._stats["dropped"] == dropped
        except Exception:
            return False

    def close(self, timeout: float = 2.0) -> None:
        """Deliver what can be delivered within `timeout`, then stop the thread.

        Stops waiting as soon as a connection attempt fails: with no recorder there,
        undelivered messages are given up at once rather than holding the agent's exit.
        """
        try:
            self._check_fork()
            deadline = time.monotonic() + timeout
            with self._cond:
                if self._closed:
                    return
                self._closed = True
                thread = self._thread
                if thread is None:
                    return
                target = self._seq
                while not self._settled(target) and not self._down:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(min(left, _POLL))
                self._stopping = True
                self._cond.notify_all()
            thread.join(max(0.0, deadline - time.monotonic()))
        except Exception:
            pass

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- shared state (under self._cond) ------------------------------------------------

    def _submit(self, type_: str, fields: Mapping[str, object]) -> bool:
        """Serialise and queue one message; False (and counted) when it cannot go."""
        try:
            self._check_fork()
            message: dict[str, object] = {
                "v": 1,
                "type": type_,
                "agent": self.agent,
                "ts": time.time(),
                "pid": os.getpid(),
            }
            message.update((k, v) for k, v in fields.items() if v is not None)
            if self._stored:
                message["ack"] = "stored"
            try:
                line = _encode(message)
            except Exception:
                self._count("errors")
                return False
            with self._cond:
                if self._closed:
                    self._stats["dropped"] += 1
                    return False
                if len(self._queue) >= self._buffer:
                    self._queue.popleft()
                    self._stats["dropped"] += 1
                self._seq += 1
                self._queue.append(_Item(line, self._seq))
                self._stats["queued"] += 1
                self._ensure_thread()
                self._cond.notify_all()
            return True
        except Exception:
            return False

    def _count(self, name: str) -> None:
        with self._cond:
            self._stats[name] += 1

    def _ensure_thread(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(
                target=self._run, name=f"tui-monitor-reporter[{self.agent}]", daemon=True
            )
            self._thread.start()

    def _settled(self, target: int) -> bool:
        """Whether every message numbered up to `target` was answered or dropped."""
        for item in self._window:
            if item.seq is not None:
                return item.seq > target
        head = self._queue[0].seq if self._queue else None
        return head is None or head > target

    def _register_line(self) -> bytes | None:
        message: dict[str, object] = {
            "v": 1,
            "type": "register",
            "agent": self.agent,
            "ts": time.time(),
            "pid": os.getpid(),
        }
        message.update((k, v) for k, v in self._register_fields.items() if v is not None)
        if self._stored:
            message["ack"] = "stored"
        try:
            return _encode(message)
        except Exception:
            return None

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        backoff = BACKOFF_MIN
        connections = 0
        while True:
            with self._cond:
                if self._stopping:
                    return
            conn = self._connect()
            with self._cond:
                self._down = conn is None
                self._cond.notify_all()
            if conn is None:
                delay, backoff = backoff, min(backoff * 2, BACKOFF_MAX)
            else:
                with self._cond:
                    if connections:
                        self._stats["reconnects"] += 1
                connections += 1
                try:
                    self._pump(conn)
                except Exception:
                    pass  # the connection is gone, or a bug: reconnect either way
                finally:
                    conn.sock.close()
                    self._lost(conn)
                if conn.replies:
                    backoff = BACKOFF_MIN
                delay, backoff = backoff, min(backoff * 2, BACKOFF_MAX)
            with self._cond:
                if not self._stopping:
                    self._cond.wait(delay)

    def _connect(self) -> _Conn | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(2.0)
            sock.connect(os.fspath(self.path))
            sock.setblocking(False)
        except OSError:
            sock.close()
            return None
        return _Conn(sock)

    def _lost(self, conn: _Conn) -> None:
        """After a connection ends: keep unanswered lines to re-send, minus a poison one."""
        with self._cond:
            has_register = bool(self._window) and self._window[0].seq is None
            if has_register:
                self._window.popleft()  # the next connection sends a fresh one first
            if self._window and conn.written > int(has_register):
                head = self._window[0]
                head.attempts += 1
                if head.attempts >= MAX_ATTEMPTS:
                    self._window.popleft()
                    self._stats["dropped"] += 1
            self._cond.notify_all()

    def _pump(self, conn: _Conn) -> None:
        """Write lines ahead, read replies; returns on close(), raises when the line drops."""
        with self._cond:
            line = self._register_line() if self._auto_register else None
            if line is not None:
                self._window.appendleft(_Item(line, None))
        while True:
            with self._cond:
                if self._stopping:
                    return
                while self._queue and len(self._window) < self._window_size:
                    self._window.append(self._queue.popleft())
                fresh = len(self._window) - conn.written
                if fresh:
                    for item in itertools.islice(self._window, conn.written, None):
                        conn.out += item.line
                    conn.written += fresh
                    self._stats["sent"] += fresh
                idle = not conn.out and not self._window
                if idle:
                    self._cond.wait(IDLE_CHECK)
                    if self._stopping or self._queue:
                        continue
            if idle:
                readable, _, _ = select.select([conn.sock], [], [], 0)
                if readable:
                    self._receive(conn)
                continue
            readable, writable, _ = select.select(
                [conn.sock], [conn.sock] if conn.out else [], [], _POLL
            )
            if readable:
                self._receive(conn)
            if writable and conn.out:
                try:
                    sent = conn.sock.send(conn.out, _MSG_NOSIGNAL)
                except BlockingIOError:
                    continue
                except OSError:
                    self._drain(conn)
                    raise
                del conn.out[:sent]

    def _drain(self, conn: _Conn) -> None:
        """Read replies already waiting after a failed write, so they are not re-sent."""
        try:
            while select.select([conn.sock], [], [], 0)[0]:
                self._receive(conn)
        except (OSError, ValueError):
            pass

    def _receive(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        if not data:
            raise ConnectionError("the recorder hung up")
        conn.inbuf += data
        if b"\n" not in data:
            if len(conn.inbuf) > MAX_LINE_BYTES:
                raise ValueError("reply line too long")
            return
        *lines, rest = conn.inbuf.split(b"\n")
        conn.inbuf = bytearray(rest)
        with self._cond:
            for raw in lines:
                if not conn.written or not self._window:
                    continue  # a reply to nothing we sent: ignore it
                self._window.popleft()
                conn.written -= 1
                conn.replies += 1
                ok, reason = _parse_reply(bytes(raw))
                if ok:
                    self._stats["accepted"] += 1
                else:
                    self._stats["rejected"] += 1
                    self._last_rejection = reason
            self._cond.notify_all()


_LIVE: weakref.WeakSet[Reporter] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Give connected reporters a moment to deliver what the agent said last."""
    deadline = time.monotonic() + 1.0
    for reporter in list(_LIVE):
        reporter.close(timeout=max(0.0, deadline - time.monotonic()))
