"""How exported rows and documents are encoded: strict ASCII JSON, NDJSON, and CSV that a
spreadsheet cannot run (docs/export.md). Agent names and messages are untrusted: JSON only
ASCII-escaped, CSV only with formula cells neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..store.rows import from_ms
from .outfile import CHUNK_CHARS, write_atomic


def quoted(text: str) -> str:
    """User or agent text inside a one-line message: escaped by repr, bounded."""
    return repr(text if len(text) <= 60 else text[:59] + "…")


def write_json(
    path: Path, doc: Mapping[str, Any], *, force: bool = False, unique: bool = True
) -> Path:
    """A JSON document (ASCII only, indented) written atomically; for interactive saves a
    taken name gets a -2, -3, ... suffix by default rather than failing."""
    return write_atomic(path, [dumps(doc, indent=2) + "\n"], force, unique=unique)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such floats become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def dumps(value: Any, indent: int | None = None) -> str:
    """Strict JSON, ASCII only (every other character \\u-escaped)."""
    return json.dumps(_finite(value), ensure_ascii=True, allow_nan=False, indent=indent)


def iso(ms: int) -> str:
    """RFC 3339 UTC with milliseconds: 2026-11-21T14:05:30.123Z."""
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any, safe: bool = True) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading `'`; numbers stay."""
    if isinstance(value, str):
        return "'" + value if safe and value.startswith(_FORMULA) else value
    if isinstance(value, dict):
        return dumps(value) if value else ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return value


def csv_chunks(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, safe: bool = True
) -> Iterator[str]:
    """RFC 4180 CSV (CRLF, header first), in chunks of about CHUNK_CHARS."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(columns)
    for row in rows:
        out.writerow([csv_cell(v, safe) for v in row])
        if buf.tell() >= CHUNK_CHARS:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _json_lines(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[list[str]]:
    """Rows as JSON objects, a thousand lines at a time."""
    lines: list[str] = []
    for row in rows:
        lines.append(dumps(dict(zip(columns, row, strict=True))))
        if len(lines) >= 1000:
            yield lines
            lines = []
    if lines:
        yield lines


def ndjson_chunks(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """One JSON object per line."""
    for lines in _json_lines(columns, rows):
        yield "\n".join(lines) + "\n"


def json_chunks(
    header: Mapping[str, Any], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Iterator[str]:
    """`header` plus `"columns"` and `"rows"` (one object per line), streamed."""
    head = dumps({**header, "columns": list(columns)})
    yield head[:-1] + ', "rows": ['
    sep = "\n"
    for lines in _json_lines(columns, rows):
        yield sep + ",\n".join(lines)
        sep = ",\n"
    yield "\n]}\n"
