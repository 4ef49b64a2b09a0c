"""A ledger seeded from the history's aggregates says what one fed the same rows one by one
says: several days and agents, costs from the price table, from the agent, none (unknown) and
mixed, the last hour's burn, records from the future and from before the month, and the dedup
memory."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui_monitor import recorder as recorder_module
from tui_monitor.config import GpuSettings, IngestSettings, PresetSettings, Settings, StoreSettings
from tui_monitor.cost.budgets import BudgetSettings
from tui_monitor.cost.ledger import DEDUP_CAPACITY, CostSummary, Ledger, Usage
from tui_monitor.cost.prices import ModelPrice, PriceTable, price
from tui_monitor.cost.tick import month_start_ms
from tui_monitor.models import UsageRecord
from tui_monitor.recorder import Recorder
from tui_monitor.store.queries import History
from tui_monitor.store.writer import Writer

NOW = datetime(2025, 6, 17, 15, 30, 12).astimezone().timestamp()  # local, mid-month
PRICES = PriceTable(
    {"claude-*": ModelPrice(input=3.0, output=15.0), "mixed": ModelPrice(input=1.0, output=2.0)}
)
BUDGETS = BudgetSettings(daily=5.0, monthly=100.0, agents={"a1": 1.0})
MODELS = ("claude-sonnet-4", "self-costed", "unpriced", "mixed")


def stored_cost(
    rng: random.Random, model: str, tokens: list[int]
) -> tuple[float | None, str | None]:
    """The cost as the recorder stores it: the agent's own, else the table's when the record
    arrived, else none (unknown)."""
    if model == "self-costed" or (model == "mixed" and rng.random() < 0.5):
        return rng.randrange(1, 5000) / 1e5, "agent"
    cost = price(PRICES, model, (tokens[0], tokens[1], tokens[2], tokens[3]))
    return (None, None) if cost is None else (cost, "prices")


def fill(db: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    month = month_start_ms(NOW)  # a day before the month: ignored by both, but remembered
    span = int(NOW * 1000) - month
    out = []
    for i in range(rows):
        kind = rng.random()
        if kind < 0.15:
            ts = int(NOW * 1000) - rng.randrange(3_700_000)  # the last hour and a bit
        elif kind < 0.17:
            ts = int(NOW * 1000) + rng.randrange(200_000)  # ahead of the clock
        else:
            ts = month + rng.randrange(span)
        model = rng.choice(MODELS)
        request = f"r{i}" if rng.random() < 0.7 else None
        tokens = [rng.randrange(0, 20000) for _ in range(4)]
        cost, source = stored_cost(rng, model, tokens)
        out.append((ts, f"a{rng.randrange(5)}", model, *tokens, cost, source, request))
    writer = Writer(db)
    writer.close()
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO usage (ts, agent, model, input_tokens, output_tokens, cache_read_tokens,"
        " cache_write_tokens, cost_usd, cost_source, request_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        out,
    )
    conn.commit()
    conn.close()


def ledgers(db: Path, max_keys: int = 10_000) -> tuple[Ledger, Ledger]:
    by_row = Ledger(BUDGETS, clock=lambda: NOW, max_keys=max_keys)
    for _, record in History(db).usage_since(month_start_ms(NOW)):
        by_row.add(record)
    seeded = Ledger(BUDGETS, clock=lambda: NOW, max_keys=max_keys)
    month_ms, day_ms = seeded.periods_ms()
    seeded.seed(
        *History(db).usage_seed(
            month_ms, day_ms, int((NOW - 3660) * 1000), month_start_ms(NOW), DEDUP_CAPACITY
        )
    )
    return by_row, seeded


def same_usage(a: Usage, b: Usage) -> None:
    assert (a.tokens, a.unknown, a.records) == (b.tokens, b.unknown, b.records)
    assert a.cost == pytest.approx(b.cost, rel=1e-12, abs=1e-12)  # sums in another order


def same(a: CostSummary, b: CostSummary) -> None:
    same_usage(a.today, b.today)
    same_usage(a.month, b.month)
    assert a.burn_per_hour == pytest.approx(b.burn_per_hour, rel=1e-12, abs=1e-12)
    assert list(a.agents) == list(b.agents) and list(a.models) == list(b.models)
    for name, cost in a.agents.items():
        other = b.agents[name]
        same_usage(cost.today, other.today)
        same_usage(cost.month, other.month)
        assert cost.burn_per_hour == pytest.approx(other.burn_per_hour, rel=1e-12, abs=1e-12)
        assert list(cost.models) == list(other.models)
        for model, usage in cost.models.items():
            same_usage(usage.today, other.models[model].today)
            same_usage(usage.month, other.models[model].month)
    assert [(x.name, x.limit) for x in a.budgets] == [(x.name, x.limit) for x in b.budgets]
    for x, y in zip(a.budgets, b.budgets, strict=True):
        assert x.spent == pytest.approx(y.spent, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_from_aggregates_equals_fed_row_by_row(tmp_path: Path, seed: int) -> None:
    db = tmp_path / "h.db"
    fill(db, 3000, seed)
    by_row, seeded = ledgers(db)
    a, b = by_row.summary(), seeded.summary()
    same(a, b)
    assert a.month.unknown > 0 and a.today.records > 0 and a.burn_per_hour > 0
    assert len(a.agents) == 5 and set(a.models) == set(MODELS)
    assert by_row._seen == seeded._seen and list(by_row._seen_order) == list(seeded._seen_order)
    # After the seed both go on alike: a re-sent request is refused, a new one counted.
    again = UsageRecord(
        ts=datetime.fromtimestamp(NOW, UTC), agent="a1", model="mixed", input_tokens=7,
        request_id=_newest_request(db, "a1"),
    )  # fmt: skip
    assert by_row.add(again) is seeded.add(again) is False
    new = again.model_copy(update={"request_id": "brand-new"})
    assert by_row.add(new) is seeded.add(new) is True
    same(by_row.summary(), seeded.summary())


def _newest_request(db: Path, agent: str) -> str:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (found,) = conn.execute(
            "SELECT request_id FROM usage WHERE agent = ? AND request_id IS NOT NULL "
            "ORDER BY ts DESC LIMIT 1",
            (agent,),
        ).fetchone()
    return str(found)


def test_pairs_past_max_keys_are_summed_alike(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    fill(db, 2000, 7)
    by_row, seeded = ledgers(db, max_keys=6)
    same(by_row.summary(), seeded.summary())
    assert "(other)" in by_row.summary().agents


async def test_the_socket_listens_before_the_months_usage_is_read(
    tmp_path: Path, short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "h.db"
    fill(db, 100, 1)
    seeding = threading.Event()
    release = threading.Event()
    real = recorder_module.seed_ledger

    def slow_seed(history: History, ledger: Ledger) -> None:
        seeding.set()
        assert release.wait(30)
        real(history, ledger)

    monkeypatch.setattr(recorder_module, "seed_ledger", slow_seed)
    sock = short_dir / "ingest.sock"
    settings = Settings(
        interval=0.2,
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.1),
        ingest=IngestSettings(socket=sock),
    )
    rec = Recorder(settings, db)
    stop = asyncio.Event()
    task = asyncio.create_task(rec.run(stop))
    try:
        assert await asyncio.to_thread(seeding.wait, 30)
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(b'{"v":1,"type":"event","agent":"early","message":"hi"}\n')
        assert await asyncio.wait_for(reader.readline(), 10) == b'{"ok":true}\n'
        assert rec.sampler.seq == 0  # no tick yet: the money is not known yet
        release.set()
        for _ in range(500):
            if rec.hub is not None and rec.hub.stored:
                break
            await asyncio.sleep(0.02)
        assert rec.hub is not None and rec.hub.stored == 1
        writer.close()
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(task, 15)
