"""What tokens cost: the config's price table and the price of one usage record.

Pure code with no store or UI behind it; `builtin.py` is the table that comes with us,
`ledger.py` keeps the running totals and `budgets.py` the limits.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, RootModel, field_validator

from tui_monitor import models

from .builtin import BUILTIN, BuiltinPrices, Tokens

MILLION = 1_000_000

PRICES_EXAMPLE = """\
# Usage without cost_usd is priced from the built-in table (genai-prices, bundled data,
# offline: `tui-monitor config show` says which release). Prices here override it, in USD per
# million tokens. A key is a model name or a glob pattern, matched case-insensitively: an
# exact name wins, then the longest matching pattern, then the built-in table. The figures
# below are an illustration only. A model known to neither (and without cost_usd) shows as
# "unknown cost", never as free.
#
# [prices."claude-sonnet-4*"]
# input = 3.0
# output = 15.0
# cache_read = 0.30                  # unset: same as input
# cache_write = 3.75                 # 5-minute cache writes; unset: same as input
# cache_write_1h = 6.0               # 1-hour cache writes; unset: same as cache_write
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
    """USD per million tokens written to the prompt cache (with the default five-minute TTL);
    unset means the input price."""
    cache_write_1h: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """USD per million tokens written to the prompt cache with a one-hour TTL; unset means the
    cache_write price."""


class PriceTable(RootModel[dict[str, ModelPrice]]):
    """Model name or glob pattern (e.g. "claude-sonnet-4*") -> price; empty by default.

    It overrides the built-in table (genai-prices' bundled data, offline): an exact name
    first, then the longest matching pattern, then the built-in table. Usage of a model known
    to neither is reported as unknown cost, never as free.
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


def priced(
    record: models.UsageRecord, prices: PriceTable, builtin: BuiltinPrices | None = BUILTIN
) -> models.UsageRecord:
    """The record with its cost fixed, as it is stored: the agent's own, else the config's
    table's, else the built-in table's, as of now (`cost_source` says which), else left
    without a price. Priced once, when recorded: a later change of either table never changes
    what history says it cost."""
    if record.cost_source is not None:
        return record
    found = quote(record, prices, builtin)
    if found is None:
        return record
    cost, source = found
    return record.model_copy(update={"cost_usd": cost, "cost_source": source})


def quote(
    record: models.UsageRecord, prices: PriceTable, builtin: BuiltinPrices | None = BUILTIN
) -> tuple[float, models.CostSource] | None:
    """USD for one record and where the figure comes from, None when nothing prices it."""
    if record.cost_usd is not None:
        return float(record.cost_usd), "agent"
    tokens = tokens_of(record)
    cost = price(prices, record.model, tokens)
    if cost is not None:
        return cost, "prices"
    if builtin is not None:
        cost = builtin.cost(record.model, record.ts, tokens)
        if cost is not None:
            return cost, "builtin"
    return None


def cost_of(
    record: models.UsageRecord, prices: PriceTable, builtin: BuiltinPrices | None = BUILTIN
) -> float | None:
    """USD for one record: its own cost_usd wins, else the price tables, else None (unknown)."""
    found = quote(record, prices, builtin)
    return None if found is None else found[0]


def tokens_of(record: models.UsageRecord) -> Tokens:
    return Tokens(
        record.input_tokens,
        record.output_tokens,
        record.cache_read_tokens,
        record.cache_write_tokens,
        record.cache_write_1h_tokens,
    )


def price(prices: PriceTable, model: str, tokens: tuple[int, ...]) -> float | None:
    """USD for (input, output, cache read, cache write[, of which 1h]) tokens of `model` by
    the config's table, None if it has no price for it."""
    p = prices.lookup(model)
    if p is None:
        return None
    inp, out, read, write, *rest = tokens
    write_1h = min(rest[0], write) if rest else 0
    cache_read = p.input if p.cache_read is None else p.cache_read
    cache_write = p.input if p.cache_write is None else p.cache_write
    cache_write_1h = cache_write if p.cache_write_1h is None else p.cache_write_1h
    return (
        inp * p.input
        + out * p.output
        + read * cache_read
        + (write - write_1h) * cache_write
        + write_1h * cache_write_1h
    ) / MILLION
