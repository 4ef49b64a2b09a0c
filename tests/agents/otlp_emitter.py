"""A stand-in for Claude Code's telemetry: the official OpenTelemetry SDK and its OTLP/HTTP
exporters (configured from the OTEL_* environment, as a person sets them for Claude Code),
emitting Claude-Code-shaped events and metrics from the JSON plan in argv[1].

Shapes as Claude Code's monitoring docs describe them (2.x): log body `claude_code.<event>`,
`event.name` attribute, every attribute a string, `session.id` on events and metric points.
Prints "flushed <logs ok> <metrics ok>" and exits 0 when both exports succeeded.
"""

from __future__ import annotations

import json
import sys
import time

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource


def main() -> int:
    plan = json.loads(sys.argv[1])
    resource = Resource.create({"service.name": "claude-code", "service.version": "2.1.30"})
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=3_600_000)
    meters = MeterProvider(resource=resource, metric_readers=[reader])
    logger = logs.get_logger("com.anthropic.claude_code.events", "2.1.30")
    meter = meters.get_meter("com.anthropic.claude_code", "2.1.30")
    sid = plan["session"]
    for seq, event in enumerate(plan.get("events", []), start=1):
        attrs = {k: str(v) for k, v in event["attrs"].items()}
        attrs |= {"session.id": sid, "event.name": event["name"], "event.sequence": str(seq)}
        logger.emit(timestamp=time.time_ns(), body=f"claude_code.{event['name']}", attributes=attrs)
    counters: dict[str, object] = {}
    for point in plan.get("metrics", []):
        name = point["name"]
        counter = counters.get(name) or meter.create_counter(name)
        counters[name] = counter
        counter.add(point["value"], {"session.id": sid, **point.get("attrs", {})})  # type: ignore[attr-defined]
    ok_logs = logs.force_flush(10_000)
    ok_metrics = meters.force_flush(10_000)
    print(f"flushed {ok_logs} {ok_metrics}", flush=True)
    logs.shutdown()
    meters.shutdown()
    return 0 if ok_logs and ok_metrics else 1


if __name__ == "__main__":
    sys.exit(main())
