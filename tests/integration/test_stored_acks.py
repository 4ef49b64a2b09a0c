"""`"ack": "stored"` is exact: a message answered ok with it is in the history, however the
recorder dies (kill -9 at random moments); `emit` and the client use it."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import subprocess
import threading
import time
from pathlib import Path

from recorder_proc import exchange, query, recording, tui_monitor, wait_for, write_config

from tui_monitor.client import Reporter, send
from tui_monitor.config import GpuSettings, IngestSettings, PresetSettings, Settings, StoreSettings
from tui_monitor.recorder import Recorder

WINDOW = 200
"""Lines the sender keeps in flight (each reply waits for a commit)."""


class Sender(threading.Thread):
    """Sends numbered events on one connection, `WINDOW` ahead of the replies, and keeps the
    numbers the recorder answered ok for: those, and only those, were promised stored."""

    def __init__(self, sock: Path, first: int) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.next = first
        self.acked: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(self.sock))
                replies = s.makefile("rb")
                in_flight: list[int] = []
                while True:
                    while len(in_flight) < WINDOW:
                        n = self.next
                        self.next += 1
                        line = {"v": 1, "type": "event", "agent": "k9", "message": str(n)}
                        s.sendall(json.dumps({**line, "ack": "stored"}).encode() + b"\n")
                        in_flight.append(n)
                    raw = replies.readline()
                    if not raw:
                        return  # the recorder died: what had no reply promised nothing
                    if json.loads(raw) == {"ok": True}:
                        self.acked.append(in_flight[0])
                    in_flight.pop(0)
        except OSError:
            return  # killed mid-write or mid-read
        except BaseException as exc:
            self.error = exc


def test_stored_acks_survive_kill_9_at_random_moments(short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    db = short_dir / "h.db"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    acked: list[int] = []
    first = 0
    for round_ in range(12):
        with recording(db, sock) as rec:
            sender = Sender(sock, first)
            sender.start()
            # A random moment: before the first commit, mid-batch, mid-write.
            time.sleep(rng.uniform(0.2, 2.0))
            rec.proc.kill()
            rec.proc.wait(10)
            sender.join(30)
            assert not sender.is_alive() and sender.error is None, (seed, sender.error)
        acked += sender.acked
        first = sender.next
        stored = {int(m) for (m,) in query(db, "SELECT message FROM events WHERE agent = 'k9'")}
        missing = sorted(set(acked) - stored)
        assert not missing, (seed, round_, missing[:10])
    assert len(acked) > 1000, "too few stored acks to prove anything"


def test_stored_waits_for_the_commit_and_accepted_does_not(short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    db = short_dir / "h.db"
    with recording(db, sock) as rec:
        # Mixed on one connection: replies stay in order, each line gets its own.
        replies = exchange(
            sock,
            [
                {"type": "event", "agent": "a", "message": "accepted"},
                {"type": "event", "agent": "a", "message": "stored", "ack": "stored"},
                {"type": "event", "agent": "a", "message": "bad", "ack": "later"},
                {"type": "event", "agent": "a", "message": "after"},
            ],
        )
        assert replies[0] == replies[1] == replies[3] == {"ok": True}
        assert replies[2]["ok"] is False and "ack" in replies[2]["error"]
        # The stored reply came after the commit: it is there already, no waiting.
        assert ("stored",) in query(db, "SELECT message FROM events")
        assert rec.stop() == 0


def test_emit_waits_until_stored_by_default(short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    db = short_dir / "h.db"
    with recording(db, sock) as rec:
        out = subprocess.run(
            [tui_monitor(), "emit", "--agent", "e", "one-shot"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (out.returncode, out.stderr) == (0, "")
        assert query(db, "SELECT message FROM events WHERE agent = 'e'") == [("one-shot",)]
        out = subprocess.run(
            [tui_monitor(), "emit", "--agent", "e", "--ack", "accepted", "quick"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (out.returncode, out.stderr) == (0, "")
        wait_for(
            "the accepted one", lambda: query(db, "SELECT 1 FROM events WHERE message = 'quick'")
        )
        assert rec.stop() == 0


def test_the_client_asks_for_stored(short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    db = short_dir / "h.db"
    with recording(db, sock) as rec:
        send({"v": 1, "type": "event", "agent": "c", "message": "m1"}, path=sock, stored=True)
        assert query(db, "SELECT message FROM events WHERE agent = 'c'") == [("m1",)]
        with Reporter("r", path=sock, stored=True) as report:
            for i in range(50):
                report.event(f"r{i}")
            assert report.flush(timeout=30)
            got = query(db, "SELECT message FROM events WHERE agent = 'r' AND kind = 'message'")
            assert sorted(m for (m,) in got) == sorted(f"r{i}" for i in range(50))
            assert report.stats["accepted"] >= 50
        assert rec.stop() == 0


async def test_a_stored_ack_the_recorder_cannot_keep_is_an_error_not_silence(
    tmp_path: Path, short_dir: Path
) -> None:
    """The disk is full and the recorder is stopped: the line was never written, and the
    sender hears so before the connection closes."""
    sock = short_dir / "ingest.sock"
    db = tmp_path / "h.db"
    settings = Settings(
        interval=0.2,
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.1),
        ingest=IngestSettings(socket=sock),
    )
    rec = Recorder(settings, db)
    rec.open()
    stop = asyncio.Event()
    task = asyncio.create_task(rec.run(stop))
    try:
        for _ in range(500):
            if rec.server is not None:
                break
            await asyncio.sleep(0.02)
        writer = rec.writer
        assert writer is not None
        with writer._mutex:  # a full disk from now on
            pages = writer.conn.execute("PRAGMA page_count").fetchone()[0]
            writer.conn.execute(f"PRAGMA max_page_count = {pages}")
        reader, out = await asyncio.open_unix_connection(str(sock))
        line = {"v": 1, "type": "event", "agent": "a", "message": "x" * 8000, "ack": "stored"}
        out.write(json.dumps(line).encode() + b"\n")
        await out.drain()
        for _ in range(500):
            if rec.queue is not None and rec.queue.failing:
                break
            await asyncio.sleep(0.02)
        assert rec.queue is not None and rec.queue.failing == "disk full"
        stop.set()
        reply = json.loads(await asyncio.wait_for(reader.readline(), 10))
        assert reply["ok"] is False
        assert reply["error"].startswith("not stored: ") and "disk full" in reply["error"]
        out.close()
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_a_sender_that_leaves_before_its_stored_replies_costs_nothing(
    tmp_path: Path, short_dir: Path
) -> None:
    """Lines waiting for their commit (the disk is full) until the connection holds all the
    replies it may and stops reading; the sender hangs up; space returns: the connection ends
    (no task left waiting on a reader that is gone) and everything accepted is stored."""
    sock = short_dir / "ingest.sock"
    db = tmp_path / "h.db"
    settings = Settings(
        interval=0.2,
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.1),
        ingest=IngestSettings(socket=sock),
    )
    rec = Recorder(settings, db)
    writer = rec.open()
    stop = asyncio.Event()
    task = asyncio.create_task(rec.run(stop))
    try:
        for _ in range(500):
            if rec.server is not None:
                break
            await asyncio.sleep(0.02)
        hub = rec.hub
        assert hub is not None
        with writer._mutex:  # a full disk: no reply can go out for now
            pages = writer.conn.execute("PRAGMA page_count").fetchone()[0]
            writer.conn.execute(f"PRAGMA max_page_count = {pages}")
        _, out = await asyncio.open_unix_connection(str(sock))
        message = {"v": 1, "type": "event", "agent": "gone", "ack": "stored", "message": "x" * 3000}
        line = json.dumps(message).encode() + b"\n"

        async def flood() -> None:
            while True:
                out.write(line)
                await out.drain()

        sending = asyncio.create_task(flood())
        # The connection stops reading once WAITING chunks of replies wait (about 1,300
        # lines of this size): the count of accepted lines stops moving.
        last, still = -1, 0
        while still < 50:
            await asyncio.sleep(0.02)
            still = still + 1 if hub.accepted == last else 0
            last = hub.accepted
        assert hub.accepted > 1000 and not sending.done()
        sending.cancel()
        out.transport.abort()  # gone without reading a reply
        with writer._mutex:
            writer.conn.execute("PRAGMA max_page_count = 1073741823")
        for _ in range(1500):
            if hub.connections == 0 and hub.stored == hub.accepted:
                break
            await asyncio.sleep(0.02)
        assert (hub.connections, hub.stored) == (0, hub.accepted)
        assert rec.server is not None and not rec.server._tasks
        accepted = hub.accepted
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert query(db, "SELECT count(*) FROM events WHERE agent = 'gone'") == [(accepted,)]
