"""OTLP attributes as plain values, and the figures in them checked.

Agents put numbers in attributes as strings as often as numbers (Claude Code sends every event
attribute as a string: `input_tokens = "1204"`), so every figure is read through `count` or
`money`, which take either and refuse what is not a finite, non-negative number.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from ..sessions.records import Family

Scalar = str | int | float | bool
ATTRS_MAX = 128
"""Attributes read from one record or resource (the rest are ignored)."""
TEXT_MAX = 500
_PREFIXES: dict[str, Family] = {
    "claude_code": "claude-code",
    "codex": "codex",
    "gemini_cli": "gemini",
}
_SERVICES: tuple[tuple[str, Family], ...] = (
    ("claude", "claude-code"),
    ("codex", "codex"),
    ("gemini", "gemini"),
)


def attributes(kvs: Iterable[Any]) -> dict[str, Scalar]:
    """KeyValues -> {key: scalar}; arrays, maps and bytes are left out (we need none)."""
    out: dict[str, Scalar] = {}
    for i, kv in enumerate(kvs):
        if i >= ATTRS_MAX:
            break
        which = kv.value.WhichOneof("value")
        if which in ("string_value", "bool_value", "int_value", "double_value"):
            out[kv.key] = getattr(kv.value, which)
    return out


def count(value: Scalar | None) -> int:
    """A token count from an int, an integral float or a decimal string; else 0."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, str):
        try:
            value = float(value.strip()) if "." in value or "e" in value else int(value.strip())
        except ValueError:
            return 0
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return 0
        value = int(value)
    return value if 0 <= value < 2**53 else 0


def money(value: Scalar | None) -> float | None:
    """A cost in USD from a number or a decimal string; None when absent or not sane."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except ValueError:
        return None
    return f if math.isfinite(f) and 0 <= f < 1e9 else None


def number(value: Scalar | None) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def text(value: Scalar | None, limit: int = TEXT_MAX) -> str | None:
    """A string attribute, bounded (cleaned where it is shown, as for files)."""
    if value is None or isinstance(value, bool):
        return None
    return str(value)[:limit] or None


def flag(value: Scalar | None) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def timestamp(*nanos: int) -> float:
    """The first non-zero of the record's times (epoch ns) in seconds, else now."""
    for ns in nanos:
        if ns > 0:
            return ns / 1e9
    return time.time()


def family_of(resource: dict[str, Scalar], scope: str) -> Family | None:
    """Whose telemetry a resource is, from `service.name` (claude-code, codex_cli_rs,
    gemini-cli) or the instrumentation scope's name."""
    for hint in (str(resource.get("service.name", "")), scope):
        low = hint.lower()
        for part, family in _SERVICES:
            if part in low:
                return family
    return None


def event_name(candidates: Iterable[str], fallback: Family | None) -> tuple[Family, str] | None:
    """(family, bare name) from the first name that says it: `LogRecord.event_name`, the body
    (`claude_code.api_request`) or the `event.name` attribute (`api_request` or prefixed)."""
    for name in candidates:
        if not name or len(name) > 128:
            continue
        prefix, dot, bare = name.partition(".")
        if dot and prefix in _PREFIXES:
            return _PREFIXES[prefix], bare
        if not dot and fallback is not None and name.replace("_", "").isalnum():
            return fallback, name
    return None
