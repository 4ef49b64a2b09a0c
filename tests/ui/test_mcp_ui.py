"""MCP servers on screen: the row's MCP column and the agent screen's servers and tree, for
a real agent with real server children (tests/agents/with_servers.py), live and attached."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import agent, running, screen_text, snapshot, step, table, wait_until
from recorders import start_recorder, write_config
from textual.pilot import Pilot

from tui_monitor.config import (
    AgentRule,
    GpuSettings,
    IngestSettings,
    PresetSettings,
    Settings,
    StoreSettings,
    load_settings,
)
from tui_monitor.models import McpServer
from tui_monitor.source import AttachedSource, LiveSource, choose_source
from tui_monitor.store.queries import History
from tui_monitor.ui.app import MonitorApp, make_app
from tui_monitor.ui.screens.agent import AgentScreen

if TYPE_CHECKING:
    from conftest import SpawnAgent

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")
MiB = 1024 * 1024


def rule(tag: str) -> AgentRule:
    return AgentRule(name="host", cmdline=rf"--tag {re.escape(tag)}(\s|$)")


@asynccontextmanager
async def live(
    tmp_path: Path, sock: Path, tag: str, size: tuple[int, int] = (120, 40)
) -> AsyncIterator[tuple[MonitorApp, Pilot[None]]]:
    """The dashboard recording itself (live), its one agent rule matching `tag`."""
    db = tmp_path / "history.db"
    settings = Settings(
        interval=0.5,
        agents=[rule(tag)],
        gpu=GpuSettings(enabled=False),
        presets=PresetSettings(enabled=False),
        store=StoreSettings(path=db, flush_interval=0.2),
        ingest=IngestSettings(socket=sock),
    )
    app = make_app(settings, LiveSource(settings, db), History(db), utc=True)
    async with app.run_test(size=size) as pilot:
        yield app, pilot
        await pilot.press("q")


def line_of(text: str, needle: str) -> str:
    found = [ln for ln in text.splitlines() if needle in ln]
    assert found, f"{needle!r} not on screen:\n{text}"
    return found[0]


async def open_host(app: MonitorApp, pilot: Pilot[None]) -> None:
    t = table(app)
    await wait_until(pilot, lambda: "host" in t.visible_names, 15, "the agent's row")
    for _ in range(t.visible_names.index("host")):
        await pilot.press("j")
    await wait_until(pilot, lambda: t.selected == "host", 5, "host selected")
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), 5, "the agent screen")


async def test_live_the_row_counts_the_servers_and_the_screen_labels_them(
    tmp_path: Path, short_dir: Path, spawn_agent: SpawnAgent
) -> None:
    host = spawn_agent("with_servers", "--busy", "--mib", "64")
    fake, sh, chain, plain = (int(p) for p in host.ready_fields[2:6])
    # 60 rows: the agent screen's left pane holds details, the command (wrapped: four lines in
    # a clone under /tmp/tmp.XXXXXXXXXX/p), the servers and the tree; at 40 rows the tree's
    # last line fell below the pane in CI.
    sock = short_dir / "ingest.sock"
    async with live(tmp_path, sock, host.tag, size=(120, 60)) as (app, pilot):
        t = table(app)
        await wait_until(pilot, lambda: " MCP " in screen_text(app), 15, "the MCP column")
        await wait_until(
            pilot, lambda: re.search(r" host .* 2 ", line_of(screen_text(app), " host ")), 15
        )
        assert t.visible_names == ["host"]
        await open_host(app, pilot)
        await wait_until(pilot, lambda: "MCP servers (2)" in screen_text(app), 15, "servers")

        # its own CPU (the busy one) and memory (PSS of the 64 MiB it holds), as measured live
        busy = re.compile(rf"fake\s+{fake}\s+1\s+([1-9]\d|1\d\d)\.\d%\s+([\d.]+) MiB")
        await wait_until(pilot, lambda: busy.search(screen_text(app)), 15, "the busy server")
        text = screen_text(app)
        found = busy.search(text)
        assert found is not None and float(found.group(2)) >= 60
        assert re.search(rf"chain\s+{sh}\s+2\s+\d+\.\d%", text), text
        # the tree labels each server where it starts: sh for the chain, not its python (the
        # tree loads in a worker of its own: wait for it)
        labels = (rf"{fake}\s+└ python mcp:fake ", rf"{sh}\s+└ sh mcp:chain ",
                  rf"{chain}\s+└ mcp-server-chain ")  # fmt: skip
        try:
            await wait_until(
                pilot, lambda: all(re.search(p, screen_text(app)) for p in labels), 15, "the tree"
            )
        except AssertionError:  # say what the screen showed instead
            missing = [p for p in labels if not re.search(p, screen_text(app))]
            raise AssertionError(f"no {missing} on the screen:\n{screen_text(app)}") from None
        text = screen_text(app)
        assert re.search(rf"{fake}\s+└ python mcp:fake ", text), text
        assert re.search(rf"{sh}\s+└ sh mcp:chain ", text), text
        assert re.search(rf"{chain}\s+└ mcp-server-chain ", text), text
        assert text.count("mcp:") == 2 and str(plain) in text
        assert "summed from the processes now" not in text  # the recorder's own figures


async def test_live_a_hostile_server_name_is_shown_escaped(
    tmp_path: Path, short_dir: Path, spawn_agent: SpawnAgent
) -> None:
    host = spawn_agent("with_servers", "--name", "mcp-server-[bold]x\x1b[2J\u202e[red]")
    sock = short_dir / "ingest.sock"
    async with live(tmp_path, sock, host.tag, size=(120, 60)) as (app, pilot):
        await open_host(app, pilot)
        await wait_until(pilot, lambda: "MCP servers (2)" in screen_text(app), 15, "servers")
        await wait_until(pilot, lambda: "mcp:chain" in screen_text(app), 15, "the tree")
        text = screen_text(app)
        # markup literal, controls escaped (the column cuts the rest with `…`)
        pid = host.ready_fields[2]
        assert re.search(rf"\[bold\]x\\x1b\S*\s+{pid}\s+1 ", text), text
        assert "mcp:[bold]x" in text
        assert "mcp-server-[bold]x\\x1b[2J\\u202e[red]" in text  # the command line, in full
        for raw in ("\x1b", "\u202e"):
            assert raw not in text and raw not in app.export_screenshot()
        await pilot.click(offset=(10, 20))
        assert app.is_running


async def test_attached_the_tree_labels_the_servers_it_reads(
    tmp_path: Path, short_dir: Path, spawn_agent: SpawnAgent
) -> None:
    """Attached, the history has no MCP figures: the screen reads the processes itself."""
    host = spawn_agent("with_servers", "--mib", "32")
    fake, sh = (int(p) for p in host.ready_fields[2:4])
    sock = short_dir / "ingest.sock"
    config = Path(os.environ["TUI_MONITOR_CONFIG"])
    agents = f'[[agents]]\nname = "host"\ncmdline = "--tag {host.tag}(\\\\s|$)"\n'
    write_config(config, sock, interval=0.2, extra=agents)
    settings = load_settings(config)
    db = tmp_path / "history.db"
    rec = start_recorder(db, sock, tmp_path / "recorder.log")
    try:
        app = make_app(settings, choose_source(settings, db), History(db), utc=True)
        async with app.run_test(size=(120, 60)) as pilot:
            assert isinstance(app.source, AttachedSource)
            await open_host(app, pilot)
            await wait_until(pilot, lambda: "MCP servers (2)" in screen_text(app), 15, "servers")
            text = screen_text(app)
            assert "summed from the processes now" in text
            row = re.search(rf"fake\s+{fake}\s+1\s+-\s+([\d.]+) MiB", text)  # no CPU
            assert row is not None and float(row.group(1)) >= 30, text
            assert re.search(rf"{sh}\s+└ sh mcp:chain ", text), text
            await pilot.press("escape")
            assert " MCP " not in screen_text(app)  # the row has no count: not recorded
            await pilot.press("q")
    finally:
        assert rec.stop() == 0, rec.stderr_text()


def servers(*names: str) -> tuple[McpServer, ...]:
    return tuple(McpServer(name=n, pid=9000 + i) for i, n in enumerate(names))


async def test_the_mcp_column_comes_with_the_first_server_fits_at_80_columns_and_sorts() -> None:
    fleet = [
        agent("claude", cpu=3.0).model_copy(update={"cost": 1.5}),
        agent("codex", cpu=2.0, pid=4200).model_copy(update={"cost": 0.25}),
        agent("claude#2", cpu=1.0, pid=4300),
    ]
    mcp = {"claude": servers("git", "filesystem"), "claude#2": servers("fetch")}
    later = [a.model_copy(update={"mcp": mcp.get(a.name, ())}) for a in fleet]
    async with running([snapshot(1, fleet), snapshot(2, later)], size=(80, 24)) as (
        app,
        source,
        pilot,
    ):
        # no agent has a server yet: no column of `-` (which would say "none" where the
        # history, attached or replaying, simply keeps no servers)
        assert " MCP " not in line_of(screen_text(app), "NAME")
        await step(pilot, source)
        await wait_until(pilot, lambda: " MCP " in line_of(screen_text(app), "NAME"))
        text = screen_text(app)
        assert "COST" in line_of(text, "NAME")
        assert re.search(r"claude .* 2 ", line_of(text, "claude ")), text
        assert re.search(r"codex .* - ", line_of(text, "codex ")), text
        t = table(app)
        for _ in range(20):  # `>`: sort by the next column, until it is MCP's
            if t.sort_key == "mcp":
                break
            await pilot.press("greater_than_sign")
        assert t.sort_key == "mcp"
        counts = {"claude": 2, "claude#2": 1, "codex": 0}
        await wait_until(
            pilot, lambda: [counts[n] for n in t.visible_names] in ([2, 1, 0], [0, 1, 2])
        )
