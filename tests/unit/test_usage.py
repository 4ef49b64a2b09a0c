"""Usage and cost: the price table, the ledger's periods, burn rate, dedup and budgets."""

from __future__ import annotations

import math
import re
import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tui_monitor.cost.budgets import BudgetSettings, budget_status
from tui_monitor.cost.ledger import OTHER, CostSummary, Ledger, budget_levels
from tui_monitor.cost.prices import PRICES_EXAMPLE, ModelPrice, PriceTable, cost_of, priced
from tui_monitor.models import UsageRecord

BERLIN = ZoneInfo("Europe/Berlin")
H = 3600.0


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """Epoch seconds of a Berlin wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rec(
    ts: float,
    cost: float | None = 1.0,
    agent: str = "planner",
    model: str = "m",
    request_id: str | None = None,
    **tokens: int,
) -> UsageRecord:
    return UsageRecord(
        ts=ts, agent=agent, model=model, cost_usd=cost, request_id=request_id, **tokens
    )


def ledger(now: float, **kw: object) -> tuple[Ledger, Clock]:
    clock = Clock(now)
    return Ledger(tz=BERLIN, clock=clock, **kw), clock  # type: ignore[arg-type]


def table(**prices: float) -> PriceTable:
    return PriceTable({k: ModelPrice(input=v, output=v * 10) for k, v in prices.items()})


# --- prices ---------------------------------------------------------------------------------


def test_exact_name_beats_patterns_and_longest_pattern_wins() -> None:
    prices = PriceTable.model_validate(
        {
            "claude-sonnet-4": {"input": 1, "output": 1},
            "claude-sonnet-4*": {"input": 2, "output": 2},
            "claude-*": {"input": 3, "output": 3},
            "*": {"input": 4, "output": 4},
        }
    )

    def price(model: str) -> float | None:
        p = prices.lookup(model)
        return None if p is None else p.input

    assert price("claude-sonnet-4") == 1  # exact, though three patterns match too
    assert price("claude-sonnet-4-5-20250929") == 2  # the longest matching pattern
    assert price("claude-opus-4") == 3
    assert price("gpt-4o") == 4
    assert price("CLAUDE-Sonnet-4") == 1  # case-insensitive, both ways
    assert PriceTable({"GPT-4o*": ModelPrice(input=5, output=5)}).lookup("gpt-4o-mini") is not None


def test_unmatched_model_has_no_price_and_the_default_table_is_empty() -> None:
    assert table(**{"claude-*": 3.0}).lookup("gpt-4o") is None
    assert PriceTable().lookup("claude-sonnet-4") is None


@pytest.mark.parametrize(
    "raw",
    [
        {"m": {"input": -1, "output": 1}},
        {"m": {"input": 1, "output": float("nan")}},
        {"m": {"input": 1}},
        {"m": {"input": 1, "output": 1, "per_request": 1}},
        {"M": {"input": 1, "output": 1}, "m": {"input": 2, "output": 2}},
        {" ": {"input": 1, "output": 1}},
    ],
)
def test_invalid_price_tables_are_rejected(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PriceTable.model_validate(raw)


def test_cost_usd_wins_over_the_table() -> None:
    prices = table(m=3.0)
    assert cost_of(rec(0, cost=0.25, input_tokens=10**6), prices) == 0.25
    assert cost_of(rec(0, cost=0.0, input_tokens=10**6), prices) == 0.0  # free is a real cost


def test_tokens_priced_per_million_and_cache_defaults_to_input_price() -> None:
    same = PriceTable({"m": ModelPrice(input=3, output=15)})
    r = rec(0, cost=None, input_tokens=10**6, output_tokens=2 * 10**6,
            cache_read_tokens=10**6, cache_write_tokens=500_000)  # fmt: skip
    assert cost_of(r, same) == pytest.approx(3 + 30 + 3 + 1.5)
    own = PriceTable({"m": ModelPrice(input=3, output=15, cache_read=0.3, cache_write=3.75)})
    assert cost_of(r, own) == pytest.approx(3 + 30 + 0.3 + 1.875)


def test_unpriced_usage_is_unknown_and_counted_never_free() -> None:
    led, clock = ledger(at(2024, 5, 15, 12))
    prices = table(known=1.0)
    assert cost_of(rec(0, cost=None, model="mystery", input_tokens=5), prices) is None
    led.add(priced(rec(clock.now, cost=None, model="mystery", input_tokens=5), prices))
    led.add(priced(rec(clock.now, cost=None, model="known", input_tokens=10**6), prices))
    s = led.summary()
    assert s.today.cost == pytest.approx(1.0)
    assert (s.today.unknown, s.month.unknown, s.unknown_cost_records) == (1, 1, 1)
    assert s.models["mystery"].today.tokens.input == 5
    assert s.models["mystery"].today.cost == 0.0 and s.models["mystery"].today.unknown == 1


@pytest.mark.parametrize(
    "kw",
    [
        {"input_tokens": -1},
        {"output_tokens": 1.5},
        {"cache_read_tokens": True},
        {"cost_usd": float("nan")},
        {"cost_usd": -0.01},
        {"ts": float("inf")},
    ],
)
def test_usage_record_rejects_figures_that_would_poison_totals(kw: dict[str, object]) -> None:
    fields: dict[str, object] = {"ts": 0.0, "agent": "a", "model": "m", **kw}
    with pytest.raises(ValueError):
        UsageRecord(**fields)  # type: ignore[arg-type]


# --- dedup ----------------------------------------------------------------------------------


def test_request_id_dedup_is_per_agent() -> None:
    led, clock = ledger(at(2024, 5, 15, 12))
    assert led.add(rec(clock.now, agent="a", request_id="r1"))
    assert not led.add(rec(clock.now, agent="a", request_id="r1"))
    assert led.add(rec(clock.now, agent="b", request_id="r1"))  # same id, another agent
    for _ in range(3):
        assert led.add(rec(clock.now, agent="a"))  # no id: never a duplicate
    s = led.summary()
    assert s.agents["a"].today.records == 4
    assert s.agents["b"].today.records == 1
    assert s.today.cost == pytest.approx(5.0)


def test_dedup_memory_is_bounded() -> None:
    led, clock = ledger(at(2024, 5, 15, 12), dedup_capacity=2)
    for rid in ("r1", "r2", "r3"):
        assert led.add(rec(clock.now, request_id=rid))
    assert not led.add(rec(clock.now, request_id="r3"))
    # r1 has been forgotten: counted again here (the DB's unique index keeps it out of history).
    assert led.add(rec(clock.now, request_id="r1"))


# --- periods --------------------------------------------------------------------------------


def test_today_rolls_over_at_local_midnight_not_utc() -> None:
    led, clock = ledger(at(2024, 5, 15, 23, 30))
    led.add(rec(at(2024, 5, 15, 23, 0), cost=2.0))
    clock.now = at(2024, 5, 16, 0, 30)  # 22:30 UTC: still the 15th in UTC
    s = led.summary()
    assert s.today.cost == 0.0 and s.month.cost == pytest.approx(2.0)
    led.add(rec(at(2024, 5, 16, 0, 15), cost=3.0))
    s = led.summary()
    assert s.today.cost == pytest.approx(3.0) and s.month.cost == pytest.approx(5.0)
    assert s.agents["planner"].today.cost == pytest.approx(3.0)
    assert s.agents["planner"].models["m"].month.cost == pytest.approx(5.0)


def test_dst_days_have_their_real_length_and_the_month_rolls_over() -> None:
    budgets = BudgetSettings(daily=10, monthly=100)
    led, clock = ledger(at(2024, 3, 31, 12), budgets=budgets)  # 23-hour day in Berlin
    led.add(rec(at(2024, 3, 31, 1, 0), cost=1.0))  # 00:00 UTC on the 31st
    led.add(rec(at(2024, 3, 30, 23, 59), cost=4.0))  # yesterday: month only
    s = led.summary()
    assert s.today.cost == pytest.approx(1.0) and s.month.cost == pytest.approx(5.0)
    daily, monthly = s.budgets
    assert daily.period_end == at(2024, 4, 1) == at(2024, 3, 31) + 23 * H
    assert monthly.period_end == at(2024, 4, 1)

    clock.now = at(2024, 4, 1, 0, 1)
    s = led.summary()
    assert s.today.cost == 0.0 and s.month.cost == 0.0 and s.agents == {}
    assert s.budgets[0].period_end == at(2024, 4, 2)
    assert s.budgets[1].period_end == at(2024, 5, 1)

    clock.now = at(2024, 10, 27, 23, 59)  # the 25-hour day
    assert led.summary().budgets[0].period_end == at(2024, 10, 27) + 25 * H


def test_seeding_places_old_records_by_their_own_time() -> None:
    now = at(2024, 5, 15, 12)
    led, clock = ledger(now)
    assert led.add(rec(at(2024, 4, 30, 23, 59), cost=100.0))  # last month: ignored
    led.add(rec(at(2024, 5, 1, 0, 0), cost=1.0))  # this month
    led.add(rec(at(2024, 5, 15, 8, 0), cost=2.0))  # today, hours ago
    led.add(rec(at(2024, 5, 15, 11, 30), cost=4.0))  # today, within the hour
    led.add(rec(now + 2 * H, cost=8.0))  # an agent clock ahead of ours: counts as now
    s = led.summary()
    assert s.month.cost == pytest.approx(15.0)
    assert s.today.cost == pytest.approx(14.0)
    assert s.burn_per_hour == pytest.approx(12.0)
    assert s.month.records == 4
    clock.now = now + 90 * 60  # the future-stamped spend burnt at its arrival, not later
    assert led.summary().burn_per_hour == 0.0


def test_burn_rate_covers_the_trailing_hour_only() -> None:
    now = at(2024, 5, 15, 12)
    led, clock = ledger(now)
    led.add(rec(now - 10 * 60, cost=1.0))
    led.add(rec(now - 50 * 60, cost=2.0, agent="coder"))
    led.add(rec(now - 62 * 60, cost=100.0))
    s = led.summary()
    assert s.burn_per_hour == pytest.approx(3.0)
    assert s.agents["planner"].burn_per_hour == pytest.approx(1.0)
    assert s.agents["coder"].burn_per_hour == pytest.approx(2.0)
    assert s.today.cost == pytest.approx(103.0)

    clock.now = now + 20 * 60  # the 50-minute-old record is now 70 minutes old
    s = led.summary()
    assert s.burn_per_hour == pytest.approx(1.0)
    assert s.agents["coder"].burn_per_hour == 0.0
    clock.now = now + 2 * H
    assert led.summary().burn_per_hour == 0.0
    assert led._minutes == {}  # buckets past the hour are dropped, not kept forever


# --- budgets --------------------------------------------------------------------------------


def spend_six_burn_two(now: float, budgets: BudgetSettings) -> CostSummary:
    """4 USD earlier today and 2 USD in the last hour: 6 spent, burning 2 USD/h."""
    led, _ = ledger(now, budgets=budgets)
    led.add(rec(now - 3 * H, cost=4.0))
    led.add(rec(now - 30 * 60, cost=2.0))
    return led.summary()


def test_budget_runs_out_within_the_day() -> None:
    now = at(2024, 5, 15, 12)
    (daily,) = spend_six_burn_two(now, BudgetSettings(daily=10)).budgets
    assert (daily.name, daily.limit, daily.spent, daily.pct) == ("daily", 10, 6, 60)
    assert daily.runs_out_at == pytest.approx(now + 2 * H)
    assert daily.runs_out_in_period and not daily.exceeded


def test_budget_that_runs_out_only_after_midnight() -> None:
    now = at(2024, 5, 15, 23)
    (daily,) = spend_six_burn_two(now, BudgetSettings(daily=10)).budgets
    assert daily.runs_out_at == pytest.approx(at(2024, 5, 16, 1))
    assert not daily.runs_out_in_period


def test_exceeded_budget_and_per_agent_budgets() -> None:
    now = at(2024, 5, 15, 12)
    budgets = BudgetSettings(daily=5, monthly=1000, agents={"planner": 4, "idle": 1})
    s = spend_six_burn_two(now, budgets)
    daily, monthly, idle, planner = s.budgets
    assert daily.exceeded and daily.runs_out_at is None and daily.runs_out_in_period
    assert daily.pct == pytest.approx(120)
    assert monthly.runs_out_at == pytest.approx(now + 497 * H)
    assert not monthly.runs_out_in_period  # 20 days on: past the end of May
    assert planner.agent == "planner" and planner.exceeded
    assert (idle.spent, idle.runs_out_at, idle.runs_out_in_period) == (0.0, None, False)
    assert budget_levels(s) == [
        ("daily", pytest.approx(120)),
        ("monthly", pytest.approx(0.6)),
        ("agent:idle", 0.0),
        ("agent:planner", pytest.approx(150)),
    ]


def test_no_burn_means_no_run_out_time() -> None:
    b = budget_status("daily", None, 10.0, 6.0, 0.0, now=0.0, period_end=H)
    assert b.runs_out_at is None and not b.runs_out_in_period and not b.exceeded
    b = budget_status("daily", None, 10.0, 10.0, 5.0, now=0.0, period_end=H)
    assert b.exceeded and b.runs_out_at is None  # reaching the limit exactly is exceeding it


def test_budget_settings_reject_non_positive_limits() -> None:
    for raw in ({"daily": 0}, {"monthly": -5}, {"agents": {"a": 0}}, {"weekly": 3}):
        with pytest.raises(ValidationError):
            BudgetSettings.model_validate(raw)


def test_the_prices_example_is_valid_config() -> None:
    lines = [line.removeprefix("# ") for line in PRICES_EXAMPLE.splitlines()]
    toml = "\n".join(line for line in lines if re.match(r"^(\[|\w+ = )", line))

    class Mounted(BaseModel):  # how Settings mounts them
        model_config = ConfigDict(extra="forbid")
        prices: PriceTable = Field(default_factory=PriceTable)
        budgets: BudgetSettings = Field(default_factory=BudgetSettings)

    cfg = Mounted.model_validate(tomllib.loads(toml))
    price = cfg.prices.lookup("claude-sonnet-4-5")
    assert price is not None and price.cache_read is not None
    assert cfg.budgets.agents == {"planner": 5.0}
    assert Mounted().prices.root == {}


def test_pairs_past_the_key_limit_are_summed_under_other() -> None:
    led, clock = ledger(at(2024, 5, 15, 12), max_keys=2)
    for agent in ("a", "b", "c", "d"):
        led.add(rec(clock.now, agent=agent, cost=1.0))
    s = led.summary()
    assert set(s.agents) == {"a", "b", OTHER}
    assert s.agents[OTHER].today.cost == pytest.approx(2.0)
    assert s.today.cost == pytest.approx(4.0)


# --- property -------------------------------------------------------------------------------

NOW = at(2024, 5, 15, 12)
records = st.builds(
    UsageRecord,
    ts=st.floats(min_value=at(2024, 4, 25), max_value=NOW + H),
    agent=st.sampled_from(["a", "b", "c"]),
    model=st.sampled_from(["priced-1", "priced-2", "unpriced"]),
    input_tokens=st.integers(0, 10**7),
    output_tokens=st.integers(0, 10**6),
    cost_usd=st.none() | st.floats(min_value=0, max_value=50),
    request_id=st.none() | st.sampled_from(["r1", "r2", "r3"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(records, max_size=40))
def test_per_agent_and_per_model_costs_add_up_to_the_fleet(batch: list[UsageRecord]) -> None:
    led, _ = ledger(NOW)
    prices = table(**{"priced-*": 2.0})
    seen: set[tuple[str, str]] = set()
    month_cost = today_cost = 0.0
    unknown = 0
    for r in batch:
        fresh = r.request_id is None or (r.agent, r.request_id) not in seen
        assert led.add(priced(r, prices)) is fresh
        if r.request_id is not None:
            seen.add((r.agent, r.request_id))
        ts = min(r.ts.timestamp(), NOW)
        if fresh and ts >= at(2024, 5, 1):
            cost = cost_of(r, prices)
            unknown += cost is None
            month_cost += cost or 0.0
            today_cost += (cost or 0.0) if ts >= at(2024, 5, 15) else 0.0
    s = led.summary()
    assert s.month.cost == pytest.approx(month_cost)
    assert s.today.cost == pytest.approx(today_cost)
    assert s.month.unknown == unknown
    assert math.fsum(a.month.cost for a in s.agents.values()) == pytest.approx(s.month.cost)
    assert math.fsum(a.today.cost for a in s.agents.values()) == pytest.approx(s.today.cost)
    assert math.fsum(m.month.cost for m in s.models.values()) == pytest.approx(s.month.cost)
    assert sum(a.month.records for a in s.agents.values()) == s.month.records
    assert math.fsum(a.burn_per_hour for a in s.agents.values()) == pytest.approx(s.burn_per_hour)
