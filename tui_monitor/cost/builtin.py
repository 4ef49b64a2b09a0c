"""The built-in price table: pydantic's genai-prices, its bundled data read offline.

Prices change every few weeks and differ by cache TTL, context length and date; a well-kept
library tracks that better than a list of ours would (why this one: docs/prices.md). Its data
ships inside the package and is never fetched: `UpdatePrices`, the library's only network
path, is opt-in and never started here. A newer genai-prices release is how prices get newer.

A record is priced at the rates of its own time (a backfilled month keeps that month's prices)
and of its own size (Anthropic's long-context rates apply to the whole request above 200k input
tokens). The library's `calc_price` costs ~0.1 ms a call, too slow for a backfill of a million
responses (bench/prices.py), so the rates that one resolved price gives each kind of token are
asked of the library once (probing its own `calc_price` with whole tokens of one kind) and
reused: a request's cost is linear in its token counts within one tier, and the tier depends
only on its input size. The library is imported on first use (~0.1 s, ~10 MiB), never at start-up.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib import metadata
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, ModelPrice

log = logging.getLogger(__name__)

LIBRARY = "genai-prices"
"""The distribution that holds the built-in table."""
MILLION = 1_000_000
_MAX_NAMES = 4096
"""Model names come from agents: the caches stay bounded."""


class Tokens(NamedTuple):
    """One request's tokens in our meaning (Anthropic's): `input` excludes cache reads and
    writes; `cache_write_1h` is the part of `cache_write` written with a one-hour TTL."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens of each kind, and per request, under one price and tier."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    """Cache writes with the default five-minute TTL."""
    cache_write_1h: float
    request: float = 0.0

    def cost(self, t: Tokens) -> float:
        five_min = t.cache_write - t.cache_write_1h
        per_million = (
            t.input * self.input
            + t.output * self.output
            + t.cache_read * self.cache_read
            + five_min * self.cache_write
            + t.cache_write_1h * self.cache_write_1h
        )
        return self.request + per_million / MILLION


def version() -> str | None:
    """The installed genai-prices version, without importing it (None: not installed)."""
    try:
        return metadata.version(LIBRARY)
    except metadata.PackageNotFoundError:
        return None


def describe() -> str:
    """Where built-in prices come from and as of when, in one line for people."""
    v = version()
    if v is None:
        return f"none ({LIBRARY} is not installed)"
    return f"{LIBRARY} {v} (the data bundled with that release, read offline)"


@functools.cache
def _library() -> Any:
    """The genai-prices module, imported once (~0.1 s with its data, which loads on first use)."""
    import genai_prices

    return genai_prices


@dataclass(slots=True)
class _Resolved:
    """One resolved price of the library's and the rates of each of its tiers, found so far."""

    price: ModelPrice
    """Held so that its id, the cache key, is never reused by another object."""
    starts: tuple[int, ...]
    tiers: dict[int, Rates | None]


class BuiltinPrices:
    """Prices from genai-prices for models a `[prices]` table does not name.

    Safe to share between threads: the recorder prices on its loop, replays in threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, ModelInfo | None] = {}
        self._resolved: dict[int, _Resolved] = {}
        self._said: set[str] = set()

    def load(self) -> bool:
        """Import the library and its data now (e.g. in a thread at start-up), so the first
        priced record does not pay for it. False when it cannot be loaded."""
        return self.model("claude-sonnet-4-5") is not None

    def model(self, name: str) -> ModelInfo | None:
        """The library's model for an agent's model name, None when it knows none."""
        key = name.lower()
        try:
            return self._models[key]
        except KeyError:
            pass
        found: ModelInfo | None = None
        try:
            lib = _library()
            found = lib.calc_price(lib.Usage(), name).model
        except LookupError:
            pass
        except Exception as exc:  # a broken install or data: unknown cost, said once
            self._once(f"cannot look up a model in {LIBRARY}: {exc!r}")
        with self._lock:
            if len(self._models) >= _MAX_NAMES:
                self._models.clear()
            self._models[key] = found
        return found

    def rates(self, name: str, ts: datetime, input_total: int) -> Rates | None:
        """The rates of `name` at `ts` for a request of `input_total` input tokens (cache
        reads and writes included), None when the library has no token price for it."""
        info = self.model(name)
        if info is None:
            return None
        when = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
        try:
            price = info.get_prices(when)
            resolved = self._resolved.get(id(price))
            if resolved is None or resolved.price is not price:
                resolved = _Resolved(price, _tier_starts(price), {})
                with self._lock:
                    if len(self._resolved) >= _MAX_NAMES:
                        self._resolved.clear()
                    self._resolved[id(price)] = resolved
            tier = sum(1 for start in resolved.starts if input_total > start)
            if tier not in resolved.tiers:
                resolved.tiers[tier] = _probe(price, resolved.starts, tier)
            return resolved.tiers[tier]
        except Exception as exc:  # the library changed under us: unknown cost, said once
            self._once(f"cannot price {info.id} with {LIBRARY}: {exc!r}")
            return None

    def cost(self, name: str, ts: datetime, tokens: Tokens) -> float | None:
        """USD for one request of `name` at `ts`, None when the library cannot price it."""
        if tokens.cache_write_1h > tokens.cache_write:
            tokens = tokens._replace(cache_write_1h=tokens.cache_write)
        total = tokens.input + tokens.cache_read + tokens.cache_write
        rates = self.rates(name, ts, total)
        return None if rates is None else rates.cost(tokens)

    def _once(self, message: str) -> None:
        with self._lock:
            if message in self._said or len(self._said) >= _MAX_NAMES:
                return
            self._said.add(message)
        log.warning(message)


def _tier_starts(price: ModelPrice) -> tuple[int, ...]:
    """Input sizes above which another tier's rates apply (e.g. 200k: Anthropic's long
    context), over every price of the model."""
    tiered = _library().types.TieredPrices
    starts = {t.start for v in vars(price).values() if isinstance(v, tiered) for t in v.tiers}
    return tuple(sorted(starts))


def _probe(price: ModelPrice, starts: tuple[int, ...], tier: int) -> Rates | None:
    """The library's own rates for each kind of token in one tier, asked of its calc_price
    with a request that falls in that tier; None when it prices no tokens of this model."""
    if not any(k.endswith("_mtok") and v is not None for k, v in vars(price).items()):
        return None  # priced per image, per second, ... or not at all: unknown, not free
    usage = _library().Usage
    size = (starts[0] if starts else MILLION) if tier == 0 else starts[tier - 1] + 1

    def usd(**tokens: int) -> Decimal:
        result: Decimal = price.calc_price(usage(**tokens))["total_price"]
        return result

    request = usd(input_tokens=0)
    output = (usd(input_tokens=size, output_tokens=MILLION) - usd(input_tokens=size)) / MILLION
    if size == 0:  # a tier that starts at 0: only a request with no input is below it
        return Rates(0.0, float(output) * MILLION, 0.0, 0.0, 0.0, float(request))

    def per_million(**tokens: int) -> float:
        return float((usd(input_tokens=size, **tokens) - request) / size * MILLION)

    return Rates(
        input=per_million(),
        output=float(output * MILLION),
        cache_read=per_million(cache_read_tokens=size),
        cache_write=per_million(cache_write_tokens=size),
        cache_write_1h=per_million(cache_write_tokens=size, cache_write_1h_tokens=size),
        request=float(request),
    )


BUILTIN = BuiltinPrices()
"""The one built-in table of this process, shared so that its caches are."""
