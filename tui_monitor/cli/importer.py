"""`tui-monitor sessions` with no recorder running: import the session files first.

The history is where past sessions are listed from (Claude Code deletes its transcripts after
30 days; ours stay). When no recorder keeps it current, the command runs one for as long as
the import takes: the same readers, book and writer as the recorder (so the same offsets:
a later recorder goes on where this one stopped), with no socket and no process presets.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from ..config import Settings
from ..recorder import Recorder
from ..sessions.reader import session_dirs
from ..store.lock import RecorderLock, move_aside_if_corrupt, recorder_pid

POLL = 0.1


def import_sessions(settings: Settings, db: Path, *, say: bool = True) -> bool:
    """Bring the history up to date with the session files unless a recorder is running (it
    does that itself). True when this call imported."""
    if not settings.sessions.enabled or recorder_pid(db) is not None:
        return False
    if not db.exists() and not any(d.is_dir() for d in session_dirs()):
        return False  # nothing to import: create nothing
    quiet = settings.model_copy(
        update={
            "ingest": settings.ingest.model_copy(update={"enabled": False}),
            "presets": settings.presets.model_copy(update={"enabled": False}),
            "agents": [],
            "tasks": [],
            "alerts": settings.alerts.model_copy(update={"enabled": False}),
        }
    )
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        lock = RecorderLock(db)
        lock.acquire()
    except Exception:  # another one started meanwhile: it imports
        return False
    try:
        moved = move_aside_if_corrupt(db)
        if moved:
            click.echo(f"tui-monitor: {moved}", err=True)
        if say:
            click.echo("importing session files into the history…", err=True)
        recorder = Recorder(quiet, db, prune=False)
        recorder.open()
        asyncio.run(_until_imported(recorder))
    finally:
        lock.release()
    return True


async def _until_imported(recorder: Recorder) -> None:
    stop = asyncio.Event()
    run = asyncio.create_task(recorder.run(stop))
    try:
        while not run.done():
            feed = recorder.sampler.sessions
            if feed is not None and feed.polls > 0 and not feed.backfill and feed.book.idle:
                break
            await asyncio.sleep(POLL)
    finally:
        stop.set()
        await run
