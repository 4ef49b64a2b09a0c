"""The ingest socket for real: permissions, peers, bad input, back-pressure, into SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tui_monitor.config import IngestSettings, PresetSettings, Settings, StoreSettings
from tui_monitor.errors import SchemaError, ServerError
from tui_monitor.ingest.hub import IngestHub
from tui_monitor.ingest.server import IngestServer
from tui_monitor.recorder import Recorder
from tui_monitor.store.queries import History


@pytest.fixture
async def served(short_dir: Path) -> AsyncIterator[tuple[IngestHub, IngestServer]]:
    hub = IngestHub(limit=1000)
    server = IngestServer(short_dir / "run" / "ingest.sock", hub)
    await server.start()
    yield hub, server
    await server.close()


async def talk(path: Path, lines: list[bytes]) -> list[dict[str, object]]:
    """Send lines on one connection and read one reply per line."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b"".join(x + b"\n" for x in lines))
    await writer.drain()
    replies = [json.loads(await asyncio.wait_for(reader.readline(), 10)) for _ in lines]
    writer.close()
    await writer.wait_closed()
    return replies


def event(agent: str = "planner", message: str = "hello", **more: object) -> bytes:
    return json.dumps(
        {"v": 1, "type": "event", "agent": agent, "message": message, **more}
    ).encode()


async def test_socket_and_directory_are_private(served: tuple[IngestHub, IngestServer]) -> None:
    _, server = served
    assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600
    assert stat.S_ISSOCK(os.lstat(server.path).st_mode)
    assert stat.S_IMODE(os.stat(server.path.parent).st_mode) == 0o700
    assert not str(server.path).startswith("\0")


async def test_bad_lines_get_their_reason_and_the_next_valid_line_is_served(
    served: tuple[IngestHub, IngestServer],
) -> None:
    hub, server = served
    bad = [
        b"{oops",
        b"\xff\xfe\xfd",
        b'{"v":1,"type":"event","agent":"a","message":7}',
        b'{"v":1,"type":"teleport","agent":"a"}',
        b"x" * (1 << 20),
        b"[" * 100_000,
        b'{"v":1,"type":"heartbeat","agent":"a","metrics":{"x":NaN}}',
        b'{"v":1,"type":"heartbeat","agent":"a","metrics":{"x":1e400}}',
        b'{"v":1,"type":"event","agent":"a","ts":"9999-01-01T00:00:00Z"}',
    ]
    lines = []
    for b in bad:
        lines += [b, event(message=f"after {b[:10]!r}")]
    replies = await talk(server.path, lines)
    verdicts = replies[0::2]
    assert all(r["ok"] is False for r in verdicts), verdicts
    reasons = [str(r["error"]) for r in verdicts]
    for reason, expected in zip(
        reasons,
        ["invalid JSON", "not valid UTF-8", "message", "unknown type", "longer than",
         "longer than", "NaN", "out of range", "in the future"],
        strict=True,
    ):  # fmt: skip
        assert expected in reason
    assert all(r == {"ok": True} for r in replies[1::2])
    assert (hub.received, hub.rejected, hub.pending) == (len(lines), len(bad), len(bad))
    assert [e.message for e in hub.drain().events] == [f"after {b[:10]!r}" for b in bad]


async def test_a_line_split_across_writes_and_crlf(served: tuple[IngestHub, IngestServer]) -> None:
    hub, server = served
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    data = event(message="split") + b"\r\n"
    for i in range(0, len(data), 7):
        writer.write(data[i : i + 7])
        await writer.drain()
        await asyncio.sleep(0.01)
    assert json.loads(await reader.readline()) == {"ok": True}
    writer.write(event(message="last, no newline"))
    writer.write_eof()
    assert json.loads(await reader.readline()) == {"ok": True}
    writer.close()
    assert [e.message for e in hub.drain().events] == ["split", "last, no newline"]


def test_another_uid_is_refused(short_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another uid")
    short_dir.chmod(0o755)
    path = short_dir / "run" / "ingest.sock"
    code = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "s.connect(sys.argv[1])\n"
        's.sendall(b\'{"v":1,"type":"event","agent":"x"}\\n\')\n'
        "print(s.makefile().readline(), end='')\n"
    )

    async def go() -> tuple[str, IngestHub]:
        hub = IngestHub()
        server = IngestServer(path, hub)
        await server.start()
        # Let the other uid reach the socket: only for this test (the dir stays ours).
        path.parent.chmod(0o755)
        path.chmod(0o666)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", code, str(path), stdout=subprocess.PIPE
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            await server.close()
        return out.decode(), hub

    out, hub = asyncio.run(go())
    reply = json.loads(out)
    assert reply["ok"] is False and "uid 65534" in reply["error"]
    assert (hub.refused, hub.received) == (1, 0)


async def test_a_stale_socket_is_replaced_and_a_live_one_never_stolen(short_dir: Path) -> None:
    path = short_dir / "ingest.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a crashed recorder leaves
    first = IngestServer(path, IngestHub())
    await first.start()
    second = IngestServer(path, IngestHub())
    with pytest.raises(ServerError, match="another recorder is listening"):
        await second.start()
    assert await talk(path, [event()]) == [{"ok": True}]  # the first still serves
    await first.close()
    assert not path.exists()


async def test_refuses_a_symlinked_or_foreign_directory(short_dir: Path) -> None:
    real = short_dir / "real"
    real.mkdir(mode=0o700)
    (short_dir / "link").symlink_to(real)
    with pytest.raises(ServerError, match="not a directory"):
        await IngestServer(short_dir / "link" / "ingest.sock", IngestHub()).start()
    regular = short_dir / "file.sock"
    regular.write_text("not a socket")
    with pytest.raises(ServerError, match="not a socket"):
        await IngestServer(regular, IngestHub()).start()
    assert regular.read_text() == "not a socket"


async def test_connection_cap(short_dir: Path) -> None:
    hub = IngestHub()
    server = IngestServer(short_dir / "ingest.sock", hub, max_connections=2)
    await server.start()
    try:
        held = [await asyncio.open_unix_connection(str(server.path)) for _ in range(2)]
        for _, w in held:
            w.write(event() + b"\n")
        for r, _ in held:
            assert json.loads(await r.readline()) == {"ok": True}
        reader, writer = await asyncio.open_unix_connection(str(server.path))
        reply = json.loads(await asyncio.wait_for(reader.readline(), 5))
        assert reply["ok"] is False and "too many connections" in reply["error"]
        writer.close()
        for _, w in held:
            w.close()
        assert hub.refused == 1
    finally:
        await server.close()


async def test_back_pressure_stops_reading_until_a_tick_drains(short_dir: Path) -> None:
    hub = IngestHub(limit=100)
    server = IngestServer(short_dir / "ingest.sock", hub)
    await server.start()
    try:
        sending = asyncio.create_task(
            talk(server.path, [event(message=str(i)) for i in range(500)])
        )
        deadline = time.monotonic() + 10
        while hub.pending < 100:  # the sender fills the hub up to its limit ...
            assert time.monotonic() < deadline and not sending.done(), hub.pending
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # ... and is held there: no more get in while nobody drains
        assert 100 <= hub.pending < 500  # held at the limit (plus at most one chunk)
        assert not sending.done()
        got: list[str] = []
        while not sending.done():
            got += [e.message for e in hub.drain().events]
            await asyncio.sleep(0.05)
        got += [e.message for e in hub.drain().events]
        assert all(r == {"ok": True} for r in sending.result())
        assert got == [str(i) for i in range(500)]
    finally:
        await server.close()


def _settings(db: Path, sock: Path) -> Settings:
    return Settings(
        interval=0.2,
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.1),
        ingest=IngestSettings(socket=sock, heartbeat_timeout=1.0),
    )


async def test_every_type_round_trips_into_the_database(short_dir: Path, tmp_path: Path) -> None:
    db, sock = tmp_path / "h.db", short_dir / "ingest.sock"
    recorder = Recorder(_settings(db, sock), db)
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))
    hostile = "[red]x[/] [@click=app.quit]q[/] \x1b[2J\x1b]0;t\x07 \u202e"
    msgs = [
        {"type": "register", "kind": "coder", "pid": os.getpid()},
        {"type": "heartbeat", "status": "thinking", "queue_depth": 4, "task": hostile},
        {"type": "event", "level": "warning", "kind": "step", "message": hostile,
         "data": {"k": hostile, "n": [1, 2]}},
        {"type": "error", "error_type": "Timeout" + hostile, "message": hostile, "stack": hostile},
        {"type": "usage", "model": "m1", "input_tokens": 100, "output_tokens": 20,
         "cost_usd": 0.25, "request_id": "r1"},
        {"type": "usage", "model": "m1", "input_tokens": 100, "output_tokens": 20,
         "cost_usd": 0.25, "request_id": "r1"},
    ]  # fmt: skip
    lines = [json.dumps({"v": 1, "agent": hostile, **m}).encode() for m in msgs]
    try:
        for _ in range(100):
            if recorder.server is not None:
                break
            await asyncio.sleep(0.05)
        assert await talk(sock, lines) == [{"ok": True}] * len(lines)
        for _ in range(100):
            if recorder.hub is not None and recorder.hub.stored >= len(lines):
                break
            await asyncio.sleep(0.05)
        assert recorder.hub is not None and recorder.hub.stored == len(lines)
    finally:
        stop.set()
        await running
    history = History(db)
    events = history.events(agent=hostile)
    by_kind = {e.kind: e for _, e in events}
    assert by_kind["step"].message == hostile and by_kind["step"].data == {
        "k": hostile,
        "n": [1, 2],
    }
    assert by_kind["error"].level == "error" and hostile in by_kind["error"].message
    assert "registered" in by_kind
    [err] = history.unresolved_errors(hostile)
    assert (err.error_type, err.message, err.stack) == ("Timeout" + hostile, hostile, hostile)
    with History(db)._conn() as conn:
        usage = conn.execute("SELECT model, input_tokens, cost_usd FROM usage").fetchall()
    assert usage == [("m1", 100, 0.25)]  # the same request_id twice is counted once
    last = history.latest()
    assert last is not None
    [sample] = [a for a in last.agents if a.name == hostile]
    assert (sample.source, sample.kind, sample.queue_depth) == ("ingest", "coder", 4)
    # what an attached viewer (or a replay) reads back: the reported state and the counters
    assert (sample.reported, sample.task) == ("thinking", hostile)
    assert sample.heartbeat is not None and abs(sample.heartbeat - time.time()) < 60
    assert last.ingest is not None
    assert (last.ingest.received, last.ingest.rejected) == (len(lines), 0)
    assert last.ingest.listening == str(sock)


async def test_spool_files_are_tailed_into_the_database(short_dir: Path, tmp_path: Path) -> None:
    db, spool = tmp_path / "h.db", tmp_path / "spool"
    settings = _settings(db, short_dir / "ingest.sock")
    settings.ingest.spool_dir = spool
    recorder = Recorder(settings, db)
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))
    history = History(db)

    async def messages() -> list[str]:
        for _ in range(100):
            if db.exists():
                break
            await asyncio.sleep(0.05)
        return [e.message for _, e in reversed(history.events(agent="spooler"))]

    try:
        for _ in range(100):
            if spool.is_dir():
                break
            await asyncio.sleep(0.05)
        assert stat.S_IMODE(spool.stat().st_mode) == 0o700
        path = spool / "agent.jsonl"
        with path.open("ab") as f:
            f.write(event("spooler", "one") + b"\n" + b"{broken\n" + event("spooler", "two"))
        for _ in range(100):
            if await messages() == ["one"]:
                break
            await asyncio.sleep(0.05)
        assert await messages() == ["one"]  # "two" has no newline yet: it waits
        with path.open("ab") as f:
            f.write(b"\n")
        for _ in range(100):
            if await messages() == ["one", "two"]:
                break
            await asyncio.sleep(0.05)
        assert await messages() == ["one", "two"]
        assert recorder.hub is not None and recorder.hub.rejected == 1
        assert "agent.jsonl" in (recorder.hub.last_rejection or "")
    finally:
        stop.set()
        await running


BIG_INT = b'{"v":1,"type":"event","agent":"a","data":{"n":' + b"7" * 5000 + b"}}"
"""More digits than Python's int() takes (4,300): json.loads raises a bare ValueError."""


async def test_a_line_that_breaks_json_costs_only_itself(
    served: tuple[IngestHub, IngestServer],
) -> None:
    hub, server = served
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    lines = [event(message="one"), BIG_INT, event(message="two"), b"[" * 60_000, event(message="3")]
    writer.write(b"".join(x + b"\n" for x in lines))  # one write: all in the same read
    await writer.drain()
    replies = [json.loads(await asyncio.wait_for(reader.readline(), 10)) for _ in lines]
    assert replies[0::2] == [{"ok": True}] * 3
    assert replies[1]["ok"] is False and "number too long" in replies[1]["error"]
    assert replies[3]["ok"] is False and "nested deeper" in replies[3]["error"]
    writer.write(event(message="still open") + b"\n")  # the connection is still served
    assert json.loads(await asyncio.wait_for(reader.readline(), 10)) == {"ok": True}
    writer.close()
    await writer.wait_closed()
    assert [e.message for e in hub.drain().events] == ["one", "two", "3", "still open"]
    assert (hub.received, hub.rejected) == (6, 2)


async def test_a_parser_bug_costs_only_its_line(
    served: tuple[IngestHub, IngestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a future parser bug raises, the connection and the other lines survive."""
    from tui_monitor.ingest import hub as hub_module

    real = hub_module.parse

    def fragile(line: bytes, now: float | None = None) -> object:
        if b"boom" in line:
            raise KeyError("boom")
        return real(line, now)

    monkeypatch.setattr(hub_module, "parse", fragile)
    hub, server = served
    replies = await talk(server.path, [event(message="a"), event(message="boom"), event()])
    assert replies[0] == replies[2] == {"ok": True}
    assert replies[1] == {"ok": False, "error": "could not read this line (KeyError)"}
    assert hub.rejected == 1


async def _spooled(recorder: Recorder, history: History, want: list[str]) -> list[str]:
    got: list[str] = []
    for _ in range(200):
        if recorder.db.exists():
            try:
                got = [e.message for _, e in reversed(history.events(agent="spooler"))]
            except (SchemaError, sqlite3.OperationalError):
                got = []  # created but still being migrated: not readable yet
            if got == want:
                break
        await asyncio.sleep(0.05)
    return got


async def test_a_spool_line_that_breaks_json_costs_only_itself(
    short_dir: Path, tmp_path: Path
) -> None:
    """The tailer reads on past the bad line, and after a restart from where it stopped."""
    db, spool = tmp_path / "h.db", tmp_path / "spool"
    settings = _settings(db, short_dir / "ingest.sock")
    settings.ingest.spool_dir = spool
    spool.mkdir(mode=0o700)
    path = spool / "agent.jsonl"
    path.write_bytes(
        event("spooler", "one") + b"\n" + BIG_INT + b"\n" + event("spooler", "two") + b"\n"
    )
    history = History(db)
    recorder = Recorder(settings, db)
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))
    try:
        assert await _spooled(recorder, history, ["one", "two"]) == ["one", "two"]
        assert recorder.hub is not None and recorder.hub.rejected == 1
        assert "number too long" in (recorder.hub.last_rejection or "")
        with path.open("ab") as f:  # the tailer is still alive
            f.write(event("spooler", "three") + b"\n")
        assert await _spooled(recorder, history, ["one", "two", "three"]) == [
            "one", "two", "three"
        ]  # fmt: skip
    finally:
        stop.set()
        await running
    with path.open("ab") as f:
        f.write(BIG_INT + b"\n" + event("spooler", "four") + b"\n")
    recorder = Recorder(settings, db)
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))
    want = ["one", "two", "three", "four"]
    try:  # from the saved offset: nothing read twice, nothing skipped
        assert await _spooled(recorder, history, want) == want
    finally:
        stop.set()
        await running
