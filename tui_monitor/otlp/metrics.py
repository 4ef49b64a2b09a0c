"""Claude Code's OTLP metrics -> `SessionMetric`s, shown as the session row's metrics.

Claude Code exports counters (OTLP Sums), delta temporality by default and cumulative when
OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE says so; each point carries `session.id`
(unless OTEL_METRICS_INCLUDE_SESSION_ID=false: then it cannot be put on a row and is refused
with that reason). Codex and Gemini CLI usage comes from their events, so their metrics are
read but not kept.
"""

from __future__ import annotations

from typing import Any

from ..sessions.records import SessionMetric
from .values import attributes, family_of, timestamp

NAMES: dict[str, str] = {
    "claude_code.cost.usage": "cost_usd",
    "claude_code.token.usage": "tokens",
    "claude_code.active_time.total": "active_s",
    "claude_code.commit.count": "commits",
    "claude_code.pull_request.count": "pull_requests",
}
"""OTLP metric -> the row's metric name (lines_of_code.count splits by its `type`)."""
LINES = "claude_code.lines_of_code.count"
_SESSION_ATTRS = frozenset({"session.id", "user.id", "user.email", "user.account_uuid",
                            "organization.id", "terminal.type", "app.version"})  # fmt: skip
_DELTA = 1
"""AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA."""


class MetricBatch:
    def __init__(self) -> None:
        self.records: list[SessionMetric] = []
        self.taken = 0
        self.ignored = 0
        self.rejected = 0
        self.reason = ""


def map_metrics(request: Any) -> MetricBatch:
    """An ExportMetricsServiceRequest -> one SessionMetric per data point we keep."""
    batch = MetricBatch()
    for rm in request.resource_metrics:
        resource = attributes(rm.resource.attributes)
        for sm in rm.scope_metrics:
            family = family_of(resource, sm.scope.name) or "claude-code"
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                points = getattr(metric, kind).data_points if kind else ()
                if kind != "sum" or (metric.name not in NAMES and metric.name != LINES):
                    batch.ignored += len(points)
                    continue
                delta = metric.sum.aggregation_temporality == _DELTA
                for p in points:
                    attrs = {**resource, **attributes(p.attributes)}
                    sid = str(attrs.get("session.id", ""))
                    if not sid or len(sid) > 200:
                        batch.rejected += 1
                        batch.reason = f"{metric.name} without session.id"
                        continue
                    value = p.as_double if p.WhichOneof("value") == "as_double" else p.as_int
                    name = NAMES.get(metric.name) or f"lines_{attrs.get('type', 'changed')}"
                    series = ",".join(
                        f"{k}={v}" for k, v in sorted(attrs.items()) if k not in _SESSION_ATTRS
                        and k not in resource
                    )[:500]  # fmt: skip
                    ts = timestamp(p.time_unix_nano)
                    batch.records.append(
                        SessionMetric(family, sid, ts, name, series, float(value), delta)
                    )
                    batch.taken += 1
    return batch


def count_spans(request: Any) -> int:
    """Traces are accepted and counted, not stored."""
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
