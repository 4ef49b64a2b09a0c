"""A stand-in for `ssh HOST tui-monitor stream` in bench/fleet.py: what a busy remote sends.

`[fleet] ssh` points at this file; it takes ssh's command line, reads the host from the word
after `--`, and prints a real stream (the protocol's own encoder): a handshake, then every
second a snapshot of AGENTS agents (busy as bench/ui.py's local ones), until the viewer closes its
stdin (as ssh's end does) or kills it. Ten of these cost the box a little CPU each; they are
not the viewer, whose own process is what the bench measures.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import socket
import sys
import time
import zlib
from datetime import UTC, datetime

from tui_monitor import __version__
from tui_monitor.fleet.protocol import encode_handshake, encode_snapshot
from tui_monitor.models import AgentSample, GpuStatus, HostSample, Snapshot

AGENTS = int(os.environ.get("FLEET_BENCH_AGENTS", "50"))
INTERVAL = 1.0


def host_sample(name: str) -> HostSample:
    return HostSample(
        hostname=name,
        boot_time=time.time() - 86_400,
        cpu_count=32,
        cpu_utilization=40.0,
        cpu_per_core=None,
        load_1=3.0,
        load_5=2.5,
        load_15=2.0,
        ram_used=64 << 30,
        ram_total=256 << 30,
        ram_available=190 << 30,
        swap_used=0,
        swap_total=0,
        disk_read_bps=1e6,
        disk_write_bps=2e6,
        net_rx_bps=3e5,
        net_tx_bps=1e5,
    )


def agent(host: str, i: int, seq: int, started: float) -> AgentSample:
    """Agent i at tick `seq`: as bench/ui.py's local agents, one in ten works (a CPU that
    drifts over tens of seconds, a memory that moves) and the rest sleep (figures that stay).
    Which ones is a hash of host and index: every host's `agent#10` busy would put ten busy
    rows together on a screen sorted by name, where a host has one in ten."""
    busy = zlib.crc32(f"{host}/{i}".encode()) % 10 == 0
    cpu = round(3.5 + 2.5 * math.sin(seq / 9 + i), 1) if busy else 0.0
    return AgentSample(
        name="agent" if i == 1 else f"agent#{i}",
        kind="bench",
        source="config",
        status="running" if busy else "idle",
        pid=20_000 + i,
        create_time=started - i,
        process="python3" if busy else "sleep",
        procs=1,
        cpu_utilization=cpu,
        ram_used=((9 << 20) + (seq % 7) * 4096) if busy else 600 << 10,
        ram_kind="pss",
    )


def snapshot(name: str, seq: int, started: float) -> Snapshot:
    now = time.time()
    agents = tuple(agent(name, i, seq, started) for i in range(1, AGENTS + 1))
    return Snapshot(
        seq=seq,
        ts=datetime.fromtimestamp(now, UTC),
        interval=INTERVAL,
        lag=0.001,
        duration=0.02,
        host=host_sample(name),
        gpu=GpuStatus(available=False, reason="no GPU"),
        agents=agents,
    )


def main() -> None:
    argv = sys.argv[1:]
    name = argv[argv.index("--") + 1] if "--" in argv else socket.gethostname()
    out = sys.stdout.buffer
    out.write(encode_handshake(__version__, name, INTERVAL))
    out.flush()
    started, seq = time.time(), 0
    deadline = time.monotonic()
    while True:
        seq += 1
        out.write(encode_snapshot(snapshot(name, seq, started)))
        out.flush()
        deadline += INTERVAL
        # Wait for the next tick, or for the viewer to close our stdin (it went away).
        ready, _, _ = select.select([sys.stdin], [], [], max(0.0, deadline - time.monotonic()))
        if ready and not os.read(sys.stdin.fileno(), 4096):
            return


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        main()
