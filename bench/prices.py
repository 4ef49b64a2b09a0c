"""Benchmark (not a test): what pricing usage with the built-in table costs, per record.

The recorder prices every usage record once (`cost.prices.priced`); a backfill of past
sessions prices hundreds of thousands. Measured in this process:

- the first priced record of a fresh table: genai-prices imported and its data loaded, and the
  RSS that adds;
- `priced()` per record on a mix of Anthropic and OpenAI models, sizes (some above 200k input
  tokens) and dates (2025-2026), with an empty `[prices]` (so the built-in table prices all);
- genai-prices' own `calc_price` on the same records, the path `BuiltinPrices` avoids by
  caching the library's per-kind rates (the figures agree: tests/unit/test_prices_builtin.py).

    .venv/bin/python bench/prices.py [--records 100000] [--write]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version

from _common import command, machine, publish

from tui_monitor.cost.prices import PriceTable, priced
from tui_monitor.models import UsageRecord

MODELS = [
    "claude-sonnet-4-5-20250929", "claude-opus-4-6", "claude-haiku-4-5-20251001",
    "claude-sonnet-4-6", "gpt-5-codex", "gpt-5.5",
]  # fmt: skip

FIRST = """\
import time, resource
from datetime import UTC, datetime
from tui_monitor.cost.prices import PriceTable, priced
from tui_monitor.models import UsageRecord
r = UsageRecord(ts=datetime.now(UTC), agent="a", model="claude-sonnet-4-5", input_tokens=10)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
priced(r, PriceTable())
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def records(n: int) -> list[UsageRecord]:
    rng = random.Random(1)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    out: list[UsageRecord] = []
    for _ in range(n):
        write = rng.choice([0, 0, 2000, 30_000])
        out.append(
            UsageRecord(
                ts=start + timedelta(seconds=rng.uniform(0, 2 * 365 * 86400)),
                agent="a",
                model=rng.choice(MODELS),
                input_tokens=rng.choice([3, 500, 5000, 250_000]),
                output_tokens=rng.randint(0, 4000),
                cache_read_tokens=rng.choice([0, 20_000, 150_000]),
                cache_write_tokens=write,
                cache_write_1h_tokens=rng.randint(0, write),
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--write", action="store_true", help="add the section to RESULTS.md")
    args = parser.parse_args()

    firsts = []
    for _ in range(5):  # each in a fresh interpreter: the import is what is measured
        out = subprocess.run([sys.executable, "-c", FIRST], capture_output=True, text=True)
        secs, kib = out.stdout.split()
        firsts.append((float(secs), int(kib) / 1024))

    import genai_prices

    batch = records(args.records)
    table = PriceTable()
    priced(batch[0], table)  # warm
    rounds = []
    for _ in range(3):
        t = time.perf_counter()
        for r in batch:
            priced(r, table)
        rounds.append((time.perf_counter() - t) / len(batch) * 1e6)
    sample = batch[: min(len(batch), 10_000)]
    t = time.perf_counter()
    for r in sample:
        genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=r.input_tokens + r.cache_read_tokens + r.cache_write_tokens,
                output_tokens=r.output_tokens,
                cache_read_tokens=r.cache_read_tokens,
                cache_write_tokens=r.cache_write_tokens,
                cache_write_1h_tokens=r.cache_write_1h_tokens,
            ),
            r.model,
            genai_request_timestamp=r.ts,
        )
    library = (time.perf_counter() - t) / len(sample) * 1e6
    ours = statistics.median(rounds)
    first_ms = statistics.median(s for s, _ in firsts) * 1000
    first_mb = statistics.median(m for _, m in firsts)

    text = f"""\
## Built-in prices — {date.today().isoformat()}

Machine: {machine(f"genai-prices {version('genai-prices')}", f"pydantic {version('pydantic')}")}.

Command: `{command()}`

{len(batch):,} usage records (seeded): {len(MODELS)} models ({", ".join(MODELS)}), dates over
2025-2026, a quarter with 250k uncached input tokens (long-context tiers where the library has
them), cache reads and 5-minute/1-hour writes; an empty `[prices]`, so the built-in table
prices every one. `priced()` timed over all of them, 3 rounds (median); the library's own
`calc_price` over the first {len(sample):,}. The first priced record is timed in 5 fresh
interpreters (median), with the peak RSS it adds.

| what | figure |
|---|---:|
| `priced()` per record, built-in table | **{ours:.1f} µs** |
| genai-prices `calc_price` per record | {library:.1f} µs ({library / ours:.0f}×) |
| first priced record (import + data load) | {first_ms:.0f} ms |
| RSS added by the first priced record | {first_mb:.1f} MiB |
| records priced per second, one core | {1e6 / ours:,.0f} |
"""
    publish(text, args.write)


if __name__ == "__main__":
    main()
