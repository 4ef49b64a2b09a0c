"""The OTLP receiver in a real recorder, fed by the official OpenTelemetry SDK (a client
nobody here wrote) and by raw HTTP for what the SDK never sends (bad tokens, garbage, bombs).
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

from tests.recorders import free_port, rows, run, start_recorder, wait_for, write_config

AGENTS = Path(__file__).parent.parent / "agents"
pytestmark = pytest.mark.slow


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def claude_env(port: int, token: str) -> dict[str, str]:
    """What a person sets on Claude Code to send to us (README, "OTLP")."""
    return {
        **os.environ,
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {token}",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
    }


def api_request_json(sid: str, seq: int, tokens: tuple[int, int], cost: str) -> bytes:
    """An OTLP JSON body as Claude Code's http/json exporter writes one: hex trace ids,
    int64s as strings, attribute values as strings."""
    attrs = {
        "session.id": sid,
        "event.name": "api_request",
        "event.sequence": str(seq),
        "model": "claude-sonnet-4-5",
        "input_tokens": str(tokens[0]),
        "output_tokens": str(tokens[1]),
        "cost_usd": cost,
    }
    doc = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": str(1_800_000_000_000_000_000 + seq),
                                "severityNumber": "SEVERITY_NUMBER_INFO",
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "body": {"stringValue": "claude_code.api_request"},
                                "attributes": [
                                    {"key": k, "value": {"stringValue": v}}
                                    for k, v in attrs.items()
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    return json.dumps(doc).encode()


@pytest.fixture
def recorder(tmp_path: Path, short_dir: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    sock = short_dir / "ingest.sock"
    extra = f'[sessions]\nenabled = false\n[otlp]\nlisten = "127.0.0.1:{port}"\nmax_body = 65536\n'
    write_config(tmp_path / "config.toml", sock, extra=extra)
    rec = start_recorder(tmp_path / "h.db", sock, tmp_path / "rec.log")
    token_file = short_dir / "otlp.token"
    wait_for(token_file.exists, what="the token file")
    yield rec, port, token_file.read_text().strip()
    rec.stop()


def test_sdk_events_and_metrics_land_in_sqlite(recorder) -> None:  # type: ignore[no-untyped-def]
    rec, port, token = recorder
    sid = str(uuid.uuid4())
    requests = [(1200, 340, 50_000, 2_000, "0.0421"), (800, 90, 52_000, 0, "0.0187")]
    plan = {
        "session": sid,
        "events": [
            {"name": "user_prompt", "attrs": {"prompt_length": 42, "prompt": "SECRET PROMPT"}},
            *(
                {
                    "name": "api_request",
                    "attrs": {
                        "model": "claude-sonnet-4-5",
                        "input_tokens": i,
                        "output_tokens": o,
                        "cache_read_tokens": r,
                        "cache_creation_tokens": w,
                        "cost_usd": c,
                        "duration_ms": 900,
                    },
                }
                for i, o, r, w, c in requests
            ),
            {
                "name": "tool_result",
                "attrs": {
                    "tool_name": "Bash",
                    "success": "true",
                    "tool_parameters": '{"command": "SECRET"}',
                },
            },
            {
                "name": "api_error",
                "attrs": {
                    "model": "claude-sonnet-4-5",
                    "status_code": 529,
                    "error": "Overloaded",
                    "attempt": 1,
                },
            },
        ],
        "metrics": [
            {"name": "claude_code.cost.usage", "value": 0.0608, "attrs": {"model": "m"}},
            {"name": "claude_code.lines_of_code.count", "value": 12, "attrs": {"type": "added"}},
            {"name": "claude_code.commit.count", "value": 1},
        ],
    }
    env = claude_env(port, token) | {"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}
    done = subprocess.run(
        [sys.executable, str(AGENTS / "otlp_emitter.py"), json.dumps(plan)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    agent = f"claude:{sid.replace('-', '')[:8]}"
    wait_for(lambda: len(rows(rec.db, "SELECT 1 FROM usage")) == 2, what="two usage rows")
    got = rows(
        rec.db,
        "SELECT agent, model, input_tokens, output_tokens, cache_read_tokens, "
        "cache_write_tokens, cost_usd, session FROM usage ORDER BY input_tokens DESC",
    )
    assert got == [
        (agent, "claude-sonnet-4-5", i, o, r, w, float(c), sid) for i, o, r, w, c in requests
    ]
    wait_for(lambda: rows(rec.db, "SELECT 1 FROM errors"), what="the api error")
    assert rows(rec.db, "SELECT agent, error_type, message FROM errors") == [
        (agent, "api_error 529", "Overloaded")
    ]
    wait_for(lambda: rows(rec.db, "SELECT 1 FROM events WHERE kind = 'tool_result'"))
    events = rows(
        rec.db,
        "SELECT agent, kind, message, data FROM events WHERE agent = ?".replace("?", f"'{agent}'"),
    )
    kinds = {e[1] for e in events}
    assert {"user_prompt", "tool_result"} <= kinds
    assert "SECRET" not in json.dumps(events)
    wait_for(
        lambda: any(
            "cost_usd" in (m[0] or "") for m in rows(rec.db, "SELECT metrics FROM reports")
        ),
        what="the session's metrics on its row",
    )
    metrics = [json.loads(m[0]) for m in rows(rec.db, "SELECT metrics FROM reports") if m[0]]
    last = metrics[-1]
    assert last["cost_usd"] == pytest.approx(0.0608)
    assert last["lines_added"] == 12 and last["commits"] == 1
    # the raw database holds no prompt or tool input anywhere
    assert b"SECRET" not in Path(rec.db).read_bytes()


def test_refusals_then_valid_requests_still_stored(recorder) -> None:  # type: ignore[no-untyped-def]
    rec, port, token = recorder
    sid = str(uuid.uuid4())
    auth = {"Authorization": f"Bearer {token}"}
    js = {"Content-Type": "application/json"}
    pb = {"Content-Type": "application/x-protobuf"}
    body = api_request_json(sid, 1, (100, 10), "0.001")
    assert post(port, "/v1/logs", body, js)[0] == 401
    assert post(port, "/v1/logs", body, js | {"Authorization": "Bearer nope"})[0] == 401
    assert post(port, "/v1/logs", b"\xff" * 40, pb | auth)[0] == 400
    status, answer = post(port, "/v1/logs", b"{not json", js | auth)
    assert status == 400 and b"not JSON" in answer
    assert post(port, "/v1/logs", b"x" * 200_000, js | auth)[0] == 413
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB of zeros in ~50 KB
    assert len(bomb) < 65536
    assert post(port, "/v1/logs", bomb, pb | auth | {"Content-Encoding": "gzip"})[0] == 413
    assert post(port, "/v1/logs", body, {"Content-Type": "text/plain"} | auth)[0] == 415
    assert post(port, "/v1/nothing", body, js | auth)[0] == 404
    # valid ones after all that: JSON, gzip JSON, and protobuf made from the same JSON
    status, answer = post(port, "/v1/logs", body, js | auth)
    assert status == 200 and json.loads(answer) == {}
    second = gzip.compress(api_request_json(sid, 2, (200, 20), "0.002"))
    assert post(port, "/v1/logs", second, js | auth | {"Content-Encoding": "gzip"})[0] == 200
    third = json_format.Parse(
        api_request_json(sid, 3, (300, 30), "0.003").replace(
            b"5b8efff798038103d269b633813fc60c", b""
        ),
        logs_service_pb2.ExportLogsServiceRequest(),
        ignore_unknown_fields=True,
    ).SerializeToString()
    assert post(port, "/v1/logs", third, pb | auth)[0] == 200
    assert post(port, "/v1/traces", b"", pb | auth)[0] == 200
    wait_for(lambda: len(rows(rec.db, "SELECT 1 FROM usage")) == 3, what="three usage rows")
    assert sorted(rows(rec.db, "SELECT input_tokens, output_tokens, cost_usd FROM usage")) == [
        (100, 10, 0.001),
        (200, 20, 0.002),
        (300, 30, 0.003),
    ]
    # the same record again (an exporter's retry) counts nothing twice
    assert post(port, "/v1/logs", body, js | auth)[0] == 200
    assert len(rows(rec.db, "SELECT 1 FROM usage")) == 3


def test_port_in_use_recorder_runs_and_says_otlp_off(tmp_path: Path, short_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sock = short_dir / "ingest.sock"
        write_config(tmp_path / "config.toml", sock, extra=f'[otlp]\nlisten = "127.0.0.1:{port}"\n')
        rec = start_recorder(tmp_path / "h.db", sock, tmp_path / "rec.log")
        try:
            wait_for(lambda: "in use" in rec.stderr_text(), what="otlp off: address in use")
            assert f"otlp receiver on 127.0.0.1:{port}" in rec.stderr_text()
            start = rec.ticks()
            wait_for(lambda: rec.ticks() > start + 2, what="ticks go on")
        finally:
            assert rec.stop() == 0


def status_json(db: Path) -> dict:  # type: ignore[type-arg]
    out = run("status", "--json", "--db", str(db))
    assert out.returncode == 0, out.stderr
    doc: dict = json.loads(out.stdout)  # type: ignore[type-arg]
    return doc


def test_status_of_a_running_recorder_has_its_receiver_and_sessions(recorder) -> None:  # type: ignore[no-untyped-def]
    """`status --json` reads the recorder's newest tick from the history, and what the history
    does not keep per tick (the receiver's counters, each session's tokens) from the live
    file the recorder rewrites every tick (store/live.py)."""
    rec, port, token = recorder
    sid = str(uuid.uuid4())
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    assert post(port, "/v1/logs", api_request_json(sid, 1, (100, 10), "0.001"), auth)[0] == 200
    assert post(port, "/v1/logs", b"{", auth)[0] == 400
    wait_for(lambda: rows(rec.db, "SELECT 1 FROM usage"), what="the usage row")
    live = rec.db.with_name(rec.db.name + ".live.json")
    assert oct(live.stat().st_mode & 0o777) == "0o600"
    agent = f"claude:{sid.replace('-', '')[:8]}"

    def shown() -> dict | None:  # type: ignore[type-arg]
        doc = status_json(rec.db)
        row = next((a for a in doc["agents"] if a["name"] == agent), None)
        return doc if row is not None and row["session"] is not None else None

    wait_for(shown, what="the session's row in status --json")
    doc = shown()
    assert doc is not None and doc["source"]["from"] == "recorder"
    assert doc["otlp"]["listening"] == f"127.0.0.1:{port}"
    assert doc["otlp"]["records"] == 1 and doc["otlp"]["rejected"] == 1
    row = next(a for a in doc["agents"] if a["name"] == agent)
    assert row["session"]["meta"]["session_id"] == sid
    assert row["session"]["tokens"]["input"] == 100 and row["session"]["tokens"]["output"] == 10
    assert rec.stop() == 0
    assert not live.exists()  # a stopped recorder's last tick is not shown as live
