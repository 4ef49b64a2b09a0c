"""Sparklines and chart axes in a range that means something (issue 13 item 22): CPU and GPU
0-100 %, memory 0-total, counts from 0; the last 5 minutes however many ticks there are;
y-axis labels evenly spaced, none skipped."""

from __future__ import annotations

from itertools import pairwise

from factories import GiB, MiB, fleet, host, running, snapshot, step, two_gpus, wait_until

from tui_monitor.ui.view import TREND_BUCKETS, View
from tui_monitor.ui.widgets.cards import Card, spark
from tui_monitor.ui.widgets.chart import y_ticks


def fed(values: list[tuple[float, float]], what: str = "mem") -> View:
    """A view fed ticks at (seconds, RAM MiB or CPU %) on a 24 GiB host."""
    view = View()
    for i, (ts, value) in enumerate(values):
        if what == "mem":
            h = host(ram_used=int(value * MiB), ram_total=24 * GiB)
        else:
            h = host(cpu=value)
        view.feed(snapshot(i + 1, fleet(), ts=ts, host_sample=h))
    return view


def test_memory_moving_a_little_stays_a_little() -> None:
    """724-750 MiB of 24 GiB drew full to empty bars; it is 3 % of the range."""
    view = fed([(t, 724 + (t % 27)) for t in range(300)])
    trend = view.trend("mem")
    assert (trend.low, trend.high) == (0.0, 24 * GiB)
    assert {bar for bar, _ in spark(trend, 20)} == {"▁"}


def test_no_errors_draw_the_lowest_bar_not_a_full_one() -> None:
    trend = fed([(t, 5.0) for t in range(30)], "cpu").trend("errors")
    assert (trend.low, trend.high) == (0.0, 1.0)
    assert set("".join(bar for bar, _ in spark(trend, 12)).strip()) == {"▁"}


def test_cpu_is_drawn_against_0_100() -> None:
    trend = fed([(t, 50.0) for t in range(300)], "cpu").trend("cpu")
    assert (trend.low, trend.high) == (0.0, 100.0)
    assert {bar for bar, _ in spark(trend, 10)} == {"▅"}  # half way, whatever the data's span


def test_the_trend_covers_5_minutes_not_the_last_points() -> None:
    """15 s of ticks fill the last 3 of 60 five-second buckets: the rest is blank, not those
    15 s stretched over the card."""
    short = fed([(t, 40.0) for t in range(15)], "cpu").trend("cpu")
    assert len(short.values) == TREND_BUCKETS
    assert [v is not None for v in short.values].count(True) == 3
    assert short.values[-1] is not None and short.values[0] is None
    cells = "".join(bar for bar, _ in spark(short, 20))
    assert cells.startswith(" " * 19) and cells[-1] != " "
    # Ten minutes of ticks: only the last five count, every bucket filled.
    long = fed([(t, 100.0 if t < 300 else 10.0) for t in range(600)], "cpu").trend("cpu")
    assert all(v == 10.0 for v in long.values)


def test_buckets_hold_the_largest_value_and_cells_fold_buckets() -> None:
    view = fed([(t, 90.0 if t == 150 else 10.0) for t in range(300)], "cpu")
    trend = view.trend("cpu")
    assert max(v for v in trend.values if v is not None) == 90.0
    cells = spark(trend, 15)  # 4 buckets a cell: the spike survives the folding
    assert max(level for _, level in cells) == 0.9


def test_y_ticks_are_evenly_spaced_round_and_never_crowded() -> None:
    assert y_ticks(100.0, 6) == [0.0, 50.0, 100.0]
    assert y_ticks(100.0, 30) == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    assert y_ticks(812.0 * 1.05, 10) == [0.0, 250.0, 500.0, 750.0, 1000.0]
    for top in (0.4, 1.0, 7.3, 99.0, 130.0, 1536.0, 40960.0, 1e9):
        for rows in range(1, 50):
            ticks = y_ticks(top, rows)
            steps = {round(b - a, 9) for a, b in pairwise(ticks)}
            assert len(steps) == 1 and ticks[0] == 0.0 and ticks[-1] >= top
            assert len(ticks) - 1 <= max(1, (rows - 1) // 2)  # a free row between labels


async def test_the_errors_card_with_no_errors_is_a_baseline() -> None:
    async with running([snapshot(n, fleet()) for n in (1, 2, 3)]) as (app, source, pilot):
        await step(pilot, source)
        await step(pilot, source)
        card = app.screen.query_one("#card-errors", Card)
        await wait_until(pilot, lambda: card.sparkline().strip() != "", what="bars")
        assert set(card.sparkline().strip()) == {"▁"}
        assert card.sparkline().startswith(" ")  # the rest of the 5 minutes: not yet seen


def test_the_host_chart_ranges() -> None:
    """Host CPU and GPU in %, 0-100; host memory in MiB, 0-total (the GPU figure of the host
    is its utilisation: it was drawn as 'GPU memory MiB', divided by 2**20)."""
    view = View()
    view.feed(
        snapshot(1, fleet(), gpu=two_gpus((40.0, 60.0)), host_sample=host(ram_total=64 * GiB))
    )
    title, _, lines, unit, ymax = view.chart_data(None, "gpu")
    assert (title, unit, ymax, lines["gpu"]) == ("host GPU %", "%", 100.0, [50.0])
    title, _, _, unit, ymax = view.chart_data(None, "mem")
    assert (title, unit, ymax) == ("host memory MiB", "MiB", 64 * 1024)
    assert view.chart_data("vllm", "gpu")[3:] == ("MiB", None)  # an agent's: to its data
