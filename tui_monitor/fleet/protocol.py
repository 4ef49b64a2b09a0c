"""The lines of `tui-monitor stream`: newline-delimited JSON, versioned, bounded both ways.

A stream is a handshake line, then a snapshot line per tick of the remote recorder (and a
heartbeat line when it has none for a while, so a viewer hears that the stream still runs
and what its source says is wrong); an error line says why the remote refuses (no history)
and may come at any point. Every line is one JSON object:

- handshake: `{"tui_monitor_stream": 1, "version": "0.9.0", "host": "gpu1", "interval": 1.0}`
- snapshot:  `{"snapshot": {...}, "warning": "recorder stopped 3m ago"}` (warning optional)
- heartbeat: `{"warning": "..."}` (the warning may be "")
- error:     `{"tui_monitor_stream": 1, "error": "no history at /home/me/...: ..."}`

The snapshot is compact: only what a viewer shows of another machine (its agents and its
host and GPU figures); events, errors, usage, task boards, receivers' counters, pids and the
process tree stay on the remote, whose own dashboard (`enter` over `ssh -t`) shows them. A
remote whose models grew a field (a newer tui-monitor, same protocol) is still read: fields
this viewer does not know are dropped. Everything decoded is cleaned by `safe` (the remote is
as hostile as any process): names strictly, the rest as one bounded line.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .. import safe
from ..models import Snapshot

PROTOCOL = 1
"""The version this side speaks; a handshake with another one is refused (no guessing)."""
MAX_LINE = 4 * 2**20
"""Bytes a line may hold (the newline not counted): 50 agents take ~20 kB; a longer line
means a broken or hostile remote, and reading stops."""
MAX_AGENTS = 1000
"""Agents a snapshot line carries at most; the stream says how many it left out."""
REASON_MAX = 300
"""Characters of a remote reason kept (one line on the Hosts card)."""

_SNAPSHOT_EXCLUDE: dict[str, Any] = {
    "events": True,
    "errors": True,
    "usage": True,
    "tasks": True,
    "task_changes": True,
    "session_changes": True,
    "event_rows": True,
    "ingest": True,
    "otlp": True,
    "sessions": True,
    "hosts": True,  # a remote's own fleet is its business: no fleets of fleets
    "gpu": {"process_memory"},  # keyed by the remote's pids
    "agents": {"__all__": {"pids": True, "parents": True, "session": {"earlier"}}},
}
_NAME_KEYS = frozenset(
    {
        "name",
        "kind",
        "process",
        "user",
        "agent",
        "model",
        "models",
        "hostname",
        "reported",
        "last_tool",
        "state_tool",
        "family",
        "host",
        "uuid",
    }
)
"""Keys whose strings are names: cleaned strictly (`safe.name`), as the local ones are."""
_DEPTH_MAX = 32
_CACHED_MAX = 256
"""Strings up to this long have their cleaned form remembered (an LRU of 8,192 each)."""


class ProtocolError(ValueError):
    """A line this viewer cannot use; its message is the one-line reason."""


class VersionMismatch(ProtocolError):
    """A stream of another protocol version: a tui-monitor, but not one this viewer reads."""


@dataclass(frozen=True, slots=True)
class Handshake:
    protocol: int
    version: str
    host: str
    interval: float


@dataclass(frozen=True, slots=True)
class SnapshotLine:
    snapshot: Snapshot
    warning: str = ""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    warning: str = ""


@dataclass(frozen=True, slots=True)
class ErrorLine:
    reason: str


Line = Handshake | SnapshotLine | Heartbeat | ErrorLine


def _dump(doc: dict[str, Any]) -> bytes:
    text = json.dumps(doc, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.encode("ascii") + b"\n"


def encode_handshake(version: str, host: str, interval: float) -> bytes:
    """The first line of a stream."""
    return _dump(
        {"tui_monitor_stream": PROTOCOL, "version": version, "host": host, "interval": interval}
    )


def encode_error(reason: str) -> bytes:
    """A polite refusal (it carries the protocol version, so any viewer can read it)."""
    return _dump({"tui_monitor_stream": PROTOCOL, "error": safe.clean(reason, REASON_MAX)})


def encode_heartbeat(warning: str = "") -> bytes:
    return _dump({"warning": safe.clean(warning, REASON_MAX)})


def encode_snapshot(snap: Snapshot, warning: str = "") -> bytes:
    """A snapshot line, compact (see the module's note); over MAX_AGENTS agents are left out
    and said in the warning, and a line still over MAX_LINE carries no agents at all."""
    if len(snap.agents) > MAX_AGENTS:
        left = len(snap.agents) - MAX_AGENTS
        snap = snap.model_copy(update={"agents": snap.agents[:MAX_AGENTS]})
        warning = "; ".join(w for w in (warning, f"{left} agents not sent") if w)
    doc = snap.model_dump(mode="json", exclude=_SNAPSHOT_EXCLUDE, exclude_defaults=True)
    doc["host"]["cpu_per_core"] = None  # a bar per core is the remote dashboard's to draw
    line = _dump({"snapshot": doc, **({"warning": warning} if warning else {})})
    if len(line) > MAX_LINE + 1:
        doc["agents"] = []
        note = f"snapshot of {len(snap.agents)} agents too large to send"
        line = _dump({"snapshot": doc, "warning": "; ".join(w for w in (warning, note) if w)})
    return line


def decode(line: bytes) -> Line:
    """One line of a stream (with or without its newline). Raises ProtocolError with a
    one-line reason for anything else: too long, not JSON, not an object, an unknown version,
    a snapshot that does not validate."""
    if len(line) > MAX_LINE + 1:
        raise ProtocolError(f"a line of {len(line)} bytes (the limit is {MAX_LINE})")
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"not JSON: {safe.clean(exc, 120)}") from None
    if not isinstance(doc, dict):
        raise ProtocolError(f"not a JSON object but {type(doc).__name__}")
    if "error" in doc:
        return ErrorLine(_text(doc["error"]) or "refused without a reason")
    if "tui_monitor_stream" in doc:
        return _handshake(doc)
    if "snapshot" in doc:
        return SnapshotLine(_snapshot(doc["snapshot"]), _text(doc.get("warning", "")))
    if set(doc) == {"warning"}:
        return Heartbeat(_text(doc["warning"]))
    keys = ", ".join(sorted(safe.name(k, 32) for k in list(doc)[:5]))
    raise ProtocolError(f"not a stream line (keys: {keys or 'none'})")


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"a {type(value).__name__} where text belongs")
    return safe.clean(value, REASON_MAX)


def _handshake(doc: dict[str, Any]) -> Handshake:
    protocol = doc.get("tui_monitor_stream")
    if not isinstance(protocol, int) or isinstance(protocol, bool):
        raise ProtocolError("a handshake without a protocol version")
    version = safe.name(doc.get("version", "?"), 40)
    if protocol != PROTOCOL:
        raise VersionMismatch(
            f"the remote speaks stream protocol {protocol} (tui-monitor {version}), this "
            f"viewer speaks {PROTOCOL}: install the same tui-monitor on both"
        )
    interval = doc.get("interval")
    if not isinstance(interval, int | float) or not math.isfinite(interval) or interval <= 0:
        raise ProtocolError("a handshake without a positive interval")
    return Handshake(protocol, version, safe.name(doc.get("host", "?"), 64), float(interval))


def _snapshot(doc: object) -> Snapshot:
    """Validate a remote snapshot; fields a newer remote added are dropped, once."""
    if not isinstance(doc, dict):
        raise ProtocolError("a snapshot that is not an object")
    doc = _cleaned(doc, 0, "")
    try:
        return Snapshot.model_validate(doc)
    except ValidationError as exc:
        extra = [e["loc"] for e in exc.errors() if e["type"] == "extra_forbidden"]
        if not extra or len(extra) < exc.error_count():
            raise ProtocolError(f"a snapshot that is not valid: {_first(exc)}") from None
    for loc in extra:
        _drop(doc, loc)
    try:
        return Snapshot.model_validate(doc)
    except ValidationError as exc:
        raise ProtocolError(f"a snapshot that is not valid: {_first(exc)}") from None


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return safe.clean(f"{where}: {err['msg']} ({exc.error_count()} errors)", 200)


def _drop(doc: Any, loc: tuple[int | str, ...]) -> None:
    for part in loc[:-1]:
        try:
            doc = doc[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(doc, dict):
        doc.pop(loc[-1], None)


@functools.lru_cache(maxsize=8192)
def _name(value: str) -> str:
    return safe.name(value)


@functools.lru_cache(maxsize=8192)
def _line(value: str) -> str:
    return safe.clean(value, safe.CMDLINE_MAX)


def _cleaned(value: Any, depth: int, key: str) -> Any:
    """Every string made inert: names strictly, the rest one bounded line; dict keys are
    names. Too deep a document is refused (no structure of ours nests past a handful)."""
    if depth > _DEPTH_MAX:
        raise ProtocolError(f"a snapshot nested deeper than {_DEPTH_MAX}")
    # The same names, keys and kinds come tick after tick from every host: their cleaned
    # forms are remembered (bounded; strings past a line are cleaned each time).
    if isinstance(value, str):
        if len(value) > _CACHED_MAX:
            return safe.name(value) if key in _NAME_KEYS else safe.clean(value, safe.CMDLINE_MAX)
        return _name(value) if key in _NAME_KEYS else _line(value)
    if isinstance(value, dict):
        return {
            _name(k) if len(k) <= _CACHED_MAX else safe.name(k): _cleaned(v, depth + 1, k)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_cleaned(v, depth + 1, key) for v in value]
    return value
