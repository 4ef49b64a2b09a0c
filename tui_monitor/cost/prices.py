"""What tokens cost: the price table and the price of one usage record.

Pure code with no store or UI behind it; `ledger.py` keeps the running totals and
`budgets.py` the limits.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, RootModel, field_validator

from tui_monitor import models

MILLION = 1_000_000

PRICES_EXAMPLE = """\
# Prices in USD per million tokens, used when an agent reports tokens without cost_usd.
# A key is a model name or a glob pattern, matched case-insensitively: an exact name wins,
# then the longest matching pattern. The figures below are an illustration only; copy the
# current ones from your provider's price list. A model without a price (and without
# cost_usd) shows as "unknown cost", never as free.
#
# [prices."claude-sonnet-4*"]
# input = 3.0
# output = 15.0
# cache_read = 0.30                  # unset: same as input
# cache_write = 3.75                 # unset: same as input
#
# [prices."my-local-model"]
# input = 0.0
# output = 0.0
#
# [budgets]
# daily = 20.0                       # USD per local day, whole fleet
# monthly = 300.0                    # USD per calendar month, whole fleet
#
# [budgets.agents]
# planner = 5.0                      # USD per local day for this agent
"""


class ModelPrice(BaseModel):
    """What one model's tokens cost, in USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0, allow_inf_nan=False)
    """USD per million input (prompt) tokens."""
    output: float = Field(ge=0, allow_inf_nan=False)
    """USD per million output (completion) tokens."""
    cache_read: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """USD per million tokens read from the prompt cache; unset means the input price."""
    cache_write: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """USD per million tokens written to the prompt cache; unset means the input price."""


class PriceTable(RootModel[dict[str, ModelPrice]]):
    """Model name or glob pattern (e.g. "claude-sonnet-4*") -> price; empty by default.

    There is no built-in price list: real prices change and cannot be checked offline, and a
    stale figure would be a silent wrong number. Unpriced usage is reported as unknown instead.
    """

    model_config = ConfigDict(frozen=True)

    root: dict[str, ModelPrice] = Field(default_factory=dict)
    _exact: dict[str, ModelPrice] = PrivateAttr(default_factory=dict)
    _globs: list[tuple[str, ModelPrice]] = PrivateAttr(default_factory=list)
    _cache: dict[str, ModelPrice | None] = PrivateAttr(default_factory=dict)

    @field_validator("root")
    @classmethod
    def _valid_keys(cls, v: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        seen: set[str] = set()
        for key in v:
            if not key.strip():
                raise ValueError("a model name or pattern must not be empty")
            if key.lower() in seen:
                raise ValueError(f"model {key!r} is priced twice (names ignore case)")
            seen.add(key.lower())
        return v

    def model_post_init(self, context: Any, /) -> None:
        for key, price in self.root.items():
            self._exact[key.lower()] = price
            if any(c in key for c in "*?["):
                self._globs.append((key.lower(), price))
        self._globs.sort(key=lambda kp: (-len(kp[0]), kp[0]))

    def lookup(self, model: str) -> ModelPrice | None:
        """The price for `model`: exact name first, then the longest matching pattern."""
        name = model.lower()
        if name in self._cache:
            return self._cache[name]
        price = self._exact.get(name)
        if price is None:
            price = next((p for pat, p in self._globs if fnmatch.fnmatchcase(name, pat)), None)
        if len(self._cache) >= 4096:  # model names come from agents: keep the cache bounded
            self._cache.clear()
        self._cache[name] = price
        return price


def priced(record: models.UsageRecord, prices: PriceTable) -> models.UsageRecord:
    """The record with its cost fixed, as it is stored: the agent's own, else the price
    table's as of now (`cost_source` says which), else left without a price. Priced once,
    when recorded: a later change of the table never changes what history says it cost."""
    if record.cost_source is not None:
        return record
    if record.cost_usd is not None:
        return record.model_copy(update={"cost_source": "agent"})
    cost = cost_of(record, prices)
    if cost is None:
        return record
    return record.model_copy(update={"cost_usd": cost, "cost_source": "prices"})


def cost_of(record: models.UsageRecord, prices: PriceTable) -> float | None:
    """USD for one record: its own cost_usd wins, else the price table, else None (unknown)."""
    if record.cost_usd is not None:
        return float(record.cost_usd)
    tokens = (
        record.input_tokens,
        record.output_tokens,
        record.cache_read_tokens,
        record.cache_write_tokens,
    )
    return price(prices, record.model, tokens)


def price(prices: PriceTable, model: str, tokens: tuple[int, int, int, int]) -> float | None:
    """USD for (input, output, cache read, cache write) tokens of `model`, None if unpriced."""
    p = prices.lookup(model)
    if p is None:
        return None
    cache_read = p.input if p.cache_read is None else p.cache_read
    cache_write = p.input if p.cache_write is None else p.cache_write
    inp, out, read, write = tokens
    return (inp * p.input + out * p.output + read * cache_read + write * cache_write) / MILLION
