"""Ingest protocol v1: one JSON object per line, validated into frozen messages.

Every line gets a verdict: a message, or a `Rejected` with a one-line reason the sender can
act on. Strings are kept exactly as sent (they are stored as such and made safe when shown,
see safe.py); what is refused is what cannot be stored faithfully or would cost us too much:
invalid UTF-8, unpaired surrogates, non-finite numbers, over-long or over-deep input, and
timestamps from the future.
"""

from __future__ import annotations

import functools
import json
import math
import sys
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

VERSION = 1
MAX_LINE = 64 * 1024
"""Bytes per line, without its newline."""
MAX_MESSAGE = 8 * 1024
MAX_STACK = 32 * 1024
MAX_DATA = 16 * 1024
"""Bytes of `data` once serialised as compact JSON."""
MAX_DEPTH = 32
MAX_FUTURE = 300.0
"""Seconds a timestamp may lie ahead of our clock (clock skew between processes)."""
EARLIEST = 946_684_800.0
"""2000-01-01T00:00:00Z: anything earlier is a unit mistake (ms vs s) or garbage."""
TYPES = ("register", "heartbeat", "event", "error", "usage")
LEVELS = ("debug", "info", "warning", "error", "critical")

Short = Annotated[str, Field(min_length=1, max_length=128)]
Label = Annotated[str, Field(max_length=256)]
Count = Annotated[int, Field(ge=0, le=10**15)]


class Rejected(Exception):
    """A line that was not accepted; `reason` is one line for the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Message(BaseModel):
    # defer_build: the validators are built by the first message, not on every start-up.
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, allow_inf_nan=False, defer_build=True
    )

    v: Annotated[int, Field(ge=VERSION, le=VERSION)]
    """An int, never `true` or `1.0`: a Literal compares by ==, so those would pass."""
    agent: Short
    ts: float | str | None = None
    """Epoch seconds or RFC 3339; replaced by the receive time when absent."""
    pid: Annotated[int, Field(gt=0, le=2**31)] | None = None
    ack: Literal["accepted", "stored"] = "accepted"
    """When the reply comes: once the line is accepted (held in memory, written with the next
    flush), or once it is committed to the history."""

    @property
    def epoch(self) -> float:
        """`ts` as epoch seconds (validated by `parse`, so always a float there)."""
        assert isinstance(self.ts, float)
        return self.ts


class Register(_Message):
    type: Literal["register"]
    kind: Annotated[str, Field(max_length=64)] | None = None
    labels: Annotated[dict[Annotated[str, Field(max_length=64)], Label], Field(max_length=32)] = (
        Field(default_factory=dict)
    )


class Heartbeat(_Message):
    type: Literal["heartbeat"]
    status: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    queue_depth: Count | None = None
    task: Annotated[str, Field(max_length=512)] | None = None
    metrics: Annotated[dict[Annotated[str, Field(max_length=64)], float], Field(max_length=32)] = (
        Field(default_factory=dict)
    )


class Event(_Message):
    type: Literal["event"]
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    kind: Annotated[str, Field(min_length=1, max_length=64)] = "message"
    message: Annotated[str, Field(max_length=MAX_MESSAGE)] = ""
    data: dict[str, Any] = Field(default_factory=dict)


class Error(_Message):
    type: Literal["error"]
    error_type: Annotated[str, Field(min_length=1, max_length=128)] = "Error"
    message: Annotated[str, Field(max_length=MAX_MESSAGE)] = ""
    stack: Annotated[str, Field(max_length=MAX_STACK)] | None = None


class Usage(_Message):
    type: Literal["usage"]
    model: Short
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_read_tokens: Count = 0
    cache_write_tokens: Count = 0
    cache_write_1h_tokens: Count = 0
    """The part of cache_write_tokens written with a one-hour TTL (priced higher)."""
    cost_usd: Annotated[float, Field(ge=0, le=1e9)] | None = None
    request_id: Short | None = None


Message = Register | Heartbeat | Event | Error | Usage


@functools.cache
def _adapter() -> TypeAdapter[Message]:
    return TypeAdapter(Annotated[Message, Field(discriminator="type")])


def _no_constant(name: str) -> float:
    raise Rejected(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise Rejected(f"number {text[:40]} is out of range")
    return value


def _check_data(value: object, depth: int = 1) -> None:
    """Depth and finiteness of free-form `data` (pydantic sees it as Any)."""
    if depth > MAX_DEPTH:
        raise Rejected(f"data: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _check_data(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_data(item, depth + 1)


def _check_text(value: object, depth: int = 0) -> None:
    """JSON `\\ud800` escapes make strings SQLite cannot store as UTF-8."""
    if depth > MAX_DEPTH:
        raise Rejected(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Rejected("text holds an unpaired UTF-16 surrogate (\\ud800-\\udfff)") from None
    elif isinstance(value, dict):
        for k, item in value.items():
            _check_text(k, depth + 1)
            _check_text(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, depth + 1)


def _timestamp(ts: object, now: float) -> float:
    if ts is None:
        return now
    if isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts)
        except ValueError:
            raise Rejected("ts: not epoch seconds or an RFC 3339 time") from None
        if parsed.tzinfo is None:
            raise Rejected("ts: an RFC 3339 time needs a UTC offset (e.g. Z or +02:00)")
        value = parsed.timestamp()
    else:
        assert isinstance(ts, float | int)
        value = float(ts)
    if value > now + MAX_FUTURE:
        raise Rejected(f"ts: {value:.0f} is in the future (clock now {now:.0f})")
    if value < EARLIEST:
        raise Rejected(f"ts: {value:.0f} is before the year 2000 (milliseconds for seconds?)")
    return value


def _reason(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    loc = [str(x) for x in err["loc"]]
    kind = err["type"]
    if kind == "union_tag_invalid":
        return f"unknown type {err['input'].get('type')!r:.40} (expected {', '.join(TYPES)})"
    if kind == "union_tag_not_found":
        return f"missing field 'type' (one of {', '.join(TYPES)})"
    if loc and loc[0] in TYPES:
        loc = loc[1:]
    where = ".".join(loc) or "message"
    if kind == "extra_forbidden":
        return f"unknown field {where!r:.70}"
    if kind == "missing":
        return f"missing field {where!r}"
    if where == "v" and kind in ("greater_than_equal", "less_than_equal"):
        return f"unsupported protocol version (this server speaks v{VERSION})"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{more}"[:300]


def parse(line: bytes, now: float | None = None) -> Message:
    """One line (without its newline) -> a message with `ts` as epoch seconds, or Rejected."""
    if len(line) > MAX_LINE:
        raise Rejected(f"line longer than {MAX_LINE} bytes")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(f"not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise Rejected("empty line")
    try:
        raw = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise Rejected(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise Rejected(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except ValueError:  # an integer longer than sys.get_int_max_str_digits() (4300)
        raise Rejected(
            f"number too long (more than {sys.get_int_max_str_digits()} digits)"
        ) from None
    if not isinstance(raw, dict):
        raise Rejected("a message must be a JSON object")
    if "\\ud" in text or "\\uD" in text:
        _check_text(raw)
    try:
        msg = _adapter().validate_python(raw)
    except ValidationError as exc:
        raise Rejected(_reason(exc)) from None
    if isinstance(msg, Event) and msg.data:
        _check_data(msg.data)
        # Re-encoded, data grows at most ~4.5x (1e15 -> 1000000000000000.0): a short line
        # cannot hold too much of it, and most lines are short.
        if len(line) > MAX_DATA // 5:
            size = len(json.dumps(msg.data, separators=(",", ":"), ensure_ascii=False))
            if size > MAX_DATA:
                raise Rejected(f"data: {size} bytes as JSON, more than {MAX_DATA}")
    if isinstance(msg, Usage) and msg.cache_write_1h_tokens > msg.cache_write_tokens:
        raise Rejected("cache_write_1h_tokens: more than cache_write_tokens, of which it is a part")
    now = time.time() if now is None else now
    # Our own fresh, validated object: fill in the time without a copy (3 µs a line).
    object.__setattr__(msg, "ts", _timestamp(msg.ts, now))
    return msg
