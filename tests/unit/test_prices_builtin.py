"""The built-in price table (genai-prices) behind the config's [prices].

Every expected figure is computed here in plain Python from the rates in the library's own data
(`ModelInfo.get_prices(...)` fields), or from its own `calc_price`: never a number of ours.
"""

from __future__ import annotations

import itertools
import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import metadata
from typing import Any

import genai_prices
import pytest
from genai_prices.types import ModelInfo, ModelPrice, TieredPrices
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tui_monitor.cost import builtin
from tui_monitor.cost.builtin import BuiltinPrices, Tokens
from tui_monitor.cost.ledger import Ledger
from tui_monitor.cost.prices import ModelPrice as ConfigPrice
from tui_monitor.cost.prices import PriceTable, cost_of, priced, quote
from tui_monitor.models import UsageRecord

WHEN = datetime(2026, 11, 20, 12, tzinfo=UTC)
"""When the test requests were made: rates are those of this date in the library's data."""
M = 1_000_000


def lib_model(name: str) -> ModelInfo:
    model: ModelInfo = genai_prices.calc_price(genai_prices.Usage(), name).model
    return model


def lib_prices(name: str, when: datetime = WHEN) -> ModelPrice:
    return lib_model(name).get_prices(when)


def rate(price: ModelPrice, key: str, above: int | None = None) -> float:
    """USD per million from the library's data: the base rate, or the tier above `above`."""
    value = getattr(price, key)
    assert value is not None, f"the library has no {key} here"
    if isinstance(value, TieredPrices):
        if above is None:
            return float(value.base)
        return float(next(t.price for t in value.tiers if t.start == above))
    assert above is None, f"{key} has no tiers"
    return float(value)


def usage(model: str, when: datetime = WHEN, **tokens: int) -> UsageRecord:
    return UsageRecord(ts=when, agent="coder", model=model, **tokens)


NONE = PriceTable()


# --- known models at the library's rates --------------------------------------------------------


@pytest.mark.parametrize(
    "model", ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"]
)
def test_anthropic_models_are_priced_at_the_librarys_rates(model: str) -> None:
    r = priced(
        usage(model, input_tokens=1200, output_tokens=300, cache_read_tokens=5000,
              cache_write_tokens=2000),
        NONE,
    )  # fmt: skip
    p = lib_prices(model)
    expected = (
        1200 * rate(p, "input_mtok")
        + 300 * rate(p, "output_mtok")
        + 5000 * rate(p, "cache_read_mtok")
        + 2000 * rate(p, "cache_write_mtok")
    ) / M
    assert r.cost_source == "builtin"
    assert r.cost_usd == pytest.approx(expected, rel=1e-12) and expected > 0


@pytest.mark.parametrize("model", ["gpt-5", "gpt-5-codex"])
def test_openai_cached_input_is_priced_at_its_own_rate(model: str) -> None:
    # Codex's counts normalised to our meaning: 800 uncached input tokens, 3200 read from cache
    r = priced(usage(model, input_tokens=800, cache_read_tokens=3200, output_tokens=150), NONE)
    p = lib_prices(model)
    expected = (800 * rate(p, "input_mtok") + 3200 * rate(p, "cache_read_mtok")
                + 150 * rate(p, "output_mtok")) / M  # fmt: skip
    assert rate(p, "cache_read_mtok") < rate(p, "input_mtok")
    assert (r.cost_usd, r.cost_source) == (pytest.approx(expected, rel=1e-12), "builtin")


def test_one_hour_cache_writes_cost_more_than_five_minute_ones() -> None:
    model = "claude-sonnet-4-5"
    p = lib_prices(model)
    five, hour = rate(p, "cache_write_mtok"), rate(p, "cache_write_1h_mtok")
    assert hour > five  # the library's data says so; we price each at its own rate
    costs: dict[int, float | None] = {}
    for part in (0, 4000, 10_000):
        r = priced(usage(model, cache_write_tokens=10_000, cache_write_1h_tokens=part), NONE)
        assert r.cost_source == "builtin"
        costs[part] = r.cost_usd
        assert r.cost_usd == pytest.approx(((10_000 - part) * five + part * hour) / M, rel=1e-12)
    assert costs[0] < costs[4000] < costs[10_000]


def test_the_config_table_prices_one_hour_writes_too() -> None:
    table = PriceTable(
        {
            "m": ConfigPrice(input=2, output=4, cache_write=3, cache_write_1h=5),
            "n": ConfigPrice(input=2, output=4, cache_write=3),
        }
    )
    r = usage("m", cache_write_tokens=1000, cache_write_1h_tokens=400)
    assert quote(r, table) == (pytest.approx((600 * 3 + 400 * 5) / M), "prices")
    n = usage("n", cache_write_tokens=1000, cache_write_1h_tokens=400)
    assert cost_of(n, table) == pytest.approx(1000 * 3 / M)  # unset: the cache_write price


# --- long context and dates ---------------------------------------------------------------------


def _long_context_model() -> tuple[str, int]:
    """An Anthropic model the library prices in tiers at WHEN, and where its tier starts."""
    for name in ("claude-sonnet-4-5", "claude-sonnet-4-0", "claude-opus-4-6"):
        price = lib_prices(name)
        value = price.input_mtok
        if isinstance(value, TieredPrices) and value.tiers:
            return name, value.tiers[0].start
    pytest.skip("this genai-prices release has no long-context tiers for Anthropic models")


def test_long_context_requests_pay_the_long_rates_on_all_their_tokens() -> None:
    model, start = _long_context_model()
    p = lib_prices(model)
    keys = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok",
            "cache_write_1h_mtok")  # fmt: skip
    # (input, output, cache read, cache write, of which 1h): cache counts toward the size
    at_limit = (start - 150_000, 2000, 100_000, 50_000, 20_000)
    over = (start - 150_000 + 1, 2000, 100_000, 50_000, 20_000)
    for tokens, above in ((at_limit, None), (over, start)):
        inp, out, read, write, w1h = tokens
        rates = [rate(p, k, above) for k in keys]
        expected = (inp * rates[0] + out * rates[1] + read * rates[2] + (write - w1h) * rates[3]
                    + w1h * rates[4]) / M  # fmt: skip
        r = priced(
            usage(model, input_tokens=inp, output_tokens=out, cache_read_tokens=read,
                  cache_write_tokens=write, cache_write_1h_tokens=w1h),
            NONE,
        )  # fmt: skip
        assert r.cost_usd == pytest.approx(expected, rel=1e-12), (tokens, above)
    assert rate(p, "input_mtok", start) > rate(p, "input_mtok")


def test_a_record_is_priced_at_the_rates_of_its_own_date() -> None:
    model = "claude-sonnet-4-6"
    info = lib_model(model)
    days = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=30 * i) for i in range(12)]
    pairs = itertools.pairwise(days)
    changed = next(((a, b) for a, b in pairs if info.get_prices(a) is not info.get_prices(b)), None)
    if changed is None:
        pytest.skip(f"{model}'s prices do not change during 2026 in this genai-prices release")
    tokens = {"input_tokens": 250_000, "output_tokens": 1000}
    costs = []
    for when in changed:
        p = info.get_prices(when)
        value = p.input_mtok
        tiered = isinstance(value, TieredPrices) and value.tiers[0].start < 250_000
        above = value.tiers[0].start if isinstance(value, TieredPrices) and tiered else None
        expected = (250_000 * rate(p, "input_mtok", above)
                    + 1000 * rate(p, "output_mtok", above)) / M  # fmt: skip
        r = priced(usage(model, when, **tokens), NONE)
        assert r.cost_usd == pytest.approx(expected, rel=1e-12)
        costs.append(r.cost_usd)
    assert costs[0] != costs[1]


# --- what wins, and what stays unknown ----------------------------------------------------------


def test_the_config_overrides_the_builtin_table_exact_name_then_pattern() -> None:
    table = PriceTable.model_validate(
        {"claude-sonnet-4-5-20250929": {"input": 1, "output": 1}, "claude-sonnet-*": {"input": 2,
         "output": 2}}
    )  # fmt: skip
    tokens = {"input_tokens": 1000, "output_tokens": 1000}
    exact = priced(usage("claude-sonnet-4-5-20250929", **tokens), table)
    pattern = priced(usage("claude-sonnet-4-5", **tokens), table)
    library = priced(usage("claude-haiku-4-5", **tokens), table)
    own = priced(usage("claude-sonnet-4-5", cost_usd=0.5, **tokens), table)
    assert (exact.cost_usd, exact.cost_source) == (pytest.approx(2000 / M), "prices")
    assert (pattern.cost_usd, pattern.cost_source) == (pytest.approx(4000 / M), "prices")
    p = lib_prices("claude-haiku-4-5")
    expected = 1000 * (rate(p, "input_mtok") + rate(p, "output_mtok")) / M
    assert (library.cost_usd, library.cost_source) == (pytest.approx(expected), "builtin")
    assert (own.cost_usd, own.cost_source) == (0.5, "agent")


@pytest.mark.parametrize(
    "model", ["my-local-model", "<synthetic>", "llama3:8b", "sonnet", "x" * 128, "\x1b[31mred"]
)
def test_a_model_known_to_neither_table_stays_unknown_never_free(model: str) -> None:
    r = priced(usage(model, input_tokens=5000, output_tokens=100), NONE)
    assert (r.cost_usd, r.cost_source) == (None, None)
    book = Ledger(clock=lambda: WHEN.timestamp())
    book.add(r)
    summary = book.summary()
    assert (summary.today.cost, summary.today.unknown) == (0.0, 1)


def test_a_listed_model_without_token_prices_is_unknown_not_free() -> None:
    table = BuiltinPrices()
    for provider in genai_prices.data_snapshot.get_snapshot().providers:
        for model in provider.models:
            price = model.get_prices(WHEN)
            has_tokens = any(k.endswith("_mtok") and v is not None for k, v in vars(price).items())
            if not has_tokens and table.model(model.id) is model:
                assert table.cost(model.id, WHEN, Tokens(input=1000, output=10)) is None
                return
    pytest.skip("no model without token prices is reachable by its name in this release")


def test_a_broken_library_means_unknown_cost_and_one_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Any:
        raise RuntimeError("data file damaged")

    monkeypatch.setattr(builtin, "_library", broken)
    table = BuiltinPrices()
    with caplog.at_level(logging.WARNING, logger=builtin.__name__):
        for _ in range(3):
            r = priced(usage("claude-sonnet-4-5", input_tokens=10), NONE, table)
            assert (r.cost_usd, r.cost_source) == (None, None)
    lines = [r for r in caplog.records if r.name == builtin.__name__]
    assert len(lines) == 1 and "genai-prices" in lines[0].getMessage()


def test_a_one_hour_part_larger_than_the_writes_is_refused() -> None:
    with pytest.raises(ValidationError, match="part of cache_write_tokens"):
        usage("m", cache_write_tokens=10, cache_write_1h_tokens=11)


# --- the same figures as the library's own calc_price -------------------------------------------

MODELS = [
    "claude-sonnet-4-5-20250929", "claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5",
    "claude-3-5-haiku-20241022", "gpt-5-codex", "gpt-5.4", "gpt-5.5", "o3", "gemini-2.5-pro",
]  # fmt: skip
SHARED = BuiltinPrices()


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, datetime, Tokens]:
    write = draw(st.sampled_from([0, 1, 5000, 150_000]) | st.integers(0, 400_000))
    tokens = Tokens(
        input=draw(
            st.sampled_from([0, 3, 1000, 199_999, 200_000, 200_001]) | st.integers(0, 10**6)
        ),
        output=draw(st.integers(0, 200_000)),
        cache_read=draw(st.sampled_from([0, 10, 200_000]) | st.integers(0, 10**6)),
        cache_write=write,
        cache_write_1h=draw(st.integers(0, write)),
    )
    day = draw(st.integers(0, 3 * 365))
    when = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(
        days=day, seconds=draw(st.integers(0, 86399))
    )
    return draw(st.sampled_from(MODELS)), when, tokens


@settings(max_examples=300, deadline=None)
@given(requests())
def test_figures_equal_the_librarys_own_calc_price(request: tuple[str, datetime, Tokens]) -> None:
    """The cached per-kind rates are the library's: its calc_price on the whole request (whose
    input_tokens count cache reads and writes too) gives the same USD."""
    model, when, t = request
    usage = genai_prices.Usage(
        input_tokens=t.input + t.cache_read + t.cache_write, output_tokens=t.output,
        cache_read_tokens=t.cache_read, cache_write_tokens=t.cache_write,
        cache_write_1h_tokens=t.cache_write_1h,
    )  # fmt: skip
    expected = genai_prices.calc_price(usage, model, genai_request_timestamp=when).total_price
    got = SHARED.cost(model, when, t)
    assert got is not None
    assert Decimal(repr(got)) == pytest.approx(expected, rel=Decimal("1e-12"), abs=Decimal("1e-15"))


# --- where prices come from ---------------------------------------------------------------------


def test_describe_names_the_library_and_its_installed_release(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert builtin.describe().startswith(f"genai-prices {metadata.version('genai-prices')} ")
    assert "offline" in builtin.describe()

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(builtin.metadata, "version", missing)
    assert builtin.describe() == "none (genai-prices is not installed)"


def test_the_library_is_not_imported_at_start_up() -> None:
    """~0.1 s of import and data: paid by the first priced record, or `load` in a thread."""
    code = (
        "import sys, tui_monitor.config, tui_monitor.cost.tick, tui_monitor.recorder, "
        "tui_monitor.cli.commands; print('genai_prices' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False"], done.stderr
    table = BuiltinPrices()
    assert table.load() is True
