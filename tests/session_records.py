"""What a consumer of session records does, for the tests of the file drivers: poll until
the backlog is read, keep one usage record per key, sum per session."""

from __future__ import annotations

from collections.abc import Iterable

from tui_monitor.sessions.reader import SessionReader
from tui_monitor.sessions.records import SessionRecord, SessionUsage, supersedes

Totals = dict[str, dict[str, int]]


def read_all(reader: SessionReader) -> list[SessionRecord]:
    out: list[SessionRecord] = []
    while True:
        got = reader.poll()
        out += got
        if not got and not reader.more:
            return out


def fold(records: Iterable[SessionRecord]) -> Totals:
    """What the consumer does: one usage record per key (the one that supersedes the others),
    summed per session, in `expected`'s form."""
    by_key: dict[str, SessionUsage] = {}
    for r in records:
        if isinstance(r, SessionUsage):
            old = by_key.get(r.key)
            if old is None or supersedes(r, old):
                by_key[r.key] = r
    out: Totals = {}
    for u in by_key.values():
        t = out.setdefault(u.session_id, dict.fromkeys(("input", "output", "read", "write"), 0))
        t["input"] += u.input_tokens
        t["output"] += u.output_tokens
        t["read"] += u.cache_read_tokens
        t["write"] += u.cache_write_tokens
    return out


def usages(records: Iterable[SessionRecord]) -> list[SessionUsage]:
    return [r for r in records if isinstance(r, SessionUsage)]
