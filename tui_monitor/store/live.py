"""What the recorder knows of its newest tick that the history does not keep per tick, in a
small file beside the database (`<db>.live.json`), for the viewers that read the history:
attached dashboards and `tui-monitor status`.

The history stores each agent's process figures every tick, but a real agent's session (its
live state, model, tokens) and the receivers' counters only when they change or not at all:
without this file a dashboard attached to a headless recorder could not say which agent
needs input. The file is rewritten every tick (a few KiB, no fsync: it is only ever as old as
the last tick, and a crash leaves the previous one or none), 0600 like the database, and is
read only while the recorder that wrote it holds the database's lock and its tick is fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from ..models import IngestStats, OtlpStatus, SessionsStatus, SessionState, Snapshot

log = logging.getLogger(__name__)

MAX_BYTES = 4 << 20
"""A live file past this is not ours (or not sane): ignored."""


class LiveAgent(BaseModel):
    model_config = ConfigDict(frozen=True)

    session: SessionState | None = None
    metrics: dict[str, float] = {}


class Live(BaseModel):
    """The newest tick's parts a viewer of the history cannot read from it."""

    model_config = ConfigDict(frozen=True)

    pid: int
    seq: int
    ts: float
    """Epoch s of the tick."""
    ingest: IngestStats | None = None
    otlp: OtlpStatus | None = None
    sessions: SessionsStatus | None = None
    agents: dict[str, LiveAgent] = {}
    """By agent name: only agents with a session or metrics."""


def live_path(db: Path) -> Path:
    return db.with_name(db.name + ".live.json")


def live_of(snap: Snapshot, pid: int) -> Live:
    return Live(
        pid=pid,
        seq=snap.seq,
        ts=snap.ts.timestamp(),
        ingest=snap.ingest,
        otlp=snap.otlp,
        sessions=snap.sessions,
        agents={
            a.name: LiveAgent(session=a.session, metrics=a.metrics)
            for a in snap.agents
            if a.session is not None or a.metrics
        },
    )


def write_live(db: Path, live: Live) -> None:
    """Replace the file (temp file and rename); OSError for the caller to count."""
    path = live_path(db)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(live.model_dump_json().encode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_live(db: Path) -> None:
    with contextlib.suppress(OSError):
        live_path(db).unlink()


def read_live(db: Path, pid: int | None, newer_than: float) -> Live | None:
    """The live file of recorder `pid` when its tick is later than `newer_than` (epoch s);
    None when absent, stale, another recorder's, or unreadable (it is a convenience: the
    history stays the record)."""
    if pid is None or pid <= 0:
        return None
    try:
        with open(live_path(db), "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_BYTES:
        return None
    try:
        live = Live.model_validate_json(data)
    except ValidationError:
        return None
    return live if live.pid == pid and live.ts > newer_than else None


def with_live(snap: Snapshot, live: Live | None) -> Snapshot:
    """`snap` (read from the history) with the live parts of the recorder's newest tick."""
    if live is None:
        return snap
    agents = tuple(
        a.model_copy(update={"session": found.session, "metrics": found.metrics})
        if (found := live.agents.get(a.name)) is not None
        else a
        for a in snap.agents
    )
    return snap.model_copy(
        update={
            "agents": agents,
            "ingest": live.ingest or snap.ingest,
            "otlp": live.otlp or snap.otlp,
            "sessions": live.sessions or snap.sessions,
        }
    )


class LiveWriter:
    """A sampler subscriber that keeps `<db>.live.json` at the newest tick (the recorder's)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.pid = os.getpid()
        self.failures = 0
        self._said: str | None = None

    async def __call__(self, snap: Snapshot) -> None:
        live = live_of(snap, self.pid)
        try:
            await asyncio.to_thread(write_live, self.db, live)
        except OSError as exc:
            self.failures += 1
            reason = exc.strerror or str(exc)
            if reason != self._said:  # once per reason, not once a tick
                log.warning("cannot write %s: %s", live_path(self.db), reason)
            self._said = reason
        else:
            self._said = None

    def close(self) -> None:
        """The recorder stops: viewers must not take its last tick for a live one."""
        remove_live(self.db)
