"""/metrics with the real things: `tui-monitor record --metrics` in a subprocess, scraped by
a real Prometheus (Debian's `prometheus`) started here on a free port with the scrape config
of docs/prometheus.yml; its HTTP API gives our values back. And the endpoint's refusals."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.recorders import (
    RecorderProcess,
    free_port,
    launch_recorder,
    tui_monitor,
    wait_for,
    write_config,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
DEADLINE = 90.0
"""Seconds for Prometheus to start, scrape and answer (two cores, other tests running)."""


def record_with_metrics(tmp: Path, sock: Path, port: int) -> RecorderProcess:
    """`record --metrics 127.0.0.1:PORT`, once it said where /metrics is (or why not)."""
    rec = launch_recorder(tmp / "h.db", sock, tmp / "rec.log", "--metrics", f"127.0.0.1:{port}")
    proc = rec.proc
    wait_for(
        lambda: "metrics o" in rec.stderr_text() or proc.poll() is not None, 30, "the metrics line"
    )
    assert proc.poll() is None, rec.stderr_text()
    return rec


def token_file() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "tui-monitor" / "metrics.token"


def get(
    port: int,
    path: str = "/metrics",
    token: str | None = None,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


@pytest.fixture
def sleeper() -> Iterator[str]:
    """A real process an `[[agents]]` rule finds by its (unique) command line."""
    arg = f"3600.{os.getpid()}{time.monotonic_ns() % 100000}"
    proc = subprocess.Popen(["sleep", arg], start_new_session=True)
    yield arg
    proc.kill()
    proc.wait(10)


@pytest.fixture
def recorder(
    tmp_path: Path, short_dir: Path, sleeper: str
) -> Iterator[tuple[RecorderProcess, int]]:
    sock = short_dir / "ingest.sock"
    extra = f'[otlp]\nenabled = false\n[[agents]]\nname = "sleeper"\ncmdline = "sleep {sleeper}"\n'
    write_config(tmp_path / "config.toml", sock, extra=extra)
    port = free_port()
    rec = record_with_metrics(tmp_path, sock, port)
    assert f"metrics on http://127.0.0.1:{port}/metrics" in rec.stderr_text()
    yield rec, port
    assert rec.stop() == 0, rec.stderr_text()


def test_scrape_needs_the_token_and_is_bounded(recorder: tuple[RecorderProcess, int]) -> None:
    rec, port = recorder
    assert token_file().stat().st_mode & 0o777 == 0o600
    token = token_file().read_text().strip()
    status, headers, body = get(port)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert b"tui_monitor" not in body
    assert get(port, token="wrong")[0] == 401
    wait_for(lambda: get(port, token=token)[0] == 200, 30, "a first tick on /metrics")
    status, headers, body = get(port, token=token)
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    assert b'tui_monitor_agent_processes{agent="sleeper"} 1.0' in body
    status, headers, head = get(port, token=token, method="HEAD")
    assert status == 200 and head == b"" and int(headers["content-length"]) > 1000
    assert get(port, "/", token=token)[0] == 404
    assert get(port, token=token, method="POST", body=b"x")[0] == 405
    assert get(port, token=token, method="GET", body=b"x" * 100_000)[0] == 413
    # a header block past the server's bound: refused, the recorder unharmed
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    assert get(port, token=token)[0] == 200
    assert rec.proc.poll() is None


def prometheus_config(tmp: Path, target_port: int) -> Path:
    """docs/prometheus.yml, pointed at our recorder, scraping every second."""
    doc: dict[str, Any] = yaml.safe_load((DOCS / "prometheus.yml").read_text())
    doc["global"]["scrape_interval"] = "1s"
    (job,) = doc["scrape_configs"]
    job["scrape_interval"] = "1s"
    job["authorization"]["credentials_file"] = str(token_file())
    job["static_configs"] = [{"targets": [f"127.0.0.1:{target_port}"]}]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


@contextlib.contextmanager
def prometheus(tmp: Path, config: Path) -> Iterator[int]:
    """A real Prometheus on a free port with its own storage; stopped at the end."""
    port = free_port()
    log = (tmp / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def checked_query(port: int, expr: str) -> list[dict[str, Any]]:
    """An instant query that must be valid PromQL: Prometheus's error (HTTP 400 and its
    reason) fails the test, where `query` would read it as "not up yet"."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
    except urllib.error.HTTPError as exc:
        pytest.fail(f"{expr}: {exc.code} {exc.read().decode(errors='replace')}")
    assert doc["status"] == "success", doc
    return list(doc["data"]["result"])


def query(port: int, expr: str) -> list[dict[str, Any]]:
    """An instant query's result vector; [] while Prometheus is not up yet."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            doc = json.load(r)
    except OSError:
        return []
    assert doc["status"] == "success", doc
    return list(doc["data"]["result"])


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("prometheus") is None,
    reason="prometheus not installed (Debian package prometheus; make test-tools)",
)
def test_a_real_prometheus_scrapes_our_values(
    tmp_path: Path, recorder: tuple[RecorderProcess, int]
) -> None:
    rec, port = recorder
    wait_for(token_file().exists, 30, "the token file")
    with prometheus(tmp_path, prometheus_config(tmp_path, port)) as prom:
        found: dict[str, list[dict[str, Any]]] = {}

        def answered(expr: str) -> bool:
            found[expr] = query(prom, expr)
            return bool(found[expr])

        up = 'up{job="tui-monitor"} == 1'
        sleeper = 'tui_monitor_agent_processes{agent="sleeper"} == 1'
        idle = 'tui_monitor_agent_status{agent="sleeper",status="idle"} == 1'
        ticks = "tui_monitor_recorder_ticks_total > 0"
        lag = "tui_monitor_recorder_tick_lag_seconds >= 0"
        for expr in (up, sleeper, idle, ticks, lag):
            what = f"Prometheus to answer {expr} (its log: {tmp_path}/prometheus.log)"
            wait_for(lambda e=expr: answered(e), DEADLINE, what)  # type: ignore[misc]
        (series,) = found[sleeper]
        assert series["metric"]["instance"] == f"127.0.0.1:{port}"
        assert series["value"][1] == "1"
        # a counter's rate over real scrapes: the recorder ticks every 0.2 s
        rate = "rate(tui_monitor_recorder_ticks_total[5s]) > 1"
        wait_for(lambda: answered(rate), DEADLINE, rate)
        # The Grafana dashboard we ship: every panel's query is PromQL this Prometheus runs
        # (an error fails the test), its `$instance` picked as Grafana would.
        dash = json.loads((DOCS / "grafana-dashboard.json").read_text())
        exprs = [t["expr"] for panel in dash["panels"] for t in panel.get("targets", [])]
        assert len(exprs) > 20
        instance = f"127.0.0.1:{port}".replace(".", "\\\\.")
        answered_panels = [
            e for e in exprs if checked_query(prom, e.replace("$instance", instance))
        ]
        # the recorder's own health and its agent are there: most panels have data
        assert len(answered_panels) >= len(exprs) // 2, set(exprs) - set(answered_panels)
    assert rec.proc.poll() is None


def test_a_port_in_use_leaves_metrics_off_and_recording_on(tmp_path: Path, short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    write_config(tmp_path / "config.toml", sock, extra="[otlp]\nenabled = false\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rec = record_with_metrics(tmp_path, sock, port)
        assert f"metrics off: 127.0.0.1:{port} in use (recording goes on)" in rec.stderr_text()
        wait_for(lambda: rec.ticks() > 2, 30, "ticks recorded all the same")
    assert rec.stop() == 0
    assert "Traceback" not in rec.stderr_text()


@pytest.mark.parametrize("addr", ["10.1.2.3:9464", "9464", "127.0.0.1:0"])
def test_a_bad_metrics_address_is_one_line(addr: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [tui_monitor(), "record", "--db", str(tmp_path / "h.db"), "--metrics", addr],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--metrics" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "h.db").exists()
