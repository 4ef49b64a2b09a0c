"""What the receiver needs of OTLP/HTTP before (and without) a protobuf message: the paths,
the media types, the refusal of a malformed body, and a JSON `google.rpc.Status`.

Kept apart from wire.py so that a recorder that only ever takes hooks never imports protobuf
and the OTLP messages (~4 MB): wire.py is imported by the first OTLP request, in the decoding
thread (or by a refusal answered in protobuf)."""

from __future__ import annotations

import json
from typing import Literal

Signal = Literal["logs", "metrics", "traces"]
PATHS: dict[str, Signal] = {"/v1/logs": "logs", "/v1/metrics": "metrics", "/v1/traces": "traces"}
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class Malformed(ValueError):
    """The body is not the signal's request message (the reason goes back with a 400)."""


def failure_json(code: int, reason: str) -> bytes:
    """A `google.rpc.Status` in protobuf's JSON mapping (what json_format writes for it)."""
    doc: dict[str, object] = {"code": code} if code else {}
    if reason:
        doc["message"] = reason
    return json.dumps(doc, separators=(",", ":")).encode()
