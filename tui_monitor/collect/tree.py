"""An agent's process tree for the agent screen (read on demand, not every tick), its MCP
servers labelled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import psutil

from .. import safe
from .mcp import McpMatcher, is_launcher
from .mcp_servers import find_servers


@dataclass(frozen=True, slots=True)
class ProcNode:
    pid: int
    depth: int
    name: str
    cmdline: str
    status: str | None
    rss: int | None
    threads: int | None
    mcp: str | None = None
    """On the process that starts an MCP server: the server's name (cleaned)."""


def process_tree(pids: Iterable[int], mcp: McpMatcher | None = None) -> list[ProcNode]:
    """Processes among `pids` in tree order (parents before children); vanished ones skipped.
    With `mcp`, the processes that start MCP servers carry the server's name (the first
    process is taken for the agent's root, never a server)."""
    info: dict[int, tuple[int, psutil.Process]] = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            info[pid] = (proc.ppid(), proc)
        except psutil.Error:
            continue
    children: dict[int | None, list[int]] = {}
    for pid, (ppid, _) in info.items():
        children.setdefault(ppid if ppid in info else None, []).append(pid)
    out: list[ProcNode] = []
    argvs: dict[int, tuple[str, list[str]]] = {}
    stack = [(pid, 0) for pid in sorted(children.get(None, []), reverse=True)]
    while stack:
        pid, depth = stack.pop()
        proc = info[pid][1]
        try:
            with proc.oneshot():
                name, status = proc.name(), proc.status()
                rss, threads = proc.memory_info().rss, proc.num_threads()
                try:
                    argv = proc.cmdline()
                except psutil.AccessDenied:
                    argv = []
        except psutil.Error:
            continue
        argvs[pid] = (name, argv)
        out.append(ProcNode(pid, depth, safe.name(name), safe.cmdline(argv), status, rss, threads))
        stack += [(c, depth + 1) for c in sorted(children.get(pid, []), reverse=True)]
    if mcp is None or len(out) < 2:
        return out
    found = find_servers(
        [n.pid for n in out],
        {pid: ppid for pid, (ppid, _) in info.items()},
        lambda p: mcp.name(argvs[p][1], argvs[p][0]),
        lambda p: is_launcher(argvs[p][1]),
    )
    names = {f.pid: safe.name(f.name, 40) for f in found}
    return [replace(n, mcp=names[n.pid]) if n.pid in names else n for n in out]


def recorded_tree(
    pids: Sequence[int], parents: Sequence[int], names: Mapping[int, str] | None = None
) -> list[ProcNode]:
    """The tree as the history recorded it (pids and their parents, no process to ask): for
    a replayed moment, whose pids may belong to other processes by now. Names are known only
    where given (the agent's root process); without parents every pid is a root."""
    names = names or {}
    known = set(pids)
    links = dict(zip(pids, parents, strict=True)) if len(parents) == len(pids) else {}
    children: dict[int | None, list[int]] = {}
    for pid in pids:
        parent = links.get(pid)
        children.setdefault(parent if parent in known else None, []).append(pid)
    out: list[ProcNode] = []
    stack = [(pid, 0) for pid in sorted(children.get(None, []), reverse=True)]
    while stack:
        pid, depth = stack.pop()
        out.append(ProcNode(pid, depth, names.get(pid, ""), "", None, None, None))
        stack += [(c, depth + 1) for c in sorted(children.get(pid, []), reverse=True)]
    shown = {n.pid for n in out}  # a damaged file's parent loop: still list every pid
    out += [ProcNode(p, 0, names.get(p, ""), "", None, None, None) for p in pids if p not in shown]
    return out
