"""Usage with no price never looks cheap: every total that leaves some out is marked `≥`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from factories import screen_text, table, wait_until

from tui_monitor.config import GpuSettings, IngestSettings, PresetSettings, Settings, StoreSettings
from tui_monitor.source import LiveSource
from tui_monitor.store.queries import History
from tui_monitor.ui.app import make_app
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.widgets.cards import Card


async def send(sock: Path, messages: list[dict[str, object]]) -> None:
    reader, writer = await asyncio.open_unix_connection(str(sock))
    for m in messages:
        writer.write(json.dumps({"v": 1, **m}).encode() + b"\n")
    await writer.drain()
    replies = [json.loads(await asyncio.wait_for(reader.readline(), 10)) for _ in messages]
    writer.close()
    assert all(r["ok"] for r in replies), replies


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
async def test_totals_with_unpriced_usage_are_marked(
    tmp_path: Path, short_dir: Path, size: tuple[int, int]
) -> None:
    sock = short_dir / "ingest.sock"
    db = tmp_path / "history.db"
    settings = Settings(
        interval=0.5,
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.2),
        ingest=IngestSettings(socket=sock),
        prices={"m-priced": {"input": 100.0, "output": 100.0}},  # type: ignore[arg-type]
    )
    app = make_app(settings, LiveSource(settings, db), History(db), utc=True)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: sock.exists(), timeout=10, what="the ingest socket")
        await send(
            sock,
            [
                {"type": "usage", "agent": "coder", "model": "m-priced", "input_tokens": 100},
                {"type": "usage", "agent": "coder", "model": "m-mystery", "input_tokens": 50_000},
                {"type": "usage", "agent": "coder", "model": "m-mystery", "input_tokens": 9},
            ],
        )

        def row() -> str:
            return next((ln for ln in screen_text(app).splitlines() if " coder " in ln), "")

        await wait_until(pilot, lambda: "Cost ≥$0.01" in screen_text(app), 10, "the card")
        card = app.screen.query_one("#card-cost", Card)
        assert card.tooltip is not None and "2 usage records today" in str(card.tooltip)
        if size[0] >= 100:  # the COST column (narrower terminals drop it)
            await wait_until(pilot, lambda: "≥$0.01" in row(), 10, "the row's COST")
        # the agent screen: usage by model, never re-priced, unpriced said
        t = table(app)
        for _ in range(t.get_row_index("coder") - t.cursor_row):
            await pilot.press("j")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent screen")
        await wait_until(pilot, lambda: "m-mystery" in screen_text(app), 10, "usage by model")
        lines = screen_text(app).splitlines()
        assert "no price" in next(ln for ln in lines if "m-mystery" in ln)
        assert "$0.01" in next(ln for ln in lines if "m-priced" in ln)
        await pilot.press("escape")
        await pilot.press("q")
