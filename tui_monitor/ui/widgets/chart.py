"""A plotext chart that redraws only when it is visible and its data changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from ... import fmt


class MetricChart(PlotextPlot):
    """Lines of one metric over time. Drawing costs tens of ms: the owner throttles `show`."""

    DEFAULT_CSS = "MetricChart { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._key: object = None

    def render(self) -> RenderResult:
        if self._key is None:  # nothing to plot yet: skip plotext's 35-60 ms of an empty frame
            return ""
        return super().render()

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
        plt = self.plt
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
        self.refresh()
        return True
