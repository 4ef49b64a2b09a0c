"""`K` and `t` under Pilot, on real stand-in agents: the confirmation names the tree, cancel
sends nothing, TERM ends the whole tree; read-only, replaying and another host refuse."""

from __future__ import annotations

import socket

import psutil
from factories import CONFIG, agent, host, screen_text, settings, snapshot, wait_until
from textual.pilot import Pilot

from tests.conftest import AgentProcess, SpawnAgent
from tui_monitor.models import AgentSample, Snapshot
from tui_monitor.source import ScriptedSource
from tui_monitor.ui.app import MonitorApp, make_app
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.screens.pane import PaneScreen
from tui_monitor.ui.screens.signal import SignalScreen


def real(name: str, proc: AgentProcess) -> AgentSample:
    """The agent row a recorder would have sampled for this real process."""
    p = psutil.Process(proc.pid)
    pids = (proc.pid, *(c.pid for c in p.children(recursive=True)))
    return agent(name, pid=proc.pid, pids=pids).model_copy(update={"create_time": p.create_time()})


def snap(*agents: AgentSample, hostname: str | None = None) -> Snapshot:
    return snapshot(1, agents, host_sample=host(hostname=hostname or socket.gethostname()))


def app_for(snapshots: list[Snapshot], read_only: bool = False) -> MonitorApp:
    s = settings()
    s = s.model_copy(update={"ui": s.ui.model_copy(update={"read_only": read_only})})
    return make_app(s, ScriptedSource(snapshots), None, config=CONFIG, utc=True)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def toasts(app: MonitorApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def started(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, MonitorApp)
    await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
    await pilot.pause()


async def test_k_names_the_tree_and_escape_sends_nothing(spawn_agent: SpawnAgent) -> None:
    family = spawn_agent("family")
    row = real("fam", family)
    app = app_for([snap(row)])
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, SignalScreen), what="confirm")
        text = screen_text(app)
        assert f"pid {family.pid}" in text and family.tag in text
        assert "children 4" in " ".join(text.split())
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SignalScreen), what="closed")
        # escape only dismisses: signals go out from the confirmation's t/i/k alone
    assert all(alive(p) for p in row.pids)
    assert not [t for t in toasts(app) if "TERM" in t]


async def test_k_then_t_terms_the_whole_tree_children_included(
    spawn_agent: SpawnAgent,
) -> None:
    family = spawn_agent("family")
    row = real("fam", family)
    app = app_for([snap(row)])
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, SignalScreen), what="confirm")
        await pilot.press("t")
        await wait_until(
            pilot, lambda: any("5 ended" in t for t in toasts(app)), timeout=15, what="report"
        )
    assert [t for t in toasts(app) if "TERM to pid" in t]
    assert not any(alive(p) for p in row.pids)


async def test_k_from_the_agent_screen(spawn_agent: SpawnAgent) -> None:
    idle = spawn_agent("idle")
    row = real("solo", idle)
    app = app_for([snap(row)])
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        app.open_agent("solo")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent")
        await pilot.pause()
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, SignalScreen), what="confirm")
        await pilot.press("k")
        await wait_until(pilot, lambda: any("KILL" in t for t in toasts(app)), what="report")
    assert not alive(idle.pid)


async def test_read_only_refuses_both_keys(spawn_agent: SpawnAgent) -> None:
    idle = spawn_agent("idle")
    app = app_for([snap(real("solo", idle))], read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        for key in ("K", "t"):
            await pilot.press(key)
        await wait_until(
            pilot, lambda: sum("read-only" in t for t in toasts(app)) == 2, what="refusals"
        )
        assert not isinstance(app.screen, (SignalScreen, PaneScreen))
    assert alive(idle.pid)


async def test_another_host_and_a_reused_pid_are_refused(spawn_agent: SpawnAgent) -> None:
    idle = spawn_agent("idle")
    row = real("solo", idle)
    reused = row.model_copy(update={"name": "old", "create_time": row.create_time - 3600})  # type: ignore[operator]
    app = app_for([snap(row, reused, hostname="elsewhere")])
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("K")
        await wait_until(pilot, lambda: any("not on this host" in t for t in toasts(app)))
    app = app_for([snap(reused)])
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("K")
        await wait_until(pilot, lambda: any("reused pid" in t for t in toasts(app)))
        assert not isinstance(app.screen, SignalScreen)
    assert alive(idle.pid)


async def test_t_outside_tmux_shows_the_terminal(spawn_agent: SpawnAgent) -> None:
    idle = spawn_agent("idle")  # started with no terminal: not in tmux either
    app = app_for([snap(real("solo", idle))])
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, PaneScreen), what="where")
        text = screen_text(app)
        assert "it does not run inside tmux" in text and "none (no terminal)" in text
        await pilot.press("c")
        await wait_until(pilot, lambda: any("nothing to copy" in t for t in toasts(app)))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, PaneScreen), what="closed")
