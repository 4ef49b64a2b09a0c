"""Time travel: a recorded tick replays as it was shown live, through the same rendering.

Real parts throughout: a live in-process recorder writing a real SQLite file, real agent
processes, events, errors and usage sent over the real ingest socket.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from factories import screen_text, table, wait_until
from textual.pilot import Pilot

from tui_monitor.config import (
    AgentRule,
    GpuSettings,
    IngestSettings,
    PresetSettings,
    Settings,
    StoreSettings,
)
from tui_monitor.cost.prices import ModelPrice, PriceTable
from tui_monitor.models import Snapshot
from tui_monitor.source import LiveSource, ScriptedSource
from tui_monitor.store.frames import find_tick
from tui_monitor.store.queries import History
from tui_monitor.store.rows import to_ms
from tui_monitor.ui.app import MonitorApp, make_app
from tui_monitor.ui.screens.dashboard import DashboardScreen
from tui_monitor.ui.screens.goto import GotoScreen
from tui_monitor.ui.widgets.event_log import EventLog

Rows = list[tuple[str, ...]]


def rule(name: str, tag: str, kind: str) -> AgentRule:
    return AgentRule(name=name, kind=kind, cmdline=rf"--tag {re.escape(tag)}(\s|$)")


@asynccontextmanager
async def recording(
    tmp_path: Path, sock: Path, rules: list[AgentRule], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[MonitorApp, Pilot[None], dict[int, Rows]]]:
    """The live dashboard recording to a real file; yields the rows it showed per tick."""
    db = tmp_path / "history.db"
    settings = Settings(
        interval=0.4,
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.1),
        ingest=IngestSettings(socket=sock),
        agents=rules,
        prices=PriceTable({"m-1": ModelPrice(input=3.0, output=15.0)}),
    )
    shown: dict[int, Rows] = {}
    original = DashboardScreen.render_snapshot

    def render_and_remember(self: DashboardScreen, snap: Snapshot) -> None:
        original(self, snap)
        if not self.monitor.replaying:
            shown[to_ms(snap.ts)] = self.query_one("#agents").rendered_rows()  # type: ignore[attr-defined]

    monkeypatch.setattr(DashboardScreen, "render_snapshot", render_and_remember)
    app = make_app(settings, LiveSource(settings, db), History(db), utc=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: sock.exists(), timeout=10, what="the ingest socket")
        yield app, pilot, shown
        await pilot.press("q")


async def send(sock: Path, messages: list[dict[str, Any]]) -> None:
    reader, writer = await asyncio.open_unix_connection(str(sock))
    for m in messages:
        writer.write(json.dumps({"v": 1, **m}).encode() + b"\n")
    await writer.drain()
    for _ in messages:
        reply = json.loads(await asyncio.wait_for(reader.readline(), 10))
        assert reply["ok"], reply
    writer.close()


async def ticks(pilot: Pilot[None], app: MonitorApp, n: int) -> None:
    """Let `n` more live ticks arrive."""
    assert app.live.snapshot is not None
    target = app.live.snapshot.seq + n
    await wait_until(
        pilot,
        lambda: app.live.snapshot is not None and app.live.snapshot.seq >= target,
        timeout=20,
        what=f"{n} more ticks",
    )


def header(app: MonitorApp) -> str:
    return screen_text(app).splitlines()[0]


async def test_a_replayed_tick_shows_exactly_the_rows_shown_live(
    tmp_path: Path, short_dir: Path, spawn_agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    idle, busy = spawn_agent("idle"), spawn_agent("busy")
    rules = [rule("coder", idle.tag, "coding"), rule("indexer", busy.tag, "worker")]
    sock = short_dir / "ingest.sock"
    async with recording(tmp_path, sock, rules, monkeypatch) as (app, pilot, shown):
        await wait_until(pilot, lambda: len(table(app).visible_names) == 2, timeout=15)
        # Something different in each tick: events, an error, usage with a cost, a status.
        for i in range(6):
            await send(
                sock,
                [
                    {"type": "event", "agent": "coder", "message": f"step {i}"},
                    {"type": "heartbeat", "agent": "coder", "status": f"phase-{i}",
                     "queue_depth": i},
                    {"type": "usage", "agent": "indexer", "model": "m-1",
                     "input_tokens": 1000 * (i + 1), "output_tokens": 100},
                ]
                + ([{"type": "error", "agent": "coder", "error_type": "Boom",
                     "message": "it broke"}] if i == 2 else []),
            )  # fmt: skip
            await ticks(pilot, app, 1)
        await ticks(pilot, app, 3)  # the recorder has committed everything since
        db = tmp_path / "history.db"
        assert app.live.snapshot is not None
        # Every tick shown live after the agents appeared, which the history has too.
        recorded = [ms for ms in sorted(shown) if len(shown[ms]) == 2]
        recorded = [ms for ms in recorded if find_tick(db, ms / 1000) is not None]
        assert len(recorded) >= 6
        target = recorded[len(recorded) // 2]

        await pilot.press("h")
        await wait_until(pilot, lambda: app.replaying, what="replay")
        assert "REPLAY" in header(app)
        # Step back with `[` until the target tick is on screen, the way a person would.
        for _ in range(60):
            snap = app.snapshot
            assert snap is not None
            if to_ms(snap.ts) <= target:
                break
            before = app.replay_tick
            await pilot.press("left_square_bracket")
            await wait_until(pilot, lambda b=before: app.replay_tick != b, what="a step back")
        assert app.snapshot is not None and to_ms(app.snapshot.ts) == target
        await pilot.pause()
        assert table(app).rendered_rows() == shown[target]
        # The header shows the moment; the log ends with the moment's own events.
        stamp = datetime.fromtimestamp(target / 1000, UTC)
        assert f"{stamp:%H:%M:%S}" in header(app)
        lines = [s.text for s in app.screen.query_one(EventLog).lines]
        later = {f"step {i}" for i in range(6)} - {e.message for _, e in app.events}
        assert later, "the target should lie before the last event"
        assert not any(m in line for m in later for line in lines)

        # The recorder keeps writing behind the replay, and the screen stays put.
        seq = app.live.snapshot.seq
        await ticks(pilot, app, 2)
        assert app.live.snapshot.seq >= seq + 2
        assert to_ms(app.snapshot.ts) == target

        # `]` steps forward to the next recorded tick, which again matches what was live.
        await pilot.press("right_square_bracket")
        nxt = recorded[recorded.index(target) + 1]
        await wait_until(pilot, lambda: app.snapshot is not None and to_ms(app.snapshot.ts) == nxt)
        await pilot.pause()
        assert table(app).rendered_rows() == shown[nxt]

        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.replaying, what="live again")
        assert "LIVE" in header(app)


async def test_e_jumps_to_the_next_error_and_g_to_a_typed_time(
    tmp_path: Path, short_dir: Path, spawn_agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    idle = spawn_agent("idle")
    sock = short_dir / "ingest.sock"
    async with recording(tmp_path, sock, [rule("coder", idle.tag, "coding")], monkeypatch) as (
        app,
        pilot,
        _shown,
    ):
        await wait_until(pilot, lambda: len(table(app).visible_names) == 1, timeout=15)
        await ticks(pilot, app, 3)
        assert app.live.snapshot is not None
        start = app.live.snapshot.ts
        await send(sock, [{"type": "error", "agent": "coder", "error_type": "E", "message": "x"}])
        await ticks(pilot, app, 4)

        # `g` with a bad time keeps the prompt open and says why; a good one goes there.
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, GotoScreen))
        await pilot.press(*"half past", "enter")
        await pilot.pause()
        assert isinstance(app.screen, GotoScreen)
        assert "half past" in screen_text(app)
        box = app.screen.query_one("#goto-input")
        box.value = f"{start.astimezone():%Y-%m-%d %H:%M:%S}"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.replaying, what="replay at the typed time")
        assert app.snapshot is not None and app.snapshot.ts <= start
        assert all(a.errors == 0 for a in app.snapshot.agents)

        await pilot.press("e")
        await wait_until(
            pilot,
            lambda: app.snapshot is not None and app.snapshot.agents[0].errors == 1,
            what="the tick showing the error",
        )
        # The first tick that shows it: the one before it does not.
        assert app.replay_tick is not None
        before = History(tmp_path / "history.db").tick(app.replay_tick - 1)
        assert before is not None and before.agents[0].errors == 0
        await pilot.press("h")  # `h` again: live
        await wait_until(pilot, lambda: not app.replaying)


async def test_replay_without_history_says_so() -> None:
    app = make_app(Settings(presets=PresetSettings(enabled=False)), ScriptedSource([]), utc=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.replay_at(0.0)
        await pilot.pause()
        assert not app.replaying
        assert "no history to travel through" in str([n.message for n in app._notifications])
