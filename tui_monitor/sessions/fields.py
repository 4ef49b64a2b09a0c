"""Typed reads of values from agents' JSON files, which promise nothing.

A field may be missing, null, of another type, negative, NaN or a megabyte long in any version
of any agent; these helpers turn each into the value a reader can use or None (0 for token
counts), so a reader never needs a try block around a field.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

_FRACTION = re.compile(r"(\.\d{6})\d+")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_MS_EPOCH = 10_000_000_000
"""Numbers above this are epoch milliseconds (seconds reach it in the year 2286)."""


NAME_MAX = 1024
"""A model, tool, branch or version longer than this is not one (a path may reach 4096)."""
PATH_MAX = 4096


def text(value: Any, limit: int = NAME_MAX) -> str | None:
    """`value` if it is a non-empty string of at most `limit` characters that SQLite can
    store (no unpaired surrogate from a `\\ud800` escape). It is kept exactly: it is
    hostile, and cleaned where it is shown (safe.py)."""
    if not isinstance(value, str) or not value or len(value) > limit:
        return None
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return value


def count(value: Any) -> int:
    """A token count: a non-negative whole number, 0 for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float):
        if not math.isfinite(value):
            return 0
        value = int(value)
    return value if value > 0 else 0


def number(value: Any) -> float | None:
    """A finite number (a percentage, a duration), None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def epoch(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 / ISO 8601 string (a naive one is UTC) or of a number
    of epoch seconds or milliseconds; None when it is neither."""
    if isinstance(value, str):
        if not 10 <= len(value) <= 40:
            return None
        try:
            parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    seconds = number(value)
    if seconds is None or seconds <= 0:
        return None
    return seconds / 1000 if seconds > _MS_EPOCH else seconds


def uuid7_seconds(value: Any) -> float | None:
    """The creation time inside a version-7 UUID (its first 48 bits are epoch milliseconds),
    None for any other value: Codex thread and turn ids are v7 in current versions."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        return None
    return int(value[:8] + value[9:13], 16) / 1000
