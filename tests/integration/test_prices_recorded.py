"""Prices out of the box, as a real `tui-monitor record` stores them: usage sent through the
real socket (with its one-hour cache writes) is priced by the config's [prices] when it names
the model, else by the built-in table (genai-prices), else left unknown; the history keeps the
tokens, the cost and where it came from, and exports show them. `config show` says where
prices come from."""

from __future__ import annotations

import json
import os
import tomllib
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import genai_prices
import pytest
from genai_prices.types import TieredPrices
from recorders import rows, run, start_recorder, wait_for, write_config

OVERRIDE = '[prices."claude-opus-4-1*"]\ninput = 1000.0\noutput = 2000.0\n'
"""USD per million tokens for one model the library knows too: the config wins."""
M = 1_000_000


def emit(sock: Path, *args: str) -> None:
    done = run("emit", "--socket", str(sock), "--agent", "coder", "--type", "usage", *args)
    assert done.returncode == 0, done.stderr


def library_rate(model: str, when: datetime, key: str) -> float:
    """USD per million tokens in the library's own data (below any long-context tier)."""
    value = getattr(
        genai_prices.calc_price(genai_prices.Usage(), model).model.get_prices(when), key
    )
    return float(value.base if isinstance(value, TieredPrices) else value)


def test_usage_is_priced_by_the_config_then_the_library_and_stored_with_its_source(
    tmp_path: Path, short_dir: Path
) -> None:
    sock, db = short_dir / "ingest.sock", tmp_path / "history.db"
    write_config(Path(os.environ["TUI_MONITOR_CONFIG"]), sock, extra=OVERRIDE)
    rec = start_recorder(db, sock, tmp_path / "recorder.log")
    try:
        emit(sock, "--model", "claude-sonnet-4-5", "--input-tokens", "1000", "--output-tokens",
             "200", "--cache-read-tokens", "3000", "--cache-write-tokens", "2000",
             "--cache-write-1h-tokens", "1500")  # fmt: skip
        emit(sock, "--model", "claude-opus-4-1", "--input-tokens", "100", "--output-tokens", "100")
        emit(sock, "--model", "my-local-model", "--input-tokens", "50000")
        too_many = ("--model", "m", "--cache-write-tokens", "1", "--cache-write-1h-tokens", "2")
        refused = run("emit", "--socket", str(sock), "--agent", "coder", "--type", "usage",
                      *too_many)  # fmt: skip
        wait_for(lambda: len(rows(db, "SELECT id FROM usage")) == 3, what="the usage stored")
    finally:
        assert rec.stop() == 0, rec.stderr_text()
    assert refused.returncode == 1
    assert "cache_write_1h_tokens: more than cache_write_tokens" in refused.stderr

    stored = rows(
        db,
        "SELECT model, ts, cache_write_tokens, cache_write_1h_tokens, cost_usd, cost_source "
        "FROM usage ORDER BY id",
    )
    ((tick_ms,),) = rows(
        db, "SELECT t.ts FROM ticks t JOIN usage u ON u.tick = t.id ORDER BY u.id LIMIT 1"
    )
    (sonnet, sonnet_ms, *sonnet_rest), opus, unknown = stored
    when = datetime.fromtimestamp(sonnet_ms / 1000, UTC)  # priced at the rates of its time

    def r(key: str) -> float:
        return library_rate("claude-sonnet-4-5", when, key)

    expected = (
        1000 * r("input_mtok")
        + 200 * r("output_mtok")
        + 3000 * r("cache_read_mtok")
        + 500 * r("cache_write_mtok")
        + 1500 * r("cache_write_1h_mtok")
    ) / M
    assert (sonnet, *sonnet_rest) == ("claude-sonnet-4-5", 2000, 1500, pytest.approx(expected),
                                      "builtin")  # fmt: skip
    assert (opus[0], *opus[2:]) == ("claude-opus-4-1", 0, 0, pytest.approx(0.3), "prices")
    assert (unknown[0], *unknown[2:]) == ("my-local-model", 0, 0, None, None)  # never $0

    out = run("export", "snapshot", "--db", str(db), "--at", f"@{tick_ms / 1000}", "-o", "-")
    assert out.returncode == 0, out.stderr
    took = [u for u in json.loads(out.stdout)["tick"]["usage"] if u["model"] == sonnet]
    assert [(u["cache_write_1h_tokens"], u["cost_source"]) for u in took] == [(1500, "builtin")]


def test_config_show_says_where_prices_come_from_and_as_of_which_release(
    short_dir: Path,
) -> None:
    config = write_config(Path(os.environ["TUI_MONITOR_CONFIG"]), short_dir / "s", extra=OVERRIDE)
    shown = run("config", "show")
    assert shown.returncode == 0, shown.stderr
    head = " ".join(
        line.removeprefix("# ") for line in shown.stdout.splitlines() if line.startswith("#")
    )
    assert f"genai-prices {metadata.version('genai-prices')}" in head
    assert "[prices] (1 below" in head and "offline" in head and "never $0" in head
    assert tomllib.loads(shown.stdout)["prices"]["claude-opus-4-1*"]["input"] == 1000.0
    config.write_text("")
    assert "[prices] (none set" in run("config", "show").stdout
