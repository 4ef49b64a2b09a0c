"""An agent's process tree for the agent screen (read on demand, not every tick)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import psutil

from .. import safe


@dataclass(frozen=True, slots=True)
class ProcNode:
    pid: int
    depth: int
    name: str
    cmdline: str
    status: str | None
    rss: int | None
    threads: int | None


def process_tree(pids: Iterable[int]) -> list[ProcNode]:
    """Processes among `pids` in tree order (parents before children); vanished ones skipped."""
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
    stack = [(pid, 0) for pid in sorted(children.get(None, []), reverse=True)]
    while stack:
        pid, depth = stack.pop()
        proc = info[pid][1]
        try:
            with proc.oneshot():
                name, status = proc.name(), proc.status()
                rss, threads = proc.memory_info().rss, proc.num_threads()
                try:
                    cmd = safe.cmdline(proc.cmdline())
                except psutil.AccessDenied:
                    cmd = ""
        except psutil.Error:
            continue
        out.append(ProcNode(pid, depth, safe.name(name), cmd, status, rss, threads))
        stack += [(c, depth + 1) for c in sorted(children.get(pid, []), reverse=True)]
    return out


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
