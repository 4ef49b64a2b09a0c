"""Benchmark (not a test): OTLP log records through a real `tui-monitor record` into SQLite.

Senders post Claude-Code-shaped `api_request` events (protobuf, BATCH records a request, as
an SDK's batch processor does) on keep-alive connections with the token; the figure is records
per second from the first post to the last usage row committed, with every record checked in
the usage table (nothing lost). Then the recorder's CPU over IDLE seconds with the receiver
listening and nobody sending, against the same recorder with `[otlp] enabled = false`.

With `--ui` the receiver is the dashboard's own: `tui-monitor --db` runs in a detached tmux
pane (120x40), recording in-process, so the records share the loop with the UI as they do for
a person who opened the dashboard with no recorder running.

    .venv/bin/python bench/otlp.py [--records 50000] [--senders 4] [--ui] [--write]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
from _common import command, machine, publish
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

EXE = Path(sys.executable).parent / "tui-monitor"
BATCH = 512
IDLE = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body(sid: str, start: int, n: int) -> bytes:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value="claude-code"))
    )
    sl = rl.scope_logs.add()
    now = time.time_ns()
    for seq in range(start, start + n):
        rec = sl.log_records.add(time_unix_nano=now + seq)
        rec.body.string_value = "claude_code.api_request"
        for k, v in (
            ("session.id", sid),
            ("event.sequence", str(seq)),
            ("model", "claude-sonnet-4-5"),
            ("input_tokens", "12"),
            ("output_tokens", "340"),
            ("cache_read_tokens", "5000"),
            ("cost_usd", "0.0123"),
        ):
            rec.attributes.append(KeyValue(key=k, value=AnyValue(string_value=v)))
    return req.SerializeToString()


class Running:
    """The recorder under test: a `tui-monitor record` child, or a dashboard in tmux."""

    def __init__(self, proc: subprocess.Popen[bytes] | None, pid: int, tmux: str | None) -> None:
        self.proc, self.pid, self.tmux = proc, pid, tmux

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
            return
        assert self.tmux is not None
        with contextlib.suppress(psutil.NoSuchProcess):
            p = psutil.Process(self.pid)
            p.terminate()
            p.wait(30)
        subprocess.run(["tmux", "-L", self.tmux, "kill-server"], check=False)


def start(tmp: Path, otlp: bool, ui: bool = False) -> tuple[Running, int, Path]:
    port = free_port()
    cfg = tmp / f"config-{otlp}.toml"
    cfg.write_text(
        "[presets]\nenabled = false\n[gpu]\nenabled = false\n[sessions]\nenabled = false\n"
        f'[ingest]\nsocket = "{tmp}/ingest-{otlp}.sock"\n'
        f'[otlp]\nenabled = {str(otlp).lower()}\nlisten = "127.0.0.1:{port}"\n'
    )
    db = tmp / f"h-{otlp}.db"
    env = {"TUI_MONITOR_CONFIG": str(cfg), "PATH": "/usr/bin:/bin", "HOME": str(tmp)}
    if ui:
        sock = f"tm-bench-{uuid.uuid4().hex[:8]}"
        assigns = [f"{k}={v}" for k, v in env.items()]
        subprocess.run(
            ["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y",
             "40", "env", "-i", *assigns, "TERM=xterm-256color", str(EXE), "--db", str(db)],
            check=True,
        )  # fmt: skip
        pid = int(
            subprocess.run(
                ["tmux", "-L", sock, "display", "-p", "#{pane_pid}"],
                check=True, capture_output=True, text=True,
            ).stdout
        )  # fmt: skip
        running = Running(None, pid, sock)
    else:
        proc = subprocess.Popen(
            [str(EXE), "record", "--db", str(db)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        running = Running(proc, proc.pid, None)
    token = tmp / "otlp.token"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (db.exists() and (token.exists() or not otlp)):
        time.sleep(0.05)
    time.sleep(1.0)  # its first ticks
    return running, port, db


def usage_rows(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as c:
        return int(c.execute("SELECT count(*) FROM usage").fetchone()[0])


def idle_cpu(running: Running) -> float:
    p = psutil.Process(running.pid)
    before = sum(p.cpu_times()[:2])
    time.sleep(IDLE)
    return (sum(p.cpu_times()[:2]) - before) / IDLE * 100


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--ui", action="store_true", help="the dashboard's own recorder, in tmux")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tm-otlp-") as d:
        tmp = Path(d)
        proc, port, db = start(tmp, True, args.ui)
        token = (tmp / "otlp.token").read_text().strip()
        cpu_on = idle_cpu(proc)
        per = args.records // args.senders
        bodies = [
            [body(str(uuid.uuid4()), i, min(BATCH, per - i)) for i in range(0, per, BATCH)]
            for _ in range(args.senders)
        ]
        retries = [0]

        def send(mine: list[bytes]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"}
            for b in mine:
                while True:
                    conn.request("POST", "/v1/logs", b, headers)
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status == 200:
                        break
                    retries[0] += 1
                    time.sleep(0.2)  # 503: the recorder asks to come back

        t0 = time.monotonic()
        threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent = time.monotonic() - t0
        total = per * args.senders
        while usage_rows(db) < total and time.monotonic() - t0 < 300:
            time.sleep(0.05)
        stored = usage_rows(db)
        elapsed = time.monotonic() - t0
        proc.stop()
        off, _, _ = start(tmp, False, args.ui)
        cpu_off = idle_cpu(off)
        off.stop()
    where = (
        "the dashboard's in-process recorder (UI open, tmux 120x40)"
        if args.ui
        else ("a headless `tui-monitor record`")
    )
    text = (
        f"## otlp: {total:,} Claude Code api_request records over OTLP/HTTP into SQLite, "
        f"{where}\n\n"
        f"Machine: {machine()}\n\nCommand: `{command()}`\n\n"
        f"| figure | value |\n|---|---|\n"
        f"| records stored / sent | {stored:,} / {total:,} |\n"
        f"| records/s, first post to last row committed | {total / elapsed:,.0f} |\n"
        f"| seconds posting ({args.senders} senders, {BATCH} a request) | {sent:.2f} |\n"
        f"| 503 answers (retried) | {retries[0]} |\n"
        f"| idle CPU over {IDLE:.0f} s, receiver listening | {cpu_on:.2f}% |\n"
        f"| idle CPU over {IDLE:.0f} s, `[otlp] enabled = false` | {cpu_off:.2f}% |\n"
    )
    publish(text, args.write)


if __name__ == "__main__":
    main()
