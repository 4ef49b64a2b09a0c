"""One task file into one card, whatever the file holds.

Files are untrusted: they are read with a size limit (never opening a FIFO or following a
symlink swapped in after the scan), must be UTF-8 text, and are parsed by the safe parser
under limits of values, characters and depth (yamlsafe.py): a "billion laughs" file stops
after MAX_VALUES values and becomes an error card, as does every other bad file.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from typing import Any

from .. import fmt
from ..models import TaskCard, TaskColumn
from . import yamlsafe
from .yamlsafe import MAX_STRING, Problem

MAX_ITEMS = 100
"""Artefacts listed on a card."""
ID_MAX = 200
TITLE_MAX = 1000
SHORT_MAX = 128

_FIELDS_SET = set(TaskCard.model_fields)
"""One set shared by every card as pydantic's "fields set" (nothing here asks for unset
fields): 400 bytes a card less."""
KNOWN = frozenset(
    ("id", "title", "agent", "status", "priority", "created", "artefacts", "artifacts")
)


# -- reading --------------------------------------------------------------------------


def read_limited(path: str, max_bytes: int, *, follow: bool = False) -> bytes:
    """The file's bytes, refusing what is not a regular file or is larger than `max_bytes`.

    O_NONBLOCK: a FIFO put in place after the scan cannot hang the reader; O_NOFOLLOW (unless
    the scan checked the symlink): a symlink swapped in cannot lead out of the root.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    if not follow:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Problem(f"cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Problem("not a regular file")
        if st.st_size > max_bytes:
            raise Problem(f"too large: {fmt.size(st.st_size)} (limit {fmt.size(max_bytes)})")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise Problem(f"too large: over {fmt.size(max_bytes)} (it grew while read)")
        return b"".join(chunks)
    except OSError as exc:
        raise Problem(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def decode(data: bytes) -> str:
    if b"\0" in data:
        raise Problem("binary file (it holds NUL bytes), not YAML text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Problem(f"not UTF-8 text (byte {exc.start})") from None


def load_mapping(text: str) -> dict[str, Any]:
    """The document as plain JSON-able values, within the limits; a Problem otherwise."""
    if not text.strip():
        raise Problem("empty file")
    raw = yamlsafe.load(text)
    if not isinstance(raw, dict):
        raise Problem(f"not a mapping of fields (the document is a {_kind(raw)})")
    return raw


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- fields into a card ---------------------------------------------------------------


def _scalar(value: Any, limit: int) -> str | None:
    """A field meant to be one short text: scalars as text, anything else as None."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _cut(str(value), limit)


def _text(value: Any, limit: int) -> str | None:
    """A field meant to be text, whatever it holds (a mapping is shown as `k: v, ...`)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return _cut(", ".join(f"{k}: {v}" for k, v in value.items()), limit)
    if isinstance(value, list):
        return _cut(", ".join(str(v) for v in value), limit)
    return _scalar(value, limit)


def parse_time(value: str | None) -> float | None:
    """`created` as epoch seconds: ISO 8601 dates and times (naive ones are UTC), or epoch."""
    if not value:
        return None
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def card_from(
    fields: dict[str, Any],
    *,
    stem: str,
    path: str,
    column: TaskColumn,
    folder_agent: str | None,
    mtime: float,
) -> TaskCard:
    """A card from a file's fields: the folder decides the column (and the agent, if it has
    a sub-folder); the fields are shown as written."""
    task_id = _scalar(fields.get("id"), ID_MAX) or stem
    artefacts_raw = fields.get("artefacts", fields.get("artifacts"))
    if isinstance(artefacts_raw, list):
        artefacts = tuple(_text(a, 512) or "" for a in artefacts_raw[:MAX_ITEMS])
    elif artefacts_raw is None:
        artefacts = ()
    else:
        artefacts = (_text(artefacts_raw, 512) or "",)
    extra: dict[str, Any] = {}
    summary = error = None
    for key, value in fields.items():
        if key in KNOWN:
            continue
        if key == "result" and isinstance(value, dict) and "summary" in value:
            summary = _text(value["summary"], MAX_STRING)
            rest = {k: v for k, v in value.items() if k != "summary"}
            if rest:
                extra[key] = rest
            continue
        if key == "error" and isinstance(value, dict) and "message" in value:
            error = _text(value["message"], MAX_STRING)
            rest = {k: v for k, v in value.items() if k != "message"}
            if rest:
                extra[key] = rest
            continue
        if key == "error" and isinstance(value, str):
            error = _cut(value, MAX_STRING)
            continue
        extra[key] = value
    created = _text(fields.get("created"), SHORT_MAX)
    return TaskCard.model_construct(
        _FIELDS_SET,
        key=task_id,
        id=task_id,
        column=column,
        path=path,
        agent=folder_agent or _scalar(fields.get("agent"), SHORT_MAX),
        title=_text(fields.get("title"), TITLE_MAX),
        status=_scalar(fields.get("status"), SHORT_MAX),
        priority=_scalar(fields.get("priority"), SHORT_MAX),
        created=created,
        created_ts=parse_time(created),
        mtime=mtime,
        artefacts=artefacts,
        summary=summary,
        error=error,
        extra=extra,
        problem=None,
    )


def error_card(
    problem: str,
    *,
    stem: str,
    path: str,
    column: TaskColumn,
    folder_agent: str | None,
    mtime: float,
) -> TaskCard:
    """A file that is on the board but could not be read as a task: shown with its reason."""
    return TaskCard.model_construct(
        _FIELDS_SET,
        key=stem,
        id=stem,
        column=column,
        path=path,
        agent=folder_agent,
        title=None,
        status=None,
        priority=None,
        created=None,
        created_ts=None,
        mtime=mtime,
        artefacts=(),
        summary=None,
        error=None,
        extra={},
        problem=problem,
    )


def read_card(
    path: str,
    *,
    rel: str,
    stem: str,
    column: TaskColumn,
    folder_agent: str | None,
    mtime: float,
    max_bytes: int,
    follow: bool = False,
) -> TaskCard:
    """Read and parse one task file; every failure becomes an error card, never an exception."""
    try:
        fields = load_mapping(decode(read_limited(path, max_bytes, follow=follow)))
    except Problem as exc:
        return error_card(
            str(exc), stem=stem, path=rel, column=column, folder_agent=folder_agent, mtime=mtime
        )
    return card_from(
        fields, stem=stem, path=rel, column=column, folder_agent=folder_agent, mtime=mtime
    )
