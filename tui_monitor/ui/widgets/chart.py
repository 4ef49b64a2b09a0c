"""A plotext chart that redraws only when it is visible and its data changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import ceil
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Static

from ... import fmt

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

AXIS_ROWS = 4
"""Rows of a plotext figure that are not plot: the top frame, the x axis, its labels and the
y label."""
NICE = (1.0, 2.0, 2.5, 5.0)


def y_ticks(top: float, rows: int) -> list[float]:
    """Round, evenly spaced labels from 0 to at least `top`, no two closer than every other
    row, so plotext never drops one (it did: `100.0 83.3 66.7 33.3`)."""
    most = max(1, min(5, (rows - 1) // 2))
    top = max(top, 1e-9)
    for exp in range(-3, 16):
        for m in NICE:
            step = m * 10.0**exp
            if step * most >= top:
                return [step * i for i in range(max(1, ceil(top / step - 1e-9)) + 1)]
    return [0.0, top]


def tick_label(value: float) -> str:
    return f"{value:.1f}" if value % 1 else f"{value:.0f}"


class MetricChart(Widget):
    """Lines of one metric over time. Drawing costs tens of ms: the owner throttles `show`.

    The plot itself (textual-plotext) is imported and mounted by the first `show`: the first
    screen does not wait for plotext (~25 ms, ~3 MB), and a terminal too narrow for the chart
    never loads it. With nothing to draw, `say` shows why instead.
    """

    DEFAULT_CSS = """
    MetricChart { height: 1fr; }
    MetricChart > .chart-empty { height: 1fr; content-align: center middle; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._key: object = None
        self._plot: PlotextPlot | None = None

    def compose(self) -> ComposeResult:
        note = Static(classes="chart-empty")
        note.display = False
        yield note

    def plot(self) -> PlotextPlot:
        """The plotext widget, mounted on first use."""
        if self._plot is None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot()
            self.mount(self._plot)
        return self._plot

    @property
    def saying(self) -> str | None:
        """The empty state shown instead of a plot, if any."""
        note = self.query_one(".chart-empty", Static)
        return str(note.content) if note.display else None

    def say(self, why: Text | str) -> None:
        """Nothing to plot: say why in place of the plot."""
        if not self.is_mounted:
            return
        key = ("say", str(why))
        if key == self._key:
            return
        self._key = key
        note = self.query_one(".chart-empty", Static)
        note.update(why)
        note.display = True
        if self._plot is not None:
            self._plot.display = False

    def show(
        self,
        title: str,
        xs: Sequence[float],
        lines: Mapping[str, Sequence[float | None]],
        unit: str = "",
        ymax: float | None = None,
        span: float | None = None,
    ) -> bool:
        """Plot `lines` against `xs` (seconds relative to now, <= 0). False if nothing changed,
        or if the chart is not mounted yet (a busy start can render a tick first: the next
        call draws)."""
        if not self.is_mounted:
            return False
        rows = max(1, self.content_size.height - AXIS_ROWS)
        data = tuple((k, tuple(v)) for k, v in lines.items())
        key = (title, span, tuple(xs), data, unit, ymax, rows)
        if key == self._key:
            return False
        self._key = key
        self.query_one(".chart-empty", Static).display = False
        plot = self.plot()
        plot.display = True
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        top = 0.0
        for label, values in lines.items():
            pairs = [(x, y) for x, y in zip(xs, values, strict=False) if y is not None]
            if pairs:
                plt.plot(
                    [-p[0] for p in pairs], [p[1] for p in pairs], label=label, marker="braille"
                )
                top = max(top, max(p[1] for p in pairs))
        ticks = y_ticks(ymax if ymax is not None else max(1.0, top * 1.05), rows)
        plt.ylim(0, ticks[-1])
        plt.yticks(ticks, [tick_label(t) for t in ticks])
        span = span if span is not None else max(xs, default=0.0)
        if span > 0:
            # a fixed window (never collapsed onto the data), with "now" at the right edge
            plt.xlim(-span, 0)
            xt = [-span * i / 4 for i in range(4, -1, -1)]
            plt.xticks(xt, [f"-{fmt.duration(-t)}" if t else "now" for t in xt])
        if unit:
            plt.ylabel(unit)
        plot.refresh()
        return True
