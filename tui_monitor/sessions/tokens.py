"""A session's token totals, and the history's record of one settled response (the book's
arithmetic, kept apart from its bookkeeping)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from ..models import SessionTokens, UsageRecord
from .records import SessionUsage

_NAME_MAX = 128


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(slots=True)
class Tokens:
    """A session's token totals by kind (mutable: usage adds and settles into them)."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0

    def add(self, u: SessionUsage | SessionTokens, sign: int = 1) -> None:
        if isinstance(u, SessionUsage):
            parts = (u.input_tokens, u.output_tokens, u.cache_read_tokens,
                     u.cache_write_tokens, u.cache_write_1h_tokens)  # fmt: skip
        else:
            parts = (u.input, u.output, u.cache_read, u.cache_write, u.cache_write_1h)
        self.input += sign * parts[0]
        self.output += sign * parts[1]
        self.cache_read += sign * parts[2]
        self.cache_write += sign * parts[3]
        self.cache_write_1h += sign * parts[4]

    def freeze(self) -> SessionTokens:
        return SessionTokens(
            input=self.input,
            output=self.output,
            cache_read=self.cache_read,
            cache_write=self.cache_write,
            cache_write_1h=self.cache_write_1h,
        )


def usage_record(u: SessionUsage, agent: str, session: str) -> UsageRecord:
    """The history's record of a settled response. Built without validation (about 5 µs a
    record saved, thousands a tick in a backfill): every figure is made a non-negative int
    here, and the one-hour part never exceeds the cache writes, as `UsageRecord` requires."""
    write = max(0, int(u.cache_write_tokens))
    cost = u.cost_usd
    if cost is not None and not (cost >= 0 and math.isfinite(cost)):
        cost = None
    return UsageRecord.model_construct(
        ts=_dt(u.ts),
        agent=agent,
        model=u.model[:_NAME_MAX] or "unknown",
        input_tokens=max(0, int(u.input_tokens)),
        output_tokens=max(0, int(u.output_tokens)),
        cache_read_tokens=max(0, int(u.cache_read_tokens)),
        cache_write_tokens=write,
        cache_write_1h_tokens=min(max(0, int(u.cache_write_1h_tokens)), write),
        cost_usd=cost,
        request_id=u.key,
        session=session,
        cost_source=None,
    )
