"""The recorder's own health on /metrics: its ticks, its history writes, the database's
size, and the ingest, OTLP and session-file counters each tick carries."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..models import Snapshot

P = "tui_monitor_"


class SamplerView(Protocol):
    ticks_skipped: int
    tick_errors: int
    subscriber_errors: int


class QueueView(Protocol):
    ticks_written: int
    batches: int
    errors: int
    lost: int
    held: int


class RecorderView(Protocol):
    """What /metrics reads of the recorder (not imported: the recorder imports us)."""

    db: Path
    history_off: str | None

    @property
    def sampler(self) -> SamplerView: ...
    @property
    def queue(self) -> QueueView | None: ...


@dataclass(frozen=True)
class Health:
    """The recorder's counters at one scrape (read on the loop, used on a thread)."""

    started: float
    ticks_skipped: int = 0
    tick_errors: int = 0
    subscriber_errors: int = 0
    recording: bool = False
    ticks_written: int = 0
    batches: int = 0
    write_errors: int = 0
    lost: int = 0
    held: int = 0
    db_bytes: int | None = None


def db_bytes(db: Path) -> int | None:
    """The database with its -wal (what the disk holds now); None when there is none."""
    total: int | None = None
    for path in (db, db.with_name(db.name + "-wal")):
        try:
            total = (total or 0) + os.stat(path).st_size
        except OSError:
            continue
    return total


def health_of(recorder: RecorderView, started: float) -> Health:
    s, q = recorder.sampler, recorder.queue
    return Health(
        started=started,
        ticks_skipped=s.ticks_skipped,
        tick_errors=s.tick_errors,
        subscriber_errors=s.subscriber_errors,
        recording=q is not None and recorder.history_off is None,
        ticks_written=q.ticks_written if q is not None else 0,
        batches=q.batches if q is not None else 0,
        write_errors=q.errors if q is not None else 0,
        lost=q.lost if q is not None else 0,
        held=q.held if q is not None else 0,
        db_bytes=db_bytes(recorder.db),
    )


def health_families(snap: Snapshot, h: Health) -> Iterator[Metric]:
    def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
        return CounterMetricFamily(P + name, doc, value=value)

    def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
        return GaugeMetricFamily(P + name, doc, value=value)

    yield gauge("recorder_start_time_seconds", "When the recorder started (epoch).", h.started)
    yield gauge("recorder_last_tick_timestamp_seconds", "When the newest tick was taken "
                "(epoch): time() minus this is its age.", snap.ts.timestamp())  # fmt: skip
    yield gauge("recorder_interval_seconds", "Seconds between ticks.", snap.interval)
    yield gauge("recorder_tick_lag_seconds", "How late the newest tick started.", snap.lag)
    yield gauge("recorder_tick_duration_seconds", "Collecting the newest tick took.",
                snap.duration)  # fmt: skip
    yield counter("recorder_ticks", "Ticks taken since the start.", snap.seq)
    yield counter("recorder_ticks_skipped", "Ticks skipped: the sampler fell behind.",
                  h.ticks_skipped)  # fmt: skip
    yield counter("recorder_tick_errors", "Ticks that failed.", h.tick_errors)
    yield gauge("history_recording", "1 while ticks are written to the history.",
                1.0 if h.recording else 0.0)  # fmt: skip
    yield counter("history_ticks_written", "Ticks committed to the history.", h.ticks_written)
    yield counter("history_batches", "Write transactions committed.", h.batches)
    yield counter("history_write_errors", "Failed writes (retried).", h.write_errors)
    yield counter("history_ticks_lost", "Ticks that could not be written.", h.lost)
    yield gauge("history_ticks_held", "Ticks waiting while writes fail.", h.held)
    if h.db_bytes is not None:
        yield gauge("history_db_bytes", "The database and its write-ahead log.", h.db_bytes)
    i = snap.ingest
    if i is not None:
        yield counter("ingest_received", "Lines read from the socket and spool files.",
                      i.received)  # fmt: skip
        yield counter("ingest_stored", "Accepted messages in committed ticks.", i.stored)
        yield counter("ingest_rejected", "Lines rejected (malformed, too large, ...).",
                      i.rejected)  # fmt: skip
        yield counter("ingest_refused_connections", "Connections refused.", i.refused)
        yield gauge("ingest_connections", "Agents connected to the socket now.", i.connections)
    o = snap.otlp
    if o is not None:
        yield gauge("otlp_listening", "1 while the OTLP receiver listens.",
                    0.0 if (o.listening or "off").startswith("off") else 1.0)  # fmt: skip
        yield counter("otlp_requests", "OTLP requests answered.", o.requests)
        yield counter("otlp_records", "Log records and metric points taken in.", o.records)
        yield counter("otlp_rejected", "Requests refused and records dropped.", o.rejected)
        yield counter("otlp_hooks", "Hook payloads taken.", o.hooks)
    se = snap.sessions
    if se is not None:
        yield gauge("sessions_backfilling", "1 while the backfill window is imported.",
                    1.0 if se.backfill else 0.0)  # fmt: skip
        yield gauge("sessions_backlog_bytes", "Session file bytes not read yet.", se.backlog)
        yield gauge("sessions_known", "Real agents' sessions known.", se.sessions)
        yield counter("sessions_problems", "Unreadable files, bad or too long lines.",
                      se.problems)  # fmt: skip
