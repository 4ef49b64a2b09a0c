"""OTLP/HTTP bodies in and out, with the official `opentelemetry-proto` messages.

OTLP JSON is protobuf's JSON mapping with two exceptions, handled here before
`json_format.ParseDict`: trace and span ids are hex (protobuf's mapping says base64), and
unknown fields must be ignored. Enum names or numbers and 64-bit integers as strings or
numbers are protobuf's mapping already. Answers go back in the request's encoding: an
Export*ServiceResponse (with partial_success when records were dropped) or, for a 4xx, a
`google.rpc.Status` with the reason (the spec's "Failures").
"""

from __future__ import annotations

import base64
import binascii
import json

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as traces

from .media import JSON, PATHS, PROTOBUF, Malformed, Signal, failure_json

__all__ = ["JSON", "PATHS", "PROTOBUF", "Malformed", "Signal", "answer", "failure", "parse"]

_IDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
_DEPTH = 64
"""Nesting a JSON body may have (an AnyValue can nest; ours never need more)."""

_REQUESTS: dict[Signal, type[Message]] = {
    "logs": logs.ExportLogsServiceRequest,
    "metrics": metrics.ExportMetricsServiceRequest,
    "traces": traces.ExportTraceServiceRequest,
}


def parse(signal: Signal, body: bytes, *, as_json: bool) -> Message:
    """The request message of `signal` from a decompressed body."""
    message = _REQUESTS[signal]()
    if not as_json:
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError) as exc:
            raise Malformed(f"not an OTLP {signal} protobuf message ({exc})") from None
        return message
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Malformed(f"not JSON ({str(exc)[:100]})") from None
    if not isinstance(doc, dict):
        raise Malformed("not a JSON object")
    _ids_to_base64(doc)
    try:
        json_format.ParseDict(doc, message, ignore_unknown_fields=True, max_recursion_depth=_DEPTH)
    except (json_format.ParseError, RecursionError, ValueError) as exc:
        raise Malformed(f"not an OTLP {signal} JSON message ({str(exc)[:200]})") from None
    return message


def _ids_to_base64(doc: dict[str, object]) -> None:
    """OTLP JSON's hex ids as protobuf's JSON mapping reads bytes; an id that is not hex is
    dropped (we never use ids; a bad one must not cost the request)."""
    stack: list[object] = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            for key in [k for k in item if k in _IDS]:
                value = item[key]
                try:
                    raw = bytes.fromhex(value) if isinstance(value, str) else None
                except ValueError:
                    raw = None
                if raw is None:
                    del item[key]
                else:
                    item[key] = base64.b64encode(raw).decode("ascii")
            stack.extend(v for v in item.values() if isinstance(v, dict | list))


def answer(signal: Signal, rejected: int, reason: str, *, as_json: bool) -> bytes:
    """The Export*ServiceResponse: empty when all was taken, else partial_success."""
    msg: Message
    if signal == "logs":
        msg = logs.ExportLogsServiceResponse()
        if rejected or reason:
            msg.partial_success.rejected_log_records = rejected
            msg.partial_success.error_message = reason
    elif signal == "metrics":
        msg = metrics.ExportMetricsServiceResponse()
        if rejected or reason:
            msg.partial_success.rejected_data_points = rejected
            msg.partial_success.error_message = reason
    else:
        msg = traces.ExportTraceServiceResponse()
        if rejected or reason:
            msg.partial_success.rejected_spans = rejected
            msg.partial_success.error_message = reason
    return _encode(msg, as_json)


def failure(code: int, reason: str, *, as_json: bool) -> bytes:
    """A `google.rpc.Status` body for a 4xx/5xx (code: the gRPC code that fits)."""
    if as_json:
        return failure_json(code, reason)
    return _encode(status_pb2.Status(code=code, message=reason), as_json)


def _encode(msg: Message, as_json: bool) -> bytes:
    if as_json:
        return json.dumps(json_format.MessageToDict(msg), separators=(",", ":")).encode()
    raw: bytes = msg.SerializeToString()
    return raw


def ids_hex(raw: bytes) -> str:
    """An id as OTLP JSON writes it (for tests and logs)."""
    return binascii.hexlify(raw).decode("ascii")
