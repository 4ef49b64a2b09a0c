"""Codex's token counters and rate-limit snapshots, turned into what our records mean.

Codex writes, after each model response, a `token_count` event whose `total_token_usage` is
the thread's running total since it began (a resumed or forked thread starts from the total it
inherits) and `last_token_usage` the response's own figure. Its fields follow OpenAI's
Responses API: `cached_input_tokens` (and, in recent versions, `cache_write_input_tokens`) are
parts of `input_tokens`, and `reasoning_output_tokens` is part of `output_tokens` (codex-rs
`TokenUsage::blended_total` adds input and output only; every snapshot has
`total_tokens == input_tokens + output_tokens`). `normalised` maps them to records.py's
meaning, where input excludes what the cache served and reasoning is never added twice.

Rate limits came in three shapes: flat `primary_used_percent`/`primary_window_minutes` fields
(codex 0.3x/0.40), then `primary`/`secondary` windows with `resets_in_seconds`, then the same
windows with `resets_at` in epoch seconds (0.5x on). The two windows are told apart by their
length (300 minutes and 10080 minutes on ChatGPT plans), which `Window` keeps.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .fields import count, epoch, number


class Tokens(NamedTuple):
    """One counter snapshot or one increment, in Codex's own meaning (see the module)."""

    input: int = 0
    cached: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0

    def within(self, other: Tokens) -> bool:
        """Every field is at most `other`'s."""
        return all(mine <= theirs for mine, theirs in zip(self, other, strict=True))

    def minus(self, other: Tokens) -> Tokens:
        """The increment from `other` to this snapshot (fields clamped at zero)."""
        return Tokens(*(max(mine - theirs, 0) for mine, theirs in zip(self, other, strict=True)))

    def plus(self, other: Tokens) -> Tokens:
        return Tokens(*(mine + theirs for mine, theirs in zip(self, other, strict=True)))


ZERO = Tokens()

_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_read_input_tokens")


def tokens(value: Any) -> Tokens | None:
    """A `TokenUsage` object as `Tokens`; None when `value` is not one (null, a number, an
    object with none of the counters)."""
    if not isinstance(value, dict) or not any(name in value for name in _FIELDS):
        return None
    cached = count(value.get("cached_input_tokens")) or count(value.get("cache_read_input_tokens"))
    return Tokens(
        input=count(value.get("input_tokens")),
        cached=cached,
        cache_write=count(value.get("cache_write_input_tokens")),
        output=count(value.get("output_tokens")),
        reasoning=count(value.get("reasoning_output_tokens")),
    )


def advance(seen: Tokens | None, total: Tokens, last: Tokens | None) -> tuple[Tokens, Tokens]:
    """What a counter snapshot adds, and the counter's new high-water mark.

    `seen` is the highest snapshot this file has shown so far (None before its first).
    Only increases count: a repeated snapshot adds nothing, and so does one below the mark
    (a stale copy written late), unless it is a counter that started again from zero (its
    total is its own last response), which adds that response. A file's first snapshot adds
    its `last_token_usage`: the thread may have been counting before this file (a resume, a
    fork), and by Codex's construction the last figure is the step from the previous total.
    """
    if seen is None:
        step = last if last is not None and last.within(total) else total
        return step, total
    if total == seen:
        return ZERO, seen
    if seen.within(total):
        return total.minus(seen), total
    if total.within(seen):
        if last is not None and total == last:
            return last, total  # a fresh counter (a thread that started again from zero)
        return ZERO, seen  # a stale snapshot: everything in it was counted already
    # Some fields up, some down: a counter reset (Codex's "context window full" snapshot
    # keeps only total_tokens); its last response is what it adds.
    step = last if last is not None and last.within(total) else total.minus(seen)
    return step, total


class Normalised(NamedTuple):
    """An increment in records.py's meaning."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int


def normalised(step: Tokens) -> Normalised:
    """Input without the cache's part, output with reasoning counted once (inside it)."""
    cached = min(step.cached, step.input)
    written = min(step.cache_write, step.input - cached)
    return Normalised(
        input_tokens=step.input - cached - written,
        output_tokens=step.output,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


class Window(NamedTuple):
    """One rate-limit window as a snapshot states it."""

    window_minutes: int | None
    used_percent: float | None
    resets_at: float | None


def windows(value: Any, ts: float | None) -> list[Window]:
    """The windows of a `rate_limits` snapshot in any of its shapes; `ts` (the line's time)
    turns a relative reset into an absolute one. Unknown shapes give nothing."""
    if not isinstance(value, dict):
        return []
    found = []
    for name in ("primary", "secondary"):
        window = value.get(name)
        if isinstance(window, dict):
            resets_at = epoch(window.get("resets_at"))
            after = number(window.get("resets_in_seconds"))
            used = number(window.get("used_percent"))
            minutes = window.get("window_minutes")
        else:  # the first shape: flat fields
            resets_at = None
            after = number(value.get(f"{name}_reset_after_seconds"))
            used = number(value.get(f"{name}_used_percent"))
            minutes = value.get(f"{name}_window_minutes")
        if resets_at is None and after is not None and ts is not None:
            resets_at = ts + after
        length = count(minutes) or None
        if used is not None or length is not None:
            found.append(Window(length, used, resets_at))
    return found
