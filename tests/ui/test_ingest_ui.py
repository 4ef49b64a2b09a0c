"""Agents reporting over the real socket, seen on the real dashboard (live mode)."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from factories import screen_text, table, wait_until
from textual.pilot import Pilot
from textual.widgets import OptionList

from tui_monitor.config import (
    GpuSettings,
    IngestSettings,
    PresetSettings,
    Settings,
    StoreSettings,
)
from tui_monitor.source import LiveSource
from tui_monitor.store.queries import History
from tui_monitor.ui.app import MonitorApp, make_app
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.screens.dashboard import DashboardScreen
from tui_monitor.ui.screens.detail import DetailScreen
from tui_monitor.ui.screens.events import EventsScreen
from tui_monitor.ui.widgets.event_log import EventLog

AGENTS = Path(__file__).parent.parent / "agents"


@asynccontextmanager
async def live(
    tmp_path: Path,
    sock: Path,
    size: tuple[int, int] = (120, 40),
    extra: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[MonitorApp, Pilot[None]]]:
    db = tmp_path / "history.db"
    settings = Settings(
        interval=0.5,
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.2),
        ingest=IngestSettings(socket=sock, heartbeat_timeout=2.0),
        **(extra or {}),
    )
    app = make_app(settings, LiveSource(settings, db), History(db), utc=True)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: sock.exists(), timeout=10, what="the ingest socket")
        yield app, pilot
        await pilot.press("q")


async def send(sock: Path, messages: list[dict[str, object]]) -> list[dict[str, object]]:
    reader, writer = await asyncio.open_unix_connection(str(sock))
    for m in messages:
        writer.write(json.dumps({"v": 1, **m}).encode() + b"\n")
    await writer.drain()
    replies = [json.loads(await asyncio.wait_for(reader.readline(), 10)) for _ in messages]
    writer.close()
    return replies


HOSTILE = "[@click=app.quit]x[/] \x1b[2J"


async def test_reported_agent_status_events_and_errors_on_screen(
    tmp_path: Path, short_dir: Path
) -> None:
    sock = short_dir / "ingest.sock"
    # Wide enough for the whole event line: the log cuts lines at its width (`…`).
    async with live(tmp_path, sock, size=(200, 40)) as (app, pilot):
        replies = await send(
            sock,
            [
                {"type": "register", "agent": "planner", "kind": "orchestrator"},
                {"type": "heartbeat", "agent": "planner", "status": "thinking",
                 "queue_depth": 7, "task": HOSTILE},
                {"type": "event", "agent": "planner", "level": "warning",
                 "message": "slow tool " + HOSTILE},
                {"type": "error", "agent": "planner", "error_type": "Timeout",
                 "message": "no reply " + HOSTILE},
                {"type": "event", "agent": "planner", "message": "x", "bogus": 1},
            ],
        )  # fmt: skip
        assert [r["ok"] for r in replies] == [True, True, True, True, False]
        t = table(app)
        await wait_until(pilot, lambda: "planner" in t.visible_names, timeout=10, what="row")
        await wait_until(
            pilot, lambda: "thinking" in screen_text(app), timeout=10, what="reported status"
        )
        log = app.screen.query_one(EventLog)
        await wait_until(
            pilot,
            lambda: "slow tool [@click=app.quit]x[/]" in "\n".join(s.text for s in log.lines),
            timeout=10,
            what="the event in the log",
        )
        await wait_until(
            pilot,
            lambda: "5 in" in screen_text(app) and "1 rejected" in screen_text(app),
            timeout=10,
            what="ingest counters in the header",
        )
        await wait_until(
            pilot,
            lambda: (
                app.snapshot is not None
                and any(a.name == "planner" and a.errors == 1 for a in app.snapshot.agents)
            ),
            timeout=10,
            what="one open error",
        )
        # the agent screen: its task (visible text), its open error, `r` resolves it
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent screen")
        await wait_until(
            pilot,
            lambda: "Timeout: no reply [@click=app.quit]x[/] \\x1b[2J" in screen_text(app),
            timeout=10,
            what="the open error listed",
        )
        assert "[@click=app.quit]x[/] \\x1b[2J" in screen_text(app)  # the task
        assert "queue" in screen_text(app) and "7" in screen_text(app)
        await pilot.press("tab")  # focus the error list
        await pilot.press("r")
        await wait_until(
            pilot,
            lambda: (
                app.snapshot is not None
                and any(a.name == "planner" and a.errors == 0 for a in app.snapshot.agents)
            ),
            timeout=10,
            what="the error resolved",
        )
        assert app.is_running
    assert History(tmp_path / "history.db").unresolved_errors("planner") == []


async def test_an_error_and_its_stack_in_full_by_keyboard(tmp_path: Path, short_dir: Path) -> None:
    """Issue 13 items 19 and 20: `enter` on an open error shows it all, with its stack; the
    error's event carries the stack too (the event view shows it)."""
    sock = short_dir / "ingest.sock"
    stack = (
        "Traceback (most recent call last):\n"
        + "".join(f'  File "step{i}.py", line {i}\n' for i in range(30))
        + "KeyError: 'plan'"
    )
    message = "no plan for ticket " + " ".join(f"part{i:02d}" for i in range(40))
    async with live(tmp_path, sock) as (app, pilot):
        await send(sock, [{"type": "error", "agent": "planner", "error_type": "KeyError",
                           "message": message, "stack": stack}])  # fmt: skip
        await wait_until(pilot, lambda: "planner" in table(app).visible_names, timeout=10)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent screen")
        box = app.screen.query_one("#errors", OptionList)
        await wait_until(pilot, lambda: box.option_count == 1, timeout=10, what="the error")
        line = next(ln for ln in screen_text(app).splitlines() if "KeyError: no plan" in ln)
        assert line.rstrip(" │").endswith("…")  # one line, cut, in the list
        box.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen), what="detail")
        assert "part39" in screen_text(app).replace("\n", "")  # the message, wrapped
        await pilot.press("end")  # the pane scrolls to the end of the stack
        await wait_until(pilot, lambda: "KeyError: 'plan'" in screen_text(app), what="stack end")
        assert 'File "step29.py", line 29' in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="back")
        log = app.screen.query_one("#agent-events", EventLog)
        await wait_until(pilot, lambda: len(log.shown_events()) >= 1, timeout=10)
        log.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen), what="events")
        await wait_until(
            pilot, lambda: 'File "step0.py", line 0' in screen_text(app), what="its stack"
        )


async def test_silent_agent_becomes_stale(tmp_path: Path, short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    async with live(tmp_path, sock) as (app, pilot):
        await send(sock, [{"type": "heartbeat", "agent": "worker", "status": "idle"}])
        await wait_until(
            pilot,
            lambda: (
                app.snapshot is not None
                and any(a.name == "worker" and a.status == "idle" for a in app.snapshot.agents)
            ),
            timeout=10,
            what="worker idle",
        )
        await wait_until(
            pilot,
            lambda: (
                app.snapshot is not None
                and any(a.name == "worker" and a.status == "stale" for a in app.snapshot.agents)
            ),
            timeout=10,
            what="worker stale after its 2 s timeout",
        )
        assert "stale" in screen_text(app)


@pytest.mark.slow
async def test_flood_of_50k_events_from_4_clients_loses_nothing_and_keys_still_work(
    tmp_path: Path, short_dir: Path
) -> None:
    sock = short_dir / "ingest.sock"
    per_client = 12_500
    async with live(tmp_path, sock) as (app, pilot):
        procs = [
            subprocess.Popen(
                [sys.executable, str(AGENTS / "flood.py"), str(sock), f"flood{i}", str(per_client)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(4)
        ]
        latencies: list[float] = []
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        try:
            while any(p.poll() is None for p in procs):  # keys while the flood goes on
                # As a terminal would: a Key event posted to the app (Pilot.press would also
                # wait for every widget to go idle, which a flood never lets happen).
                metric = screen.chart_metric
                t0 = time.monotonic()
                app.simulate_key("m")
                while screen.chart_metric == metric and time.monotonic() - t0 < 10:
                    await asyncio.sleep(0.002)
                if any(p.poll() is None for p in procs):
                    latencies.append(time.monotonic() - t0)
                await asyncio.sleep(0.05)
            for p in procs:
                while p.poll() is None:
                    await pilot.pause(0.1)
        finally:
            for p in procs:
                p.kill()
        outputs = [p.communicate()[0].split() for p in procs]
        assert all(o[-3:] == ["DONE", str(per_client), "0"] for o in outputs), outputs
        total = 4 * per_client
        await wait_until(
            pilot,
            lambda: (
                app.snapshot is not None
                and app.snapshot.ingest is not None
                and app.snapshot.ingest.stored == total
            ),
            timeout=30,
            what="everything stored",
        )
        ingest = app.snapshot.ingest if app.snapshot else None
        assert ingest is not None and (ingest.received, ingest.rejected) == (total, 0)
    with History(tmp_path / "history.db")._conn() as conn:
        rows = conn.execute(
            "SELECT agent, count(*), count(DISTINCT message) FROM events "
            "WHERE agent LIKE 'flood%' GROUP BY agent"
        ).fetchall()
    assert sorted(rows) == [(f"flood{i}", per_client, per_client) for i in range(4)]
    print(f"key latencies during the flood (s): {[round(x, 3) for x in latencies]}")
    assert len(latencies) >= 3, "too few key presses landed during the flood"
    assert statistics.median(latencies) < 0.2, latencies


async def test_cost_budget_and_alerts_on_screen(tmp_path: Path, short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    settings = {
        "prices": {"m-cheap": {"input": 1000.0, "output": 2000.0}},
        "budgets": {"daily": 1.0},
    }
    async with live(tmp_path, sock, extra=settings) as (app, pilot):
        replies = await send(
            sock,
            [
                {"type": "usage", "agent": "coder", "model": "m-paid", "input_tokens": 10,
                 "cost_usd": 0.5, "request_id": "a"},
                {"type": "usage", "agent": "coder", "model": "m-paid", "input_tokens": 10,
                 "cost_usd": 0.5, "request_id": "a"},  # the same request again: counted once
                {"type": "usage", "agent": "coder", "model": "m-cheap", "input_tokens": 100,
                 "output_tokens": 100},  # priced from the table: 0.1 + 0.2
                {"type": "heartbeat", "agent": "coder", "status": "busy"},
            ],
        )  # fmt: skip
        assert all(r["ok"] for r in replies)
        await wait_until(
            pilot,
            lambda: (
                app.snapshot is not None
                and app.snapshot.cost is not None
                and app.snapshot.cost.today == pytest.approx(0.8)
            ),
            timeout=10,
            what="today's cost 0.80",
        )
        assert app.snapshot is not None and app.snapshot.cost is not None
        [daily] = app.snapshot.cost.budgets
        assert (daily.name, daily.pct) == ("daily", pytest.approx(80.0))
        [coder] = [a for a in app.snapshot.agents if a.name == "coder"]
        assert coder.cost == pytest.approx(0.8)
        await wait_until(
            pilot, lambda: "budget-80" in str(list(app.alerts)), timeout=10, what="budget alert"
        )

        def coder_row() -> str:
            return next((ln for ln in screen_text(app).splitlines() if " coder " in ln), "")

        # The screen paints a tick a frame after the app has it: wait for the row's cost.
        await wait_until(pilot, lambda: "$0.80" in coder_row(), timeout=10, what="row cost")
        text = screen_text(app)
        assert "Cost $0.80" in text and "daily 80%" in text
        assert "Alerts 1" in text
        log = app.screen.query_one(EventLog)
        await wait_until(
            pilot,
            lambda: "budget daily" in "\n".join(s.text for s in log.lines),
            what="the budget alert in the log",
        )
        # the agent screen: usage by model, this month
        t = table(app)
        for _ in range(t.get_row_index("coder") - t.cursor_row):
            await pilot.press("j")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent screen")
        await wait_until(
            pilot, lambda: "usage this month" in screen_text(app), timeout=10, what="usage"
        )
        lines = screen_text(app).splitlines()
        paid = next(line for line in lines if "m-paid" in line)
        cheap = next(line for line in lines if "m-cheap" in line)
        assert "$0.50" in paid and " 1 " in paid  # one request, not two
        assert "$0.30" in cheap
