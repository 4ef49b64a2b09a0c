"""`t` and `K` for the dashboard and the agent screen: the rules (act/policy.py) first, then
the work in a thread (act/tmux.py, act/signals.py), the answer as a toast or a modal."""

from __future__ import annotations

import asyncio

from textual.screen import Screen

from ... import safe
from ...act import policy, signals, tmux
from ...models import AgentSample
from ..fleet import agent_key
from ..monitor import Monitor, monitor_of


def _refusal(monitor: Monitor, agent: AgentSample | None) -> str | None:
    if agent is not None and agent.host is not None:
        # Its pids are another machine's: signalling or finding them here would hit ours.
        name, host = safe.name(agent.name, 40), safe.name(agent.host, 64)
        return f"{name} runs on {host}: t and K act here only (enter opens {host}'s dashboard)"
    snap = monitor.snapshot
    return policy.refusal(
        agent,
        read_only=monitor.settings.ui.read_only,
        replaying=monitor.replaying,
        mode=monitor.source.mode,
        host=snap.host.hostname if snap is not None else "",
    )


def agent_named(monitor: Monitor, name: str | None) -> AgentSample | None:
    """The agent whose key (`fleet.agent_key`: its name, here) is `name`, on screen."""
    snap = monitor.snapshot
    if snap is None or name is None:
        return None
    return next((a for a in snap.agents if agent_key(a) == name), None)


def go_to_terminal(screen: Screen[None], name: str | None) -> None:
    """`t`: switch to the agent's tmux pane, or show where it is and how to attach."""
    monitor = monitor_of(screen.app)
    agent = agent_named(monitor, name)
    why = _refusal(monitor, agent)
    if why is not None or agent is None:
        screen.notify(why or "no agent selected", severity="warning", markup=False)
        return
    screen.run_worker(_terminal(screen, agent), group="act", exclusive=True, exit_on_error=False)


async def _terminal(screen: Screen[None], agent: AgentSample) -> None:
    from .pane import PaneScreen

    name = safe.name(agent.name, 40)
    pids = [p for p in (agent.pid, *agent.pids) if p is not None]
    try:
        where = await asyncio.to_thread(tmux.go_to, list(dict.fromkeys(pids)))
    except tmux.TmuxError as exc:
        screen.notify(f"{name}: {exc}", severity="error", markup=False)
        return
    if where.switched and where.pane is not None:
        screen.notify(f"{name}: switched to tmux pane {safe.name(where.pane.target)}", timeout=4)
        return
    await screen.app.push_screen(PaneScreen(agent.name, where))


def signal_agent(screen: Screen[None], name: str | None) -> None:
    """`K`: name the process tree, ask which signal, send it to the whole tree, report."""
    monitor = monitor_of(screen.app)
    agent = agent_named(monitor, name)
    why = _refusal(monitor, agent)
    if why is not None or agent is None or agent.pid is None:
        screen.notify(why or "no agent selected", severity="warning", markup=False)
        return
    screen.run_worker(_signal(screen, agent, agent.pid), group="act", exit_on_error=False)


async def _signal(screen: Screen[None], agent: AgentSample, pid: int) -> None:
    from .signal import SignalScreen

    try:
        tree = await asyncio.to_thread(signals.tree_of, pid, agent.create_time)
    except signals.Refused as exc:
        screen.notify(f"{safe.name(agent.name, 40)}: {exc}", severity="error", markup=False)
        return
    choice = await screen.app.push_screen_wait(SignalScreen(agent.name, tree))
    if choice is None:
        return
    outcome = await asyncio.to_thread(signals.send, tree, choice)
    message = f"{safe.name(agent.name, 40)}: {outcome.message(pid, signals.WAIT)}"
    screen.notify(message, severity="information" if outcome.ok else "warning", markup=False)
