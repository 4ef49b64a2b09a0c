"""Builders for realistic, fully deterministic Snapshots (fixed clock, fake host, no psutil),
and the helpers that run the app on them under Pilot (ui and snapshot tests share them).

Everything time-like is derived from BASE, so a screen built from these snapshots shows the
same clock, uptimes and event ages on every run.
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from tui_monitor.config import GpuSettings, PresetSettings, Settings, UiSettings
from tui_monitor.models import (
    AgentEvent,
    AgentSample,
    AgentSource,
    AgentStatus,
    EventLevel,
    GpuSample,
    GpuStatus,
    HostSample,
    Snapshot,
)
from tui_monitor.source import ScriptedSource
from tui_monitor.ui.app import MonitorApp, make_app
from tui_monitor.ui.widgets.agent_table import AgentTable

BASE = datetime(2025, 1, 15, 12, 0, 0, tzinfo=UTC)
"""Snapshot `seq` is taken at BASE + seq seconds (unless a ts is given)."""
HOSTNAME = "testhost"
MiB = 2**20
GiB = 2**30


def at(seconds: float) -> datetime:
    """BASE plus `seconds`."""
    return BASE + timedelta(seconds=seconds)


def host(
    *,
    hostname: str = HOSTNAME,
    cpu: float | None = 23.5,
    ram_used: int = 12 * GiB,
    ram_total: int = 64 * GiB,
) -> HostSample:
    """A 16-core box with a fake hostname; rates set as after a second reading."""
    return HostSample(
        hostname=hostname,
        boot_time=BASE.timestamp() - 3 * 86400,
        cpu_count=16,
        cpu_utilization=cpu,
        cpu_per_core=None if cpu is None else tuple(cpu for _ in range(16)),
        load_1=2.5,
        load_5=2.0,
        load_15=1.5,
        ram_used=ram_used,
        ram_total=ram_total,
        ram_available=ram_total - ram_used,
        swap_used=0,
        swap_total=8 * GiB,
        disk_read_bps=1024.0,
        disk_write_bps=4096.0,
        net_rx_bps=2048.0,
        net_tx_bps=512.0,
    )


def no_gpu(reason: str = "disabled in config") -> GpuStatus:
    return GpuStatus(available=False, reason=reason)


def two_gpus(util: tuple[float, float] = (45.0, 80.0)) -> GpuStatus:
    """Two healthy 80 GiB GPUs."""
    gpus = tuple(
        GpuSample(
            index=i,
            uuid=f"GPU-0000000{i}-test",
            name="NVIDIA H100 80GB HBM3",
            gpu_utilization=u,
            memory_utilization=u / 2,
            gpu_memory_used=(20 + 10 * i) * GiB,
            gpu_memory_total=80 * GiB,
            gpu_temperature=55.0 + 10 * i,
            power_w=300.0 + 50 * i,
            power_limit_w=700.0,
        )
        for i, u in enumerate(util)
    )
    return GpuStatus(available=True, driver_version="550.54.15", gpus=gpus)


def agent(
    name: str,
    *,
    status: AgentStatus = "running",
    kind: str = "coding",
    source: AgentSource = "config",
    cpu: float | None = 10.0,
    mem: float | None = 256.0,
    gpu_mem: float | None = None,
    pid: int | None = 4000,
    pids: Sequence[int] = (),
    procs: int = 1,
    uptime: float | None = 3600.0,
    cmdline: str = "",
) -> AgentSample:
    """One agent; `mem`/`gpu_mem` in MiB, `uptime` in seconds before BASE.

    `pids` stays empty by default so the agent screen never asks psutil for a process tree.
    """
    exited = status == "exited"
    return AgentSample(
        name=name,
        kind=kind,
        source=source,
        status=status,
        pid=None if exited else pid,
        create_time=None if exited or uptime is None else BASE.timestamp() - uptime,
        process=name.split("#")[0],
        cmdline=cmdline or f"python -m {name.split('#')[0]}",
        cwd=f"/srv/{name.split('#')[0]}",
        user="svc",
        pids=tuple(pids),
        procs=0 if exited else procs,
        threads=None if exited else 4 * procs,
        cpu_utilization=None if exited else cpu,
        ram_used=None if exited or mem is None else int(mem * MiB),
        gpu_memory_used=None if gpu_mem is None else int(gpu_mem * MiB),
    )


def event(
    agent_name: str,
    kind: str = "status_changed",
    message: str = "",
    *,
    level: EventLevel = "info",
    ts: float = 0.0,
) -> AgentEvent:
    """An event at BASE + ts seconds."""
    return AgentEvent(ts=at(ts), agent=agent_name, kind=kind, level=level, message=message)


def snapshot(
    seq: int,
    agents: Iterable[AgentSample] = (),
    events: Iterable[AgentEvent] = (),
    *,
    ts: datetime | float | None = None,
    gpu: GpuStatus | None = None,
    host_sample: HostSample | None = None,
) -> Snapshot:
    """Tick `seq` at BASE + seq seconds, or at `ts` (a datetime, or seconds after BASE)."""
    when = at(seq) if ts is None else ts if isinstance(ts, datetime) else at(ts)
    return Snapshot(
        seq=seq,
        ts=when,
        interval=1.0,
        lag=0.0,
        duration=0.01,
        host=host_sample or host(),
        gpu=gpu if gpu is not None else no_gpu(),
        agents=tuple(agents),
        events=tuple(events),
    )


def fleet() -> list[AgentSample]:
    """Eight agents covering every interesting status, with distinct CPU so order is fixed."""
    return [
        agent("planner", kind="coding", cpu=42.5, mem=812.0, pid=4101, procs=3, uptime=7260),
        agent("coder#1", kind="coding", cpu=88.0, mem=1536.0, pid=4102, procs=5, uptime=5400),
        agent("coder#2", status="idle", cpu=0.4, mem=640.0, pid=4103, procs=2, uptime=5390),
        agent(
            "vllm",
            kind="inference",
            source="preset",
            cpu=130.2,
            mem=9216.0,
            gpu_mem=40960.0,
            pid=4200,
            procs=9,
            uptime=90061,
        ),
        agent("reviewer", status="waiting", cpu=1.5, mem=300.0, pid=4300, uptime=600),
        agent("indexer", status="stopped", kind="worker", cpu=0.0, mem=128.0, pid=4400),
        agent("scraper", status="zombie", kind="worker", cpu=0.0, mem=0.0, pid=4500, uptime=45),
        agent("summarizer", status="exited", kind="worker", source="ingest"),
    ]


def fleet_events() -> list[AgentEvent]:
    """A few events of each level, in time order."""
    return [
        event("planner", "started", "pid 4101", level="info", ts=-300),
        event("coder#1", "tool_call", "running pytest -q", level="debug", ts=-240),
        event("vllm", "metrics", "kv cache 71% used", level="debug", ts=-200),
        event("reviewer", "status_changed", "running -> waiting", level="info", ts=-120),
        event("coder#1", "rate_limit", "429 from provider, retry in 8s", level="warning", ts=-90),
        event("vllm", "queue", "queue depth 37 above 32", level="warning", ts=-60),
        event("scraper", "crash", "TimeoutError: page load took 30s", level="error", ts=-30),
        event("indexer", "status_changed", "running -> stopped (SIGSTOP)", level="error", ts=-20),
        event("summarizer", "exited", "exit code 137 (OOM killed)", level="critical", ts=-5),
    ]


HOST_CPU = (18.0, 22.5, 31.0, 45.5, 52.0, 47.5, 39.0, 61.0, 70.5, 58.0)
"""Host CPU over the ten ticks of `history`, so sparklines and the chart have a shape."""


def history(agents: Callable[[int], list[AgentSample]] | None = None) -> list[Snapshot]:
    """Ten ticks of the fleet (CPU of vllm and coder#1 wandering), events in the first."""

    def tick(i: int) -> list[AgentSample]:
        out = []
        for a in fleet():
            if a.name == "vllm":
                a = a.model_copy(update={"cpu_utilization": 100.0 + 4 * HOST_CPU[i - 1] / 3})
            elif a.name == "coder#1":
                a = a.model_copy(update={"cpu_utilization": HOST_CPU[i - 1]})
            out.append(a)
        return out

    make = agents or tick
    return [
        snapshot(
            i,
            make(i),
            fleet_events() if i == 1 else (),
            gpu=two_gpus((40.0 + i, 75.0 + i)),
            host_sample=host(cpu=HOST_CPU[i - 1], ram_used=(12 * GiB) + i * 256 * MiB),
        )
        for i in range(1, len(HOST_CPU) + 1)
    ]


# -- apps ------------------------------------------------------------------------------

CONFIG = Path("/home/tester/.config/tui-monitor/config.toml")
"""A fixed, fake config path so the empty state reads the same everywhere."""


def settings() -> Settings:
    # These tests were written against a table sorted by CPU, largest first.
    return Settings(
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        ui=UiSettings(sort="cpu", sort_reverse=True),
    )


def build_app(
    snapshots: Sequence[Snapshot],
    *,
    config: Path = CONFIG,
    on_first_screen: Callable[[], None] | None = None,
) -> tuple[MonitorApp, ScriptedSource]:
    """The app as the CLI builds it, fed by scripted snapshots, with a UTC header clock."""
    source = ScriptedSource(snapshots)
    app = make_app(
        settings(), source, None, config=config, utc=True, on_first_screen=on_first_screen
    )
    return app, source


async def wait_until(
    pilot: Pilot[None], condition: Callable[[], object], timeout: float = 5.0, what: str = ""
) -> None:
    """Let the app run until `condition()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.01)


def table(app: App[Any]) -> AgentTable:
    """The dashboard's agent table (on the screen on top)."""
    return app.screen.query_one(AgentTable)


async def ready(pilot: Pilot[None], seq: int = 1) -> None:
    """Wait until snapshot `seq` is on the dashboard (or on whatever screen is on top)."""
    app = pilot.app
    assert isinstance(app, MonitorApp)
    await wait_until(
        pilot,
        lambda: app.snapshot is not None and app.snapshot.seq >= seq,
        what=f"snapshot {seq}",
    )
    await pilot.pause()


async def step(pilot: Pilot[None], source: ScriptedSource) -> Snapshot:
    """Emit the next snapshot and wait until the app has handled it (no coalescing)."""
    snap = source.step()
    assert snap is not None, "no snapshots left"
    await ready(pilot, snap.seq)
    return snap


def screen_text(app: App[Any]) -> str:
    """The screen as plain text, exactly as `export_screenshot` composes it."""
    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text(styles=False)


@asynccontextmanager
async def running(
    snapshots: Sequence[Snapshot], size: tuple[int, int] = (120, 40), *, config: Path = CONFIG
) -> AsyncIterator[tuple[MonitorApp, ScriptedSource, Pilot[None]]]:
    """The app under Pilot with the first snapshot already on screen."""
    app, source = build_app(snapshots, config=config)
    async with app.run_test(size=size) as pilot:
        await ready(pilot, 1)
        yield app, source, pilot
