"""Who may act on an agent, and why not: one place for the rules of `t` and `K`.

- Replaying history never acts: the pids on screen are of another moment.
- `--read-only` (or `[ui] read_only`) turns every action off, as nvitop's `--readonly` does.
- An attached viewer (another process records) acts only on its own processes on its own
  host: same uid as ours, and the snapshot's hostname is ours. A live dashboard recorded the
  processes itself; the kernel decides (permission denied is reported).
- A pid whose start time differs from the sampled one is another process: refused.
"""

from __future__ import annotations

import os
import socket

import psutil

from ..models import AgentSample
from .signals import SAME_START

READ_ONLY = "read-only: actions are off (--read-only or [ui] read_only)"


def refusal(
    agent: AgentSample | None,
    *,
    read_only: bool,
    replaying: bool,
    mode: str,
    host: str,
) -> str | None:
    """Why `agent` may not be acted on from this viewer, or None when it may.

    Args:
        agent: the agent as the snapshot on screen has it (None: not in it).
        read_only: the dashboard's read-only switch.
        replaying: a moment of the history is on screen.
        mode: the source's mode (live, attached, scripted).
        host: the hostname the snapshot was taken on.
    """
    if replaying:
        return "replaying history: actions act on live agents only (escape goes live)"
    if read_only:
        return READ_ONLY
    if agent is None:
        return "no agent selected"
    name = agent.name
    if agent.pid is None or agent.status == "exited":
        why = "has exited" if agent.status == "exited" else "has no process of its own"
        return f"{name} {why}: nothing to act on"
    if host != socket.gethostname():
        return f"{name} runs on {host}, not on this host: act there"
    try:
        proc = psutil.Process(agent.pid)
        started, uids = proc.create_time(), proc.uids()
    except psutil.NoSuchProcess:
        return f"{name}: pid {agent.pid} has exited"
    except psutil.Error as exc:
        return f"{name}: pid {agent.pid} cannot be read ({type(exc).__name__})"
    if agent.create_time is not None and abs(started - agent.create_time) > SAME_START:
        return f"{name}: pid {agent.pid} is another process now (a reused pid): refused"
    if mode != "live" and uids.real != os.getuid():
        return (
            f"{name}: pid {agent.pid} is another user's; an attached viewer acts only on "
            "its own processes"
        )
    return None
