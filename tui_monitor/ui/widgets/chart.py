"""A plotext chart that redraws only when it is visible and its data changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from textual.widget import Widget

from ... import fmt

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot


class MetricChart(Widget):
    """Lines of one metric over time. Drawing costs tens of ms: the owner throttles `show`.

    The plot itself (textual-plotext) is imported and mounted by the first `show`: the first
    screen does not wait for plotext (~25 ms, ~3 MB), and a terminal too narrow for the chart
    never loads it.
    """

    DEFAULT_CSS = "MetricChart { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._key: object = None
        self._plot: PlotextPlot | None = None

    def plot(self) -> PlotextPlot:
        """The plotext widget, mounted on first use."""
        if self._plot is None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot()
            self.mount(self._plot)
        return self._plot

    def show(
        self,
        title: str,
        xs: Sequence[float],
        lines: Mapping[str, Sequence[float | None]],
        unit: str = "",
        ymax: float | None = None,
        span: float | None = None,
    ) -> bool:
        """Plot `lines` against `xs` (seconds relative to now, <= 0). False if nothing changed."""
        key = (title, span, tuple(xs), tuple((k, tuple(v)) for k, v in lines.items()), unit, ymax)
        if key == self._key:
            return False
        self._key = key
        plot = self.plot()
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
        plt.ylim(0, ymax if ymax is not None else max(1.0, top * 1.15))
        span = span if span is not None else max(xs, default=0.0)
        if span > 0:
            # a fixed window (never collapsed onto the data), with "now" at the right edge
            plt.xlim(-span, 0)
            ticks = [-span * i / 4 for i in range(4, -1, -1)]
            plt.xticks(ticks, [f"-{fmt.duration(-t)}" if t else "now" for t in ticks])
        if unit:
            plt.ylabel(unit)
        plot.refresh()
        return True
