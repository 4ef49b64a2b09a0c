"""Render the dashboard at 120x40 from scripted, deterministic data into docs/dashboard.svg.

    python docs/screenshot.py [--output PATH]

The data is the test fleet of tests/factories.py (eight agents in every state, two GPUs),
given costs, reported statuses, errors, alerts and two and a half minutes of ticks so the
sparklines, the chart and the event log have something to show. Nothing on the picture comes
from this machine or today's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from factories import (  # noqa: E402
    BASE,
    GiB,
    MiB,
    agent,
    at,
    event,
    host,
    ready,
    snapshot,
    step,
    table,
    two_gpus,
    wait_until,
)

from tui_monitor.alerts.rules import AlertSettings  # noqa: E402
from tui_monitor.config import GpuSettings, PresetSettings, Settings, UiSettings  # noqa: E402
from tui_monitor.models import (  # noqa: E402
    AgentEvent,
    AgentSample,
    BudgetState,
    CostState,
    IngestStats,
    Snapshot,
)
from tui_monitor.source import Mode, ScriptedSource  # noqa: E402
from tui_monitor.ui.app import make_app  # noqa: E402

OUTPUT = ROOT / "docs" / "dashboard.svg"
SIZE = (120, 40)
TICKS = 150
HOSTNAME = "gpu-box"


class _Live(ScriptedSource):
    """Scripted ticks that the header calls LIVE, as a real in-process recorder would be."""

    mode: Mode = "live"


def _wave(i: int, base: float, amp: float, period: float, phase: float = 0.0) -> float:
    return max(0.0, base + amp * math.sin(2 * math.pi * (i + phase) / period))


def _agents(i: int) -> list[AgentSample]:
    """The fleet at tick `i`: CPU and memory wander, the rest is what agents reported."""
    cpu = {
        "planner": _wave(i, 38, 14, 47),
        "coder#1": _wave(i, 86, 9, 23, 5),
        "vllm": _wave(i, 128, 35, 61, 12),
    }
    return [
        agent(
            "planner", cpu=cpu["planner"], mem=812 + i * 0.4, pid=4101, procs=3, uptime=7260
        ).model_copy(
            update={"reported": "thinking", "queue_depth": 3, "cost": 1.84, "task": "ticket 42"}
        ),
        agent("coder#1", cpu=cpu["coder#1"], mem=1536, pid=4102, procs=5, uptime=5400).model_copy(
            update={"cost": 3.12, "queue_depth": 1}
        ),
        agent(
            "coder#2", status="idle", cpu=0.4, mem=640, pid=4103, procs=2, uptime=5390
        ).model_copy(update={"cost": 0.42, "queue_depth": 0}),
        agent(
            "vllm",
            kind="inference",
            source="preset",
            cpu=cpu["vllm"],
            mem=9216,
            gpu_mem=40960,
            pid=4200,
            procs=9,
            uptime=90061,
        ),
        agent("reviewer", status="waiting", cpu=1.5, mem=300, pid=4300, uptime=600).model_copy(
            update={"cost": 0.96, "errors": 2, "reported": "awaiting review"}
        ),
        agent("indexer", status="stopped", kind="worker", cpu=0.0, mem=128, pid=4400),
        agent("scraper", status="stale", kind="worker", cpu=0.1, mem=210, pid=4500).model_copy(
            update={"errors": 1, "cost": 0.0}
        ),
        agent("summarizer", status="exited", kind="worker", source="ingest"),
    ]


def _alert(ts: float, rule: str, subject: str, metric: str, message: str) -> AgentEvent:
    return AgentEvent(
        ts=at(ts),
        agent=subject,
        kind="alert",
        level="warning",
        message=message,
        data={"rule": rule, "subject": subject, "metric": metric, "state": "firing"},
    )


def _events() -> list[AgentEvent]:
    """What happened over the ticks, in time order (seconds after BASE)."""
    return [
        event("planner", "started", "pid 4101", ts=2),
        event("coder#1", "tool_call", "running pytest -q", level="debug", ts=9),
        event("planner", "message", "picked up ticket 42", ts=14),
        event("vllm", "metrics", "kv cache 71% used", level="debug", ts=22),
        event("coder#1", "rate_limit", "429 from provider, retry in 8s", level="warning", ts=31),
        event("reviewer", "status_changed", "running -> waiting", ts=40),
        event("coder#1", "tool_call", "git diff --stat", level="debug", ts=48),
        _alert(55, "cpu", "coder#1", "cpu", "coder#1 cpu 91% > 80% for 30s"),
        event("vllm", "queue", "queue depth 37 above 32", level="warning", ts=63),
        event("reviewer", "error", "ValueError: patch does not apply", level="error", ts=71),
        event("planner", "message", "split ticket 42 into 3 tasks", ts=80),
        event("scraper", "error", "TimeoutError: page load took 30s", level="error", ts=88),
        event("coder#2", "status_changed", "running -> idle", ts=97),
        event("indexer", "status_changed", "running -> stopped (SIGSTOP)", level="error", ts=104),
        event("summarizer", "exited", "exit code 137 (OOM killed)", level="critical", ts=112),
        _alert(121, "stale", "scraper", "stale", "scraper is stale for 30s"),
        event("reviewer", "error", "ValueError: patch does not apply", level="error", ts=129),
        event("coder#1", "tool_call", "running pytest -q tests/unit", level="debug", ts=137),
        event("planner", "message", "task 2/3 handed to coder#1", ts=146),
    ]


def history() -> list[Snapshot]:
    events = _events()
    ingest_total = 0
    out = []
    for i in range(1, TICKS + 1):
        mine = [e for e in events if i - 1 < (e.ts - BASE).total_seconds() <= i]
        ingest_total += 3 + len(mine)
        gpu = two_gpus((_wave(i, 55, 20, 37), _wave(i, 82, 10, 29, 7)))
        snap = snapshot(
            i,
            _agents(i),
            mine,
            gpu=gpu,
            host_sample=host(
                hostname=HOSTNAME,
                cpu=_wave(i, 46, 18, 41) + _wave(i, 0, 6, 7),
                ram_used=int(21 * GiB + 300 * MiB * math.sin(i / 20)),
            ),
        )
        today = 6.34 + i * 0.0003
        snap = snap.model_copy(
            update={
                "ingest": IngestStats(
                    received=1180 + ingest_total,
                    stored=1178 + ingest_total,
                    rejected=2,
                    listening="/run/user/1000/tui-monitor/ingest.sock",
                ),
                "cost": CostState(
                    today=today,
                    month=41.2 + i * 0.0003,
                    burn_per_hour=1.2,
                    budgets=(
                        BudgetState(
                            name="daily", limit=20.0, spent=today, pct=today * 5, exceeded=False
                        ),
                    ),
                ),
            }
        )
        out.append(snap)
    return out


def settings() -> Settings:
    return Settings(
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        ui=UiSettings(sort="cpu", sort_reverse=True),
        alerts=AlertSettings(toast=False),
    )


async def render(output: Path) -> None:
    snaps = history()
    source = _Live(snaps)
    app = make_app(
        settings(), source, None, config=Path("/home/me/.config/tui-monitor/config.toml")
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, 1)
        while source.snapshots[-1] is not app.snapshot:
            await step(pilot, source)
        await wait_until(pilot, lambda: table(app).row_count == 8, what="eight rows")
        await pilot.press("c")  # the chart: the host rather than the selected agent
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        svg = app.export_screenshot(title="tui-monitor")
    output.write_text(svg, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render docs/dashboard.svg.")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    os.environ["TZ"] = "UTC"  # the header clock and the event times read the same anywhere
    time.tzset()
    asyncio.run(render(args.output))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
