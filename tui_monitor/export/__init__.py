"""Exports: a snapshot as a versioned JSON document (snapshot.py), metric and event ranges as
CSV, JSON or NDJSON (ranges.py), their encodings (encode.py), and the atomic, no-clobber,
owner-only file writes and safe names behind them (outfile.py). docs/export.md is the schema.

The names below are the library API that docs/export.md documents.
"""

from .encode import csv_cell, dumps, iso, write_json
from .ranges import (
    EVENT_COLUMNS,
    METRIC_COLUMNS,
    METRICS_FORMAT,
    Written,
    event_rows,
    export_events,
    export_metrics,
    metric_rows,
)
from .snapshot import (
    RECENT_EVENTS,
    SNAPSHOT_FORMAT,
    VERSION,
    Moment,
    fold_alerts,
    open_errors,
    read_moment,
    read_snapshot,
    read_transaction,
    snapshot_document,
)

__all__ = [
    "EVENT_COLUMNS",
    "METRICS_FORMAT",
    "METRIC_COLUMNS",
    "RECENT_EVENTS",
    "SNAPSHOT_FORMAT",
    "VERSION",
    "Moment",
    "Written",
    "csv_cell",
    "dumps",
    "event_rows",
    "export_events",
    "export_metrics",
    "fold_alerts",
    "iso",
    "metric_rows",
    "open_errors",
    "read_moment",
    "read_snapshot",
    "read_transaction",
    "snapshot_document",
    "write_json",
]
