"""`tui-monitor record` on a real, small filesystem that fills up: it says "disk full", holds
what it was told, and writes all of it once space returns (no stuck state, no restart)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

from places import fill, tmpfs
from recorder_proc import exchange, query, recording, wait_for, write_config

from tui_monitor.config import GpuSettings, IngestSettings, PresetSettings, Settings, StoreSettings
from tui_monitor.recorder import Recorder


def test_a_full_disk_holds_new_agents_and_writes_everything_when_space_returns(
    short_dir: Path,
) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    with tmpfs(short_dir / "disk", "2m") as disk:
        db = disk / "h.db"
        with recording(db, sock) as rec:
            assert exchange(sock, [{"type": "event", "agent": "before", "message": "b"}]) == [
                {"ok": True}
            ]
            wait_for("the first event", lambda: query(db, "SELECT 1 FROM events"))
            filler = fill(disk)
            # A new agent while the disk is full: the case that used to leave stale ids.
            full = [
                {"type": "event", "agent": "new-while-full", "message": f"f{i}"} for i in range(20)
            ]
            assert exchange(sock, full) == [{"ok": True}] * 20
            wait_for("the failure in the log", lambda: "database or disk is full" in rec.stderr)
            filler.unlink()
            after = [
                {"type": "event", "agent": "after", "message": f"a{i}", "ack": "stored"}
                for i in range(20)
            ]
            assert exchange(sock, after) == [{"ok": True}] * 20  # stored, so written
            assert rec.stop() == 0
        messages = {m for (m,) in query(db, "SELECT message FROM events")}
        agents = {a for (a,) in query(db, "SELECT name FROM agents")}
    assert {f"f{i}" for i in range(20)} <= messages
    assert {f"a{i}" for i in range(20)} <= messages
    assert {"before", "new-while-full", "after"} <= agents
    assert rec.stderr.count("writing the history failed") == 1, rec.stderr
    assert "works again" in rec.stderr
    assert "UNIQUE" not in rec.stderr and "cannot rollback" not in rec.stderr


async def test_while_the_disk_is_full_senders_wait_and_nothing_is_lost(
    tmp_path: Path, short_dir: Path
) -> None:
    """What waits is bounded: the writer's queue takes `pending` reported records, the hub as
    many again, then the socket stops reading and the sender waits in its write. The sampler
    keeps ticking. Once space returns, every line is answered and stored."""
    sock = short_dir / "ingest.sock"
    db = tmp_path / "h.db"
    settings = Settings(
        interval=0.2,
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.05),
        ingest=IngestSettings(socket=sock, pending=100),
    )
    rec = Recorder(settings, db)
    writer = rec.open()
    stop = asyncio.Event()
    task = asyncio.create_task(rec.run(stop))
    try:
        await until(lambda: rec.server is not None and rec.queue is not None, "listening")
        with writer._mutex:  # a full disk from now on
            pages = writer.conn.execute("PRAGMA page_count").fetchone()[0]
            writer.conn.execute(f"PRAGMA max_page_count = {pages}")
        reader, out = await asyncio.open_unix_connection(str(sock))
        lines = 1000
        message = {"v": 1, "type": "event", "agent": "a", "message": "x" * 5000}
        sending = asyncio.create_task(write_lines(out, message, lines))
        replies = 0

        async def read_replies() -> None:
            nonlocal replies
            while replies < lines:
                assert json.loads(await reader.readline()) == {"ok": True}
                replies += 1

        reading = asyncio.create_task(read_replies())
        queue = rec.queue
        assert queue is not None
        await until(lambda: queue.failing == "disk full", "the failure")
        hub = rec.hub
        assert hub is not None
        await until(lambda: not queue.has_room() and hub.pending >= hub.limit, "both full")
        seq = rec.sampler.seq
        await until(lambda: rec.sampler.seq > seq + 5, "ticks go on")
        # The sender waits (replies already on their way when both filled up may still
        # arrive, so no exact count here); nothing was dropped: every line gets its answer.
        assert replies < lines
        assert not sending.done()
        with writer._mutex:
            writer.conn.execute("PRAGMA max_page_count = 1073741823")
        await asyncio.wait_for(asyncio.gather(sending, reading), 60)
        out.close()
        await until(lambda: hub.stored == lines, "everything stored", timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert query(db, "SELECT count(*) FROM events WHERE agent = 'a'") == [(lines,)]


async def write_lines(out: asyncio.StreamWriter, message: dict[str, object], n: int) -> None:
    line = json.dumps(message).encode() + b"\n"
    for _ in range(n):
        out.write(line)
        await out.drain()


async def until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
