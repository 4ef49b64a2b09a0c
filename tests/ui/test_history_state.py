"""What the header says about the history the live dashboard records: a full disk, or a
database it cannot write (it keeps monitoring either way)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from factories import screen_text, wait_until
from places import read_only
from textual.pilot import Pilot

from tui_monitor.config import GpuSettings, IngestSettings, PresetSettings, Settings, StoreSettings
from tui_monitor.source import LiveSource
from tui_monitor.store.queries import History
from tui_monitor.ui.app import MonitorApp, make_app


@asynccontextmanager
async def live(db: Path, sock: Path) -> AsyncIterator[tuple[MonitorApp, Pilot[None], LiveSource]]:
    settings = Settings(
        interval=0.2,
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.1),
        ingest=IngestSettings(socket=sock),
    )
    source = LiveSource(settings, db)
    app = make_app(settings, source, History(db), utc=True)
    async with app.run_test(size=(160, 30)) as pilot:
        yield app, pilot, source
        await pilot.press("q")


async def send(sock: Path, message: dict[str, object]) -> dict[str, object]:
    reader, writer = await asyncio.open_unix_connection(str(sock))
    writer.write(json.dumps({"v": 1, **message}).encode() + b"\n")
    await writer.drain()
    reply: dict[str, object] = json.loads(await asyncio.wait_for(reader.readline(), 10))
    writer.close()
    return reply


def header(app: MonitorApp) -> str:
    return screen_text(app).splitlines()[0]


async def test_disk_full_shows_in_the_header_until_space_returns(
    tmp_path: Path, short_dir: Path
) -> None:
    sock = short_dir / "ingest.sock"
    async with live(tmp_path / "h.db", sock) as (app, pilot, source):
        await wait_until(pilot, lambda: sock.exists(), timeout=10, what="the socket")
        recorder = source.recorder
        assert recorder is not None and recorder.writer is not None
        writer = recorder.writer
        with writer._mutex:  # the disk is full from now on: SQLite gets no new page
            pages = writer.conn.execute("PRAGMA page_count").fetchone()[0]
            writer.conn.execute(f"PRAGMA max_page_count = {pages}")
        big = {"type": "event", "agent": "a", "message": "x" * 8000}
        assert await send(sock, big) == {"ok": True}
        await wait_until(pilot, lambda: "disk full" in header(app), timeout=10, what="disk full")
        seq = app.snapshot.seq if app.snapshot else 0
        await wait_until(  # it keeps monitoring meanwhile
            pilot, lambda: app.snapshot is not None and app.snapshot.seq > seq + 2, timeout=10
        )
        with writer._mutex:
            writer.conn.execute("PRAGMA max_page_count = 1073741823")
        await wait_until(
            pilot, lambda: "disk full" not in header(app), timeout=15, what="space again"
        )
    conn = sqlite3.connect(tmp_path / "h.db")
    assert conn.execute("SELECT count(*) FROM events WHERE agent = 'a'").fetchone()[0] == 1
    conn.close()


async def test_a_database_it_cannot_write_turns_history_off_and_monitoring_goes_on(
    tmp_path: Path, short_dir: Path
) -> None:
    sock = short_dir / "ingest.sock"
    with read_only(short_dir / "ro") as ro:
        async with live(ro / "h.db", sock) as (app, pilot, _):
            await wait_until(
                pilot, lambda: "history off" in header(app), timeout=10, what="history off"
            )
            shown = header(app)
            assert "Read-only file system" in shown or "Permission denied" in shown
            seq = app.snapshot.seq if app.snapshot else 0
            await wait_until(
                pilot, lambda: app.snapshot is not None and app.snapshot.seq > seq + 2, timeout=10
            )
            # Agents still report in; asking for "stored" is answered truthfully.
            assert await send(sock, {"type": "event", "agent": "a"}) == {"ok": True}
            reply = await send(sock, {"type": "event", "agent": "a", "ack": "stored"})
            assert reply["ok"] is False and "history is off" in str(reply["error"])


async def test_a_database_of_another_program_turns_history_off_untouched(
    tmp_path: Path, short_dir: Path
) -> None:
    db = tmp_path / "invoices.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    sock = short_dir / "ingest.sock"
    async with live(db, sock) as (app, pilot, _):
        await wait_until(
            pilot, lambda: "history off" in header(app), timeout=10, what="history off"
        )
        assert "not a tui-monitor database" in screen_text(app)
    assert db.read_bytes() == before
