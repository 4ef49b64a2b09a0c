"""otlp/media.py: what the receiver answers without protobuf, checked against protobuf's own
JSON mapping; and that a recorder taking only hooks never imports the OTLP messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2

from tui_monitor.otlp.media import failure_json


@pytest.mark.parametrize(
    ("code", "reason"), [(3, "not JSON (Expecting value)"), (16, "missing token"), (0, "")]
)
def test_a_json_status_is_what_protobuf_writes(code: int, reason: str) -> None:
    want = json_format.MessageToDict(status_pb2.Status(code=code, message=reason))
    assert json.loads(failure_json(code, reason)) == want


def test_the_receiver_imports_no_protobuf_until_an_otlp_request() -> None:
    code = (
        "import sys, tui_monitor.otlp.receiver, tui_monitor.otlp.start; "
        "print(sorted(m for m in sys.modules if m.startswith(('google.protobuf', "
        "'opentelemetry'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
