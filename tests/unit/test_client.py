"""tui_monitor.client against a small real Unix-socket server run in a thread."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_monitor import client
from tui_monitor.client import ClientError, Reporter, default_socket_path, send

Message = dict[str, Any]


def _default_respond(msg: Message) -> Message:
    text = msg.get("message")
    if isinstance(text, str) and text.startswith("reject"):
        return {"ok": False, "error": msg.get("reason", "not allowed")}
    return {"ok": True}


class IngestServer:
    """Records every line it reads and answers each one, in order, unless told otherwise.

    `batch`: hold replies until that many are due (or the sender goes quiet for 0.2 s), so a
    client that waits for each reply before writing the next line crawls.
    `hangup(n, msg)`: close the connection on the n-th line of it, unanswered and unrecorded.
    """

    def __init__(
        self,
        path: Path,
        *,
        reply: bool = True,
        batch: int = 1,
        respond: Callable[[Message], Message] = _default_respond,
        hangup: Callable[[int, Message], bool] | None = None,
    ) -> None:
        self.path = path
        self.reply = reply
        self.batch = batch
        self.respond = respond
        self.hangup = hangup
        self.received: list[Message] = []
        self.raw: list[bytes] = []
        self.connections = 0
        self.max_batch = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None

    def start(self) -> IngestServer:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(16)
        listener.settimeout(0.05)
        self._listener = listener
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        if self._listener is not None:
            self._listener.close()
        self.path.unlink(missing_ok=True)

    def messages(self, type_: str | None = None) -> list[Message]:
        with self._lock:
            return [m for m in self.received if type_ is None or m.get("type") == type_]

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.connections += 1
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        due: list[bytes] = []
        count = 0
        with conn:
            while not self._stop.is_set():
                if not select.select([conn], [], [], 0.2 if due else 0.05)[0]:
                    self._answer(conn, due)
                    continue
                data = conn.recv(65536)
                if not data:
                    return
                *lines, buf = (buf + data).split(b"\n")
                for raw in lines:
                    count += 1
                    msg = json.loads(raw)
                    if self.hangup is not None and self.hangup(count, msg):
                        self._answer(conn, due)
                        return
                    with self._lock:
                        self.raw.append(raw)
                        self.received.append(msg)
                    if self.reply:
                        due.append(json.dumps(self.respond(msg)).encode() + b"\n")
                    if len(due) >= self.batch:
                        self._answer(conn, due)

    def _answer(self, conn: socket.socket, due: list[bytes]) -> None:
        if due:
            self.max_batch = max(self.max_batch, len(due))
            conn.sendall(b"".join(due))
            due.clear()


@pytest.fixture
def serve(short_dir: Path) -> Iterator[Callable[..., IngestServer]]:
    servers: list[IngestServer] = []

    def start(**options: Any) -> IngestServer:
        server = IngestServer(short_dir / f"s{len(servers)}.sock", **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def reporters() -> Iterator[list[Reporter]]:
    """Reporters to close after the test, so no thread outlives it."""
    made: list[Reporter] = []
    yield made
    for reporter in made:
        reporter.close(timeout=0.5)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.01)


def reporter_threads(*agents: str) -> list[threading.Thread]:
    names = {f"tui-monitor-reporter[{agent}]" for agent in agents}
    return [t for t in threading.enumerate() if t.name in names]


# -- default_socket_path and send() ------------------------------------------------------


def test_default_socket_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert default_socket_path() == tmp_path / "tui-monitor" / "ingest.sock"
    monkeypatch.setenv("TUI_MONITOR_SOCKET", str(tmp_path / "x.sock"))
    assert default_socket_path() == tmp_path / "x.sock"
    monkeypatch.delenv("TUI_MONITOR_SOCKET")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_socket_path() == Path(f"/tmp/tui-monitor-{os.getuid()}/ingest.sock")


def test_send_delivers_one_compact_ascii_line(serve: Callable[..., IngestServer]) -> None:
    server = serve()
    message = {"v": 1, "type": "event", "agent": "a", "message": "héllo"}
    send(message, path=server.path)
    assert server.messages() == [message]
    assert server.raw == [b'{"v":1,"type":"event","agent":"a","message":"h\\u00e9llo"}']


def test_send_raises_with_the_servers_reason(serve: Callable[..., IngestServer]) -> None:
    server = serve()
    with pytest.raises(ClientError) as err:
        send({"message": "reject", "reason": "unknown type 'x'"}, path=server.path)
    assert str(err.value) == "unknown type 'x'"


def test_send_makes_a_hostile_reason_one_inert_line(serve: Callable[..., IngestServer]) -> None:
    server = serve()
    with pytest.raises(ClientError) as err:
        send({"message": "reject", "reason": "bad\n\x1b[31mred\u202e"}, path=server.path)
    assert str(err.value) == "bad\\n\\x1b[31mred\\u202e"


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000, b'{"ok": ' + b"1" * 5000 + b"}", b"\xff"],
    ids=["nested 100,000 deep", "a 5,000-digit number", "not UTF-8"],
)
def test_a_reply_json_cannot_take_is_a_rejection_not_a_crash(raw: bytes) -> None:
    accepted, reason = client._parse_reply(raw)
    assert not accepted and reason.startswith("unreadable reply from the recorder")


def test_send_without_a_server_names_the_path(short_dir: Path) -> None:
    missing = short_dir / "none.sock"
    with pytest.raises(ClientError) as err:
        send({"v": 1}, path=missing)
    assert str(err.value) == (
        f"no tui-monitor recorder is listening at {missing} "
        "(start `tui-monitor` or `tui-monitor record`)"
    )
    # A socket file left behind by a recorder that died: connection refused, same line.
    stale = short_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(stale))
    with pytest.raises(ClientError, match="no tui-monitor recorder is listening at"):
        send({"v": 1}, path=stale)


def test_send_times_out_when_no_reply_comes(serve: Callable[..., IngestServer]) -> None:
    server = serve(reply=False)
    with pytest.raises(ClientError) as err:
        send({"v": 1}, path=server.path, timeout=0.3)
    assert str(err.value) == f"no reply from the recorder at {server.path} within 0.3 s"
    assert server.messages() == [{"v": 1}]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"x": float("nan")}, "message cannot be sent as JSON: Out of range float"),
        ({"x": object()}, "message cannot be sent as JSON: Object of type object"),
        ({"x": "a" * client.MAX_LINE_BYTES}, "message too long: 65544 bytes as a JSON line"),
    ],
)
def test_send_refuses_what_is_not_a_protocol_line(
    short_dir: Path, message: dict[str, object], expected: str
) -> None:
    with pytest.raises(ClientError) as err:
        send(message, path=short_dir / "none.sock")
    assert str(err.value).startswith(expected)
    assert "\n" not in str(err.value)


# -- Reporter ---------------------------------------------------------------------------


def test_reporter_delivers_every_kind_in_order_with_its_fields(
    serve: Callable[..., IngestServer], reporters: list[Reporter]
) -> None:
    server = serve()
    before = time.time()
    reporter = Reporter("alpha", path=server.path, kind="worker")
    reporters.append(reporter)
    reporter.register(labels={"team": "infra"})
    reporter.heartbeat("busy", queue_depth=3, metrics={"rps": 1.5})
    reporter.event("started", level="warning", data={"n": 1})
    reporter.usage("m1", input_tokens=10, output_tokens=2, cost_usd=0.01, request_id="r1")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        reporter.exception(exc)
    for i in range(200):
        reporter.event(f"e{i}")
    assert reporter.flush(10)
    after = time.time()

    got = server.messages()
    for msg in got:
        assert msg["v"] == 1
        assert msg["agent"] == "alpha"
        assert msg["pid"] == os.getpid()
        assert before <= msg["ts"] <= after
    trimmed = [{k: v for k, v in m.items() if k not in ("v", "agent", "pid", "ts")} for m in got]
    stack = trimmed[5].pop("stack")
    trimmed[0].pop("labels", None)  # the automatic register may already carry the new labels
    assert trimmed[:6] == [
        {"type": "register", "kind": "worker"},
        {"type": "register", "kind": "worker", "labels": {"team": "infra"}},
        {"type": "heartbeat", "status": "busy", "queue_depth": 3, "metrics": {"rps": 1.5}},
        {
            "type": "event",
            "level": "warning",
            "kind": "message",
            "message": "started",
            "data": {"n": 1},
        },
        {
            "type": "usage",
            "model": "m1",
            "input_tokens": 10,
            "output_tokens": 2,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "cost_usd": 0.01,
            "request_id": "r1",
        },
        {"type": "error", "error_type": "ValueError", "message": "boom"},
    ]
    assert stack.startswith("Traceback") and "test_reporter_delivers" in stack
    assert [m["message"] for m in trimmed[6:]] == [f"e{i}" for i in range(200)]
    stats = reporter.stats
    assert stats["queued"] == 205
    assert stats["accepted"] == stats["sent"] == 206  # the automatic register too
    assert stats["rejected"] == stats["dropped"] == stats["errors"] == stats["reconnects"] == 0


def test_reporter_sends_one_hour_cache_writes_only_when_there_are_some(
    serve: Callable[..., IngestServer], reporters: list[Reporter]
) -> None:
    """A recorder older than the field refuses unknown fields: a 0 is left out."""
    server = serve()
    reporter = Reporter("alpha", path=server.path)
    reporters.append(reporter)
    reporter.usage("m1", cache_write_tokens=5, cache_write_1h_tokens=3)
    reporter.usage("m1", cache_write_tokens=5)
    assert reporter.flush(10)
    usage = [m for m in server.messages() if m["type"] == "usage"]
    assert [m.get("cache_write_1h_tokens") for m in usage] == [3, None]
    assert "cache_write_1h_tokens" not in usage[1]
    assert reporter.stats["rejected"] == 0


def test_reporter_pipelines_instead_of_one_round_trip_per_message(
    serve: Callable[..., IngestServer], reporters: list[Reporter]
) -> None:
    # Replies come only in batches of 16 (or after 0.2 s of quiet): a client that waits for
    # each reply before writing the next line needs 0.2 s a message, ~17 minutes here.
    server = serve(batch=16)
    reporter = Reporter("flood", path=server.path, buffer=5000)
    reporters.append(reporter)
    for i in range(5000):
        reporter.event(str(i))
    assert reporter.flush(60)
    assert [m["message"] for m in server.messages("event")] == [str(i) for i in range(5000)]
    assert server.max_batch == 16
    assert reporter.stats["accepted"] == 5001


def test_reporter_buffers_until_the_server_appears(
    short_dir: Path, reporters: list[Reporter]
) -> None:
    path = short_dir / "late.sock"
    reporter = Reporter("late", path=path)
    reporters.append(reporter)
    for i in range(10):
        reporter.event(str(i))
    assert not reporter.flush(0.3)
    server = IngestServer(path).start()
    try:
        assert reporter.flush(15)
        assert [m["message"] for m in server.messages("event")] == [str(i) for i in range(10)]
        assert server.messages()[0]["type"] == "register"
    finally:
        server.stop()


def test_reporter_reconnects_and_resends_when_the_server_hangs_up(
    serve: Callable[..., IngestServer], reporters: list[Reporter]
) -> None:
    server = serve(hangup=lambda n, msg: n == 150)
    reporter = Reporter("flaky", path=server.path)
    reporters.append(reporter)
    for i in range(1000):
        reporter.event(str(i))
    assert reporter.flush(30)
    seen = [int(m["message"]) for m in server.messages("event")]
    first_seen = list(dict.fromkeys(seen))  # at least once: duplicates allowed, order kept
    assert first_seen == list(range(1000))
    assert server.connections >= 7
    assert len(server.messages("register")) == server.connections
    assert reporter.stats["reconnects"] == server.connections - 1
    assert reporter.stats["dropped"] == 0


def test_reporter_gives_up_a_line_that_always_makes_the_server_hang_up(
    serve: Callable[..., IngestServer], reporters: list[Reporter]
) -> None:
    server = serve(hangup=lambda n, msg: msg.get("message") == "poison")
    reporter = Reporter("p", path=server.path)
    reporters.append(reporter)
    reporter.event("before")
    reporter.event("poison")
    reporter.event("after")
    wait_for(lambda: reporter.stats["dropped"] == 1)
    assert reporter.flush(10)
    messages = [m["message"] for m in server.messages("event")]
    assert messages[0] == "before" and messages[-1] == "after"
    assert server.connections == client.MAX_ATTEMPTS + 1


def test_reporter_drops_the_oldest_when_the_buffer_is_full(
    short_dir: Path, reporters: list[Reporter]
) -> None:
    path = short_dir / "late.sock"
    reporter = Reporter("small", path=path, buffer=10, register=False)
    reporters.append(reporter)
    for i in range(25):
        reporter.event(str(i))
    assert reporter.stats["queued"] == 25
    assert reporter.stats["dropped"] == 15
    server = IngestServer(path).start()
    try:
        assert reporter.flush(15)
        assert [m["message"] for m in server.messages()] == [str(i) for i in range(15, 25)]
    finally:
        server.stop()


def test_reporter_counts_unserialisable_messages_instead_of_raising(
    serve: Callable[..., IngestServer], reporters: list[Reporter]
) -> None:
    server = serve()
    reporter = Reporter("messy", path=server.path, register=False)
    reporters.append(reporter)
    reporter.event("nan", data={"x": float("nan")})
    reporter.event("obj", data={"x": object()})
    reporter.heartbeat(metrics={"x": float("inf")})
    reporter.event("x" * client.MAX_LINE_BYTES)
    reporter.event("fine")
    assert reporter.flush(10)
    assert reporter.stats["errors"] == 4
    assert reporter.stats["queued"] == 1
    assert [m["message"] for m in server.messages()] == ["fine"]


def test_reporter_keeps_long_stacks_to_their_end(
    serve: Callable[..., IngestServer], reporters: list[Reporter]
) -> None:
    server = serve()
    reporter = Reporter("deep", path=server.path, register=False)
    reporters.append(reporter)
    reporter.error("deep", stack="frame\n" * 100_000 + "the end")
    assert reporter.flush(10)
    (msg,) = server.messages()
    assert msg["stack"].endswith("frame\nthe end")
    assert len(msg["stack"]) <= client.STACK_MAX + 20


def test_reporter_counts_rejections_and_keeps_the_reason(
    serve: Callable[..., IngestServer], reporters: list[Reporter]
) -> None:
    server = serve()
    reporter = Reporter("r", path=server.path)
    reporters.append(reporter)
    reporter.event("reject this", data={"why": 1})
    reporter.event("reject", kind="x")
    assert reporter.flush(10)
    assert reporter.stats["rejected"] == 2
    assert reporter.last_rejection == "not allowed"
    reporter.event("ok")  # nothing valid is lost because something invalid came before it
    assert reporter.flush(10)
    assert reporter.stats["accepted"] == 2
    assert server.messages("event")[-1]["message"] == "ok"


def test_close_returns_promptly_without_a_server(
    short_dir: Path, serve: Callable[..., IngestServer]
) -> None:
    never = Reporter("nobody", path=short_dir / "none.sock")
    never.event("lost")
    started = time.monotonic()
    never.close(timeout=2.0)
    assert time.monotonic() - started < 2.0 + 1.0

    # The server goes away mid-stream: close still keeps to its timeout.
    server = serve()
    gone = Reporter("gone", path=server.path)
    gone.event("first")
    assert gone.flush(10)
    server.stop()
    for i in range(100):
        gone.event(str(i))
    started = time.monotonic()
    gone.close(timeout=1.0)
    assert time.monotonic() - started < 1.0 + 1.0
    wait_for(lambda: not reporter_threads("nobody", "gone"), timeout=5)
    gone.event("after close")  # ignored, counted, never raised
    assert gone.stats["dropped"] >= 1


def test_reporter_thread_is_a_daemon(short_dir: Path, reporters: list[Reporter]) -> None:
    reporter = Reporter("d", path=short_dir / "none.sock")
    reporters.append(reporter)
    (thread,) = reporter_threads("d")
    assert thread.daemon


def test_context_manager_flushes_on_exit(serve: Callable[..., IngestServer]) -> None:
    server = serve()
    with Reporter("cm", path=server.path) as reporter:
        for i in range(50):
            reporter.event(str(i))
    assert [m["message"] for m in server.messages("event")] == [str(i) for i in range(50)]


def test_a_forked_child_starts_its_own_connection(
    serve: Callable[..., IngestServer], reporters: list[Reporter]
) -> None:
    server = serve()
    reporter = Reporter("forky", path=server.path)
    reporters.append(reporter)
    reporter.event("parent")
    assert reporter.flush(10)
    pid = os.fork()
    if pid == 0:  # the child: only this thread exists; the parent's socket is not ours
        code = 1
        try:
            reporter.event("child")
            stats = reporter.stats
            code = 0 if reporter.flush(10) and stats["queued"] == 1 else 2
            reporter.close(1.0)
        finally:
            os._exit(code)
    deadline = time.monotonic() + 20
    while (status := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("forked child did not finish")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status[1]) == 0
    child = [m for m in server.messages() if m["pid"] == pid]
    assert [(m["type"], m.get("message")) for m in child] == [
        ("register", None),
        ("event", "child"),
    ]
    reporter.event("parent again")
    assert reporter.flush(10)
    assert server.messages("event")[-1]["message"] == "parent again"


# -- stdlib only --------------------------------------------------------------------------


def test_import_pulls_in_no_third_party_module() -> None:
    code = "import tui_monitor.client, sys; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(out.stdout.split())
    heavy = {"pydantic", "pydantic_settings", "textual", "rich", "psutil", "platformdirs"}
    assert not loaded & heavy
    assert {m for m in loaded if m.startswith("tui_monitor")} == {
        "tui_monitor",
        "tui_monitor.client",
    }


def test_the_module_works_copied_alone_into_another_project(
    short_dir: Path, serve: Callable[..., IngestServer]
) -> None:
    server = serve()
    project = short_dir / "other"
    project.mkdir()
    shutil.copy(client.__file__, project / "reporting.py")
    code = (
        "import reporting\n"
        f"path = reporting.Path({str(server.path)!r})\n"
        "reporting.send({'v': 1, 'type': 'event', 'message': 'sent'}, path=path)\n"
        "r = reporting.Reporter('copied', path=path)\n"
        "r.event('reported')\n"
        "print(r.flush(10))\n"
        "r.close()\n"
    )
    # -S: no site-packages at all, so only the standard library can be imported.
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
    assert [m["message"] for m in server.messages("event")] == ["sent", "reported"]
