"""`tui-monitor record` ended by a signal leaves nothing behind: no socket, no -wal/-shm."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from recorder_proc import exchange, query, recording, wait_for, write_config


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_record_cleanly(short_dir: Path, sig: signal.Signals) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    db = short_dir / "h.db"
    with recording(db, sock) as rec:
        assert exchange(sock, [{"type": "event", "agent": "a", "ack": "stored"}]) == [{"ok": True}]
        wait_for("the -wal", lambda: Path(f"{db}-wal").exists())
        assert rec.stop(sig) == 0, rec.stderr
    assert not sock.exists()
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    assert query(db, "SELECT count(*) FROM events WHERE agent = 'a'") == [(1,)]


async def test_a_read_still_running_at_shutdown_does_not_keep_the_wal(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancelled task's thread runs on: the recorder's open-errors read still held its
    read-only connection when the writer closed, and closing last it could not remove the
    -wal (seen once in a full run). Shutdown now waits for its reads first."""
    import asyncio
    import threading

    from tui_monitor.config import IngestSettings, PresetSettings, Settings, StoreSettings
    from tui_monitor.recorder import Recorder
    from tui_monitor.store.queries import History

    db = short_dir / "h.db"
    reading, release = threading.Event(), threading.Event()
    real = History.unresolved_counts

    def slow(self: History) -> dict[str, int]:
        with self._conn():  # a read transaction's connection open, as a slow query holds it
            reading.set()
            release.wait(10)
        return real(self)

    monkeypatch.setattr(History, "unresolved_counts", slow)
    settings = Settings(
        interval=0.2,
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.1),
        ingest=IngestSettings(enabled=False),
    )
    recorder = Recorder(settings, db)
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))
    while not (reading.is_set() and Path(f"{db}-wal").exists()):
        await asyncio.sleep(0.01)
    stop.set()
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, release.set)  # the read ends while shutdown is under way
    await running
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
