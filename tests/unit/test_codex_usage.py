"""Codex token counters and rate-limit snapshots, one case per way a counter moves."""

from __future__ import annotations

import pytest

from tui_monitor.sessions.codex_usage import (
    ZERO,
    Normalised,
    Tokens,
    Window,
    advance,
    normalised,
    tokens,
    windows,
)

T1 = Tokens(input=1_000, cached=200, output=50, reasoning=20)
T2 = Tokens(input=3_000, cached=1_100, output=90, reasoning=30)


def test_the_first_snapshot_of_a_file_adds_its_last_response() -> None:
    assert advance(None, T1, T1) == (T1, T1)
    # a resumed or forked file starts on an inherited total: only the last step is new
    assert advance(None, T2, T2.minus(T1)) == (T2.minus(T1), T2)
    assert advance(None, T2, None) == (T2, T2)


def test_increases_count_and_repeats_do_not() -> None:
    assert advance(T1, T2, T2.minus(T1)) == (T2.minus(T1), T2)
    assert advance(T2, T2, T2.minus(T1)) == (ZERO, T2)


def test_a_stale_snapshot_written_late_adds_nothing() -> None:
    stale = Tokens(input=2_000, cached=600, output=70, reasoning=25)
    assert advance(T2, stale, stale.minus(T1)) == (ZERO, T2)
    # the very first snapshot again looks like a fresh counter here: the reader knows it by
    # its total, seen before (test_codex_reader's stale snapshot test)
    assert advance(T2, T1, T1) == (T1, T1)


def test_a_counter_that_starts_again_adds_its_first_response() -> None:
    fresh = Tokens(input=500, cached=0, output=10)
    assert advance(T2, fresh, fresh) == (fresh, fresh)


def test_a_full_context_window_snapshot_resets_without_adding() -> None:
    # Codex's fill_to_context_window keeps only total_tokens, which we do not read
    assert advance(T2, ZERO, ZERO) == (ZERO, ZERO)
    after = Tokens(input=4_000, cached=100, output=60)
    assert advance(ZERO, after, after) == (after, after)


def test_mixed_moves_add_the_last_response() -> None:
    odd = Tokens(input=5_000, cached=10, output=95)
    last = Tokens(input=2_000, cached=10, output=5)
    assert advance(T2, odd, last) == (last, odd)
    assert advance(T2, odd, None) == (odd.minus(T2), odd)


def test_normalised_takes_the_cache_out_of_input_and_counts_reasoning_once() -> None:
    step = Tokens(input=10_000, cached=7_000, cache_write=2_000, output=800, reasoning=600)
    assert normalised(step) == Normalised(1_000, 800, 7_000, 2_000)
    # figures that cannot be right are clamped, never negative
    assert normalised(Tokens(input=100, cached=500, cache_write=50)) == Normalised(0, 0, 100, 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (42, None),
        ({"total_tokens": 7}, None),
        ({"input_tokens": 10, "output_tokens": 2}, Tokens(input=10, output=2)),
        (
            {
                "input_tokens": 10.0,
                "cached_input_tokens": None,
                "output_tokens": "3",
                "reasoning_output_tokens": True,
                "cache_write_input_tokens": -4,
            },
            Tokens(input=10),
        ),
        ({"input_tokens": 9, "cache_read_input_tokens": 4}, Tokens(input=9, cached=4)),
        ({"input_tokens": float("nan"), "output_tokens": float("inf")}, Tokens()),
    ],
)
def test_tokens_reads_any_usage_object(value: object, expected: Tokens | None) -> None:
    assert tokens(value) == expected


def test_rate_limit_shapes() -> None:
    flat = {
        "primary_used_percent": 12.5,
        "secondary_used_percent": 40.0,
        "primary_to_secondary_ratio_percent": 3.0,
        "primary_window_minutes": 300,
        "secondary_window_minutes": 10080,
    }
    assert windows(flat, 1000.0) == [Window(300, 12.5, None), Window(10080, 40.0, None)]
    relative = {"primary": {"used_percent": 5, "window_minutes": 300, "resets_in_seconds": 60}}
    assert windows(relative, 1000.0) == [Window(300, 5.0, 1060.0)]
    absolute = {
        "primary": {"used_percent": 7.0, "window_minutes": 300, "resets_at": 1_763_483_205},
        "secondary": {"used_percent": 77.0, "window_minutes": 10080, "resets_at": 1_763_606_387},
        "credits": None,
        "plan_type": "plus",
    }
    assert windows(absolute, 1000.0) == [
        Window(300, 7.0, 1_763_483_205.0),
        Window(10080, 77.0, 1_763_606_387.0),
    ]
    assert windows({"primary": None, "secondary": {"window_minutes": None}}, 1.0) == []
    assert windows("weird", 1.0) == [] and windows(None, 1.0) == []
