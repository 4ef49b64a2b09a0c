"""An agent's MCP servers: the subtrees of its process tree that are servers, and their use.

A server is the topmost process of the agent's tree (the agent's root never counts) whose
command line `mcp.McpMatcher` recognises, widened to the launchers right above it that start
nothing else (`npm exec` -> `sh -c` -> `node`: the chain is one server), with every process
below it. Its processes stay the agent's too: the agent's figures already hold them.

A server run in a container (`docker run ... mcp/fetch`) works inside the container, which
the container runtime starts, not the agent: its figures are the `docker` client's only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .. import safe
from ..models import McpServer
from .memory import PssMeter, tree_memory
from .proctable import ProcStat


@dataclass(frozen=True, slots=True)
class Found:
    """One server: the process that starts it, its name (raw), and its processes."""

    pid: int
    name: str
    members: tuple[int, ...]
    """Its processes, `pid` first."""


def find_servers(
    pids: Sequence[int],
    parent: Mapping[int, int],
    name_of: Callable[[int], str | None],
    launcher: Callable[[int], bool],
) -> list[Found]:
    """The MCP servers in one agent's tree, in tree order.

    Args:
        pids: the tree, its root first.
        parent: pid -> parent pid, for every pid of the tree but the root.
        name_of: a process's server name, or None; asked only until a server is found on
            each branch (what is below a server is part of it).
        launcher: whether a process only launches another (a shell, `npx`, `uv`).
    """
    if not pids:
        return []
    root = pids[0]
    inside = set(pids)
    children: dict[int, list[int]] = {}
    for pid in pids[1:]:
        up = parent.get(pid, root)
        children.setdefault(up if up in inside and up != pid else root, []).append(pid)
    for kids in children.values():
        kids.sort()

    def below(top: int) -> tuple[int, ...]:
        out, stack = [top], list(reversed(children.get(top, [])))
        while stack:
            pid = stack.pop()
            out.append(pid)
            stack += reversed(children.get(pid, []))
        return tuple(out)

    found: list[Found] = []
    stack = list(reversed(children.get(root, [])))
    seen = {root}
    while stack:
        pid = stack.pop()
        if pid in seen:  # a damaged parent map: never loop
            continue
        seen.add(pid)
        name = name_of(pid)
        if name is None:
            stack += reversed(children.get(pid, []))
            continue
        top = pid
        while True:
            up = parent.get(top, root)
            if up == root or up not in inside or len(children.get(up, [])) != 1:
                break
            if not launcher(up):
                break
            top = up
        found.append(Found(top, name, below(top)))
    return found


def agent_servers(
    pids: Sequence[int],
    table: Mapping[int, ProcStat],
    role: Callable[[int], tuple[str | None, bool]],
    spent: Mapping[int, float | None],
    elapsed: float | None,
    pss: PssMeter | None,
) -> tuple[McpServer, ...]:
    """One agent's servers this tick: `find_servers` over its tree, then `measure`; `role`
    is a process's (server name, whether it is a launcher)."""
    if len(pids) < 2:
        return ()
    parents = {p: table[p].ppid for p in pids}
    found = find_servers(pids, parents, lambda p: role(p)[0], lambda p: role(p)[1])
    # A server whose processes have all ended is gone, even while its parent has not yet
    # reaped them (zombies keep their pids).
    running = [f for f in found if any(table[p].state != "Z" for p in f.members)]
    return measure(running, table, spent, elapsed, pss)


def measure(
    found: Iterable[Found],
    table: Mapping[int, ProcStat],
    spent: Mapping[int, float | None],
    elapsed: float | None,
    pss: PssMeter | None,
) -> tuple[McpServer, ...]:
    """Each server's CPU and memory this tick, as the agent's are measured.

    Args:
        found: the servers (`find_servers`).
        table: this tick's scan.
        spent: pid -> CPU seconds it used since the last tick (None: not known).
        elapsed: seconds since the last tick (None on the first).
        pss: the agent collector's PSS meter, or None for RSS.
    """
    out: list[McpServer] = []
    for f in found:
        used = [spent.get(p) for p in f.members]
        cpu = None
        if elapsed and all(u is not None for u in used):
            cpu = round(sum(u for u in used if u is not None) / elapsed * 100.0, 1)
        ram, kind = tree_memory(pss, (((p, table[p].start), table[p].rss) for p in f.members))
        out.append(
            McpServer(
                name=safe.name(f.name, 40),
                pid=f.pid,
                procs=len(f.members),
                cpu_utilization=cpu,
                ram_used=ram,
                ram_kind=kind,
            )
        )
    return tuple(out)
