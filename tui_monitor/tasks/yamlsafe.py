"""YAML text into plain JSON values, built from the safe parser's events under hard limits.

PyYAML's safe loader is safe about *what* it builds, not about how much: an alias is a
shared object, so a "billion laughs" file loads in microseconds and explodes only when the
result is walked, and its constructor recurses per nesting level. Here libyaml's event
parser (C; PyYAML's own parser where libyaml is missing) feeds one loop with an explicit
stack: every value, and every alias by the size of what it points at, is counted against
MAX_VALUES and MAX_CHARS as it arrives, nesting is capped at MAX_DEPTH, so a hostile file
stops at the limit after that much work and never more. Building values here instead of in
PyYAML's Python constructor also halves the cost of a typical task file (bench/tasks.py).

Scalars mean what they mean to `yaml.safe_load` (its resolver and its constructors are used
for ints, floats, booleans, nulls, timestamps and binary); times become ISO 8601 text,
non-finite floats text, binary `<N bytes>`, keys text; other tags are refused, as the safe
loader refuses them.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from sys import intern
from typing import Any

import yaml
from yaml import events as ev
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

MAX_DEPTH = 32
MAX_VALUES = 10_000
"""Values in one file once aliases are expanded: a bomb stops here."""
MAX_CHARS = 1_000_000
"""Characters of text in one file once aliases are expanded."""
MAX_STRING = 4096
"""Characters kept of one string (the rest is cut, with an ellipsis)."""
KEY_MAX = 128
INTERN_MAX = 24

_Parser: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCT = SafeConstructor()
Y = "tag:yaml.org,2002:"
_SCALARS = {
    f"{Y}str": None,
    f"{Y}int": _CONSTRUCT.construct_yaml_int,
    f"{Y}float": _CONSTRUCT.construct_yaml_float,
    f"{Y}bool": _CONSTRUCT.construct_yaml_bool,
    f"{Y}null": _CONSTRUCT.construct_yaml_null,
    f"{Y}timestamp": _CONSTRUCT.construct_yaml_timestamp,
    f"{Y}binary": _CONSTRUCT.construct_yaml_binary,
    f"{Y}merge": None,
    f"{Y}value": None,
}
_MAPS = {None, "!", f"{Y}map", f"{Y}set"}
_SEQS = {None, "!", f"{Y}seq", f"{Y}omap", f"{Y}pairs"}
_PLAIN_TEXT = frozenset(
    chr(c) for c in range(32, 0x3000) if chr(c) not in yaml.SafeLoader.yaml_implicit_resolvers
) - {""}
"""First characters with which a plain scalar can only be text (no int, bool, null, ...)."""
MERGE = object()
"""The value of a `<<` key: its mapping (or list of them) is merged into the one holding it."""


class Problem(Exception):
    """Why a file cannot be read as a task, phrased for its card."""


class _Frame:
    __slots__ = ("anchor", "chars", "count", "is_map", "key", "merges", "set", "value")

    def __init__(self, value: Any, anchor: str | None, is_set: bool = False) -> None:
        self.value = value
        self.is_map = isinstance(value, dict)
        self.set = is_set
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.merges: list[Any] = []
        self.count = 1
        self.chars = 0


_NO_KEY = object()


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unknown(tag: str) -> Problem:
    return Problem(f"invalid YAML: could not determine a constructor for the tag {cut(tag, 80)}")


_RESOLVED: dict[tuple[str, Any], str] = {}
"""Plain scalar -> its tag, for the few values that could be something other than text."""


def _scalar(loader: Any, e: ev.ScalarEvent) -> Any:
    tag = e.tag
    if tag is None or tag == "!":  # implicit: plain scalars are resolved, quoted ones are text
        if not e.implicit[0]:
            return e.value
        key = (e.value, e.implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = loader.resolve(ScalarNode, e.value, e.implicit)
            if len(_RESOLVED) < 4096:
                _RESOLVED[key] = tag
    if tag not in _SCALARS:
        raise _unknown(tag)
    make = _SCALARS[tag]
    if tag == f"{Y}merge" and e.tag is None:
        return MERGE
    if make is None:
        return e.value
    value = make(ScalarNode(tag, e.value))
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def load(text: str) -> Any:
    """The single document in `text` as JSON values (None when there is none)."""
    loader = _Parser(text)
    try:
        return _build(loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        what = exc.problem or exc.context or "syntax error"
        raise Problem(f"invalid YAML: {what}{where}") from None
    except yaml.YAMLError as exc:
        raise Problem(f"invalid YAML: {(str(exc) or type(exc).__name__).splitlines()[0]}") from None
    except (ValueError, OverflowError) as exc:  # e.g. an int of 5,000 digits
        raise Problem(f"invalid YAML: {type(exc).__name__}: {str(exc)[:200]}") from None
    finally:
        loader.dispose()


def _build(loader: Any) -> Any:
    """The event loop: kept flat (no call per plain text value), it runs for every event of
    every task file, 40 or so of them in a typical one."""
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int, int]] = {}
    values = chars = documents = 0
    result: Any = None
    get = loader.get_event
    scalar_event, alias_event = ev.ScalarEvent, ev.AliasEvent
    plain_text = _PLAIN_TEXT
    while True:
        e = get()
        kind = type(e)
        if kind is scalar_event:
            text = e.value
            size = len(text)
            if e.tag is None and (not e.implicit[0] or text[:1] in plain_text):
                # quoted, or plain and can only mean text; short ones (statuses, agents,
                # labels, keys) recur in every file: one object each for the whole board
                value: Any = intern(text) if size <= INTERN_MAX else text
            else:
                value = _scalar(loader, e)
            if size > MAX_STRING and isinstance(value, str):
                value = cut(value, MAX_STRING)
            n = 1
            if e.anchor is not None:
                anchors[e.anchor] = (value, n, size)
        elif kind is alias_event:
            if e.anchor not in anchors:
                raise Problem("invalid YAML: an alias to an unknown or enclosing anchor")
            value, n, size = anchors[e.anchor]
        elif kind is ev.MappingStartEvent or kind is ev.SequenceStartEvent:
            is_map = kind is ev.MappingStartEvent
            if e.tag not in (_MAPS if is_map else _SEQS):
                raise _unknown(e.tag)
            if len(stack) >= MAX_DEPTH:
                raise Problem(f"nested deeper than {MAX_DEPTH} levels")
            stack.append(_Frame({} if is_map else [], e.anchor, e.tag == f"{Y}set"))
            values += 1
            continue
        elif kind is ev.MappingEndEvent or kind is ev.SequenceEndEvent:
            frame = stack.pop()
            value = frame.value
            if frame.merges:
                merged: dict[str, Any] = {}
                for m in reversed(frame.merges):
                    merged.update(m)
                merged.update(value)
                value = merged
            if frame.set:
                value = list(value)
            if frame.anchor is not None:  # an alias to it counts all it holds again
                anchors[frame.anchor] = (value, frame.count, frame.chars)
            if stack:  # counted already, as it came: only its parent's subtree grows
                _add(stack[-1], value, frame.count, frame.chars)
            else:
                result = value
            continue
        elif e is None or kind is ev.StreamEndEvent:
            return result
        elif kind is ev.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise Problem("invalid YAML: expected a single document, found a second")
            continue
        else:  # StreamStart, DocumentEnd
            continue
        values += n
        chars += size
        if values > MAX_VALUES:
            raise Problem(f"more than {MAX_VALUES:,} values once aliases are expanded")
        if chars > MAX_CHARS:
            raise Problem(f"more than {MAX_CHARS:,} characters once aliases are expanded")
        if not stack:
            result = value
            continue
        frame = stack[-1]
        if n != 1 or value is MERGE or frame.key is MERGE:
            _add(frame, value, n, size)
            continue
        frame.count += 1  # the common cases inline: a text key, a value, a list item
        frame.chars += size
        if not frame.is_map:
            frame.value.append(value)
        elif frame.key is _NO_KEY:
            if type(value) is not str:
                frame.count -= 1
                frame.chars -= size
                _add(frame, value, n, size)
            else:
                frame.key = value if size <= KEY_MAX else cut(value, KEY_MAX)
        else:
            frame.value[frame.key] = value
            frame.key = _NO_KEY


def _add(frame: _Frame, value: Any, n: int, size: int) -> None:
    frame.count += n
    frame.chars += size
    if not frame.is_map:
        frame.value.append(value)
        return
    if frame.key is _NO_KEY:  # a key: kept as text (or as the merge marker)
        if isinstance(value, dict | list):
            raise Problem("invalid YAML: a mapping key that is itself a mapping or a list")
        if isinstance(value, bool):
            value = "true" if value else "false"
        frame.key = (
            value if value is MERGE else cut("null" if value is None else str(value), KEY_MAX)
        )
        return
    key, frame.key = frame.key, _NO_KEY
    if key is MERGE:
        maps = value if isinstance(value, list) else [value]
        if not all(isinstance(m, dict) for m in maps):
            raise Problem("invalid YAML: a merge key (<<) needs a mapping or a list of them")
        frame.merges.extend(maps)
        return
    frame.value[key] = value
