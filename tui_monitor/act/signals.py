"""Signalling an agent's whole process tree (`K`), and saying what came of it.

The tree is read once, when the confirmation is asked for (`tree_of`), and those very
processes are signalled (`send`): psutil's `Process` refuses a pid that now belongs to
another process (it checks the start time), so a pid reused meanwhile is never hit.

Children first, deepest first, then the root; never the process group. A group can hold
what is not the agent's (the shell of `sh -c`, the program that started it, this monitor when
it started the agent), and an agent's MCP servers often sit in groups of their own, so the
group is both too much and too little. Signalling the leaves first means no child outlives
its parent running, and a root that restarts its workers is signalled before it can.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

from .. import safe

SAME_START = 1.0
"""Seconds two start times may differ and still be the same process (as collect/agents)."""
SIGNALS = {"TERM": signal.SIGTERM, "INT": signal.SIGINT, "KILL": signal.SIGKILL}
WAIT = 3.0
"""Seconds `send` waits for the processes to end before it reports."""
POLL = 0.05


class Refused(Exception):
    """The tree may not be signalled: the message says why, for a person."""


@dataclass(frozen=True)
class Member:
    """One process of the tree, as read when the confirmation was asked for."""

    proc: psutil.Process
    depth: int
    name: str
    """Cleaned (safe.name): shown in the confirmation."""


@dataclass(frozen=True)
class Tree:
    """The root and every descendant, in tree order (parents before children)."""

    members: tuple[Member, ...]
    command: str
    """The root's command line, cleaned."""

    @property
    def root(self) -> psutil.Process:
        return self.members[0].proc

    @property
    def children(self) -> tuple[Member, ...]:
        return self.members[1:]


@dataclass
class Outcome:
    """What `send` did: pids by what became of them."""

    name: str
    ended: list[int] = field(default_factory=list)
    alive: list[int] = field(default_factory=list)
    denied: list[int] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    """Already gone (exited, a zombie, or the pid reused) before the signal reached it."""

    @property
    def ok(self) -> bool:
        return not self.alive and not self.denied

    def message(self, root: int, waited: float) -> str:
        """One line for the toast."""
        total = len(self.ended) + len(self.alive) + len(self.denied) + len(self.gone)
        head = f"{self.name} to pid {root} and its tree ({total} processes): "
        parts: list[str] = []
        if self.ended:
            parts.append(f"{len(self.ended)} ended")
        if self.gone:
            parts.append(f"{len(self.gone)} already gone")
        if self.alive:
            parts.append(
                f"{len(self.alive)} still running after {waited:g} s ({_pids(self.alive)})"
            )
        if self.denied:
            parts.append(f"permission denied for {len(self.denied)} ({_pids(self.denied)})")
        return head + ", ".join(parts)


def _pids(pids: list[int]) -> str:
    shown = " ".join(map(str, pids[:5]))
    return f"pids {shown}" + (" …" if len(pids) > 5 else "")


def tree_of(pid: int, create_time: float | None) -> Tree:
    """The process `pid` (started at `create_time`, as sampled) and its descendants.

    Raises:
        Refused: it is gone, its pid now belongs to another process, or the tree holds
            pid 1 or this monitor.
    """
    if pid in (0, 1) or pid == os.getpid():
        raise Refused(f"pid {pid} is {'init' if pid in (0, 1) else 'this monitor'}: refused")
    try:
        root = psutil.Process(pid)
        started = root.create_time()
        if create_time is not None and abs(started - create_time) > SAME_START:
            raise Refused(
                f"pid {pid} is another process now (started {time.ctime(started)}, not at "
                f"{time.ctime(create_time)} as sampled): refused"
            )
        below = root.children(recursive=True)
        command = safe.cmdline(_argv(root))
        name = safe.name(root.name())
    except psutil.NoSuchProcess:
        raise Refused(f"pid {pid} has exited") from None
    except psutil.AccessDenied:
        raise Refused(f"pid {pid}: permission denied reading it") from None
    ours = {os.getpid(), 1}
    if ours & {p.pid for p in below}:
        raise Refused(f"the tree of pid {pid} holds this monitor (pid {os.getpid()}): refused")
    return Tree(_ordered(root, name, below), command)


def _argv(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.AccessDenied:
        return []


def _ordered(root: psutil.Process, name: str, below: list[psutil.Process]) -> tuple[Member, ...]:
    kids: dict[int, list[psutil.Process]] = {}
    for proc in below:
        try:
            kids.setdefault(proc.ppid(), []).append(proc)
        except psutil.Error:
            continue
    out: list[Member] = []
    stack = [(root, 0, name)]
    while stack:
        proc, depth, label = stack.pop()
        out.append(Member(proc, depth, label))
        for child in sorted(kids.get(proc.pid, []), key=lambda p: p.pid, reverse=True):
            stack.append((child, depth + 1, safe.name(_name(child))))
    return tuple(out)


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return "?"


def _ended(proc: psutil.Process) -> bool:
    """Ended: gone, its pid reused, or a zombie (it runs no more; its parent reaps it)."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def send(
    tree: Tree,
    name: str,
    wait: float = WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Send SIGNALS[name] to every process of `tree`, deepest first, then wait up to `wait`
    seconds for them to end.

    Args:
        tree: what `tree_of` read when the confirmation was asked for.
        name: TERM, INT or KILL.
        wait: seconds to wait for the signalled processes to end.
        sleep: how to wait between looks (tests may pass their own).

    Returns:
        Each pid sorted by what became of it: ended, still running, denied, already gone.
    """
    sig = SIGNALS[name]
    outcome = Outcome(name)
    sent: list[psutil.Process] = []
    for member in sorted(tree.members, key=lambda m: -m.depth):
        proc = member.proc
        if proc.pid in (0, 1, os.getpid()):
            continue  # tree_of refused these already; never, whatever changed since
        if _ended(proc):  # exited since (a zombie too: its parent has yet to reap it)
            outcome.gone.append(proc.pid)
            continue
        try:
            proc.send_signal(sig)  # psutil checks first that the pid is still this process
        except psutil.NoSuchProcess:
            outcome.gone.append(proc.pid)
            continue
        except psutil.AccessDenied:
            outcome.denied.append(proc.pid)
            continue
        sent.append(proc)
    deadline = time.monotonic() + wait
    while True:
        running = [p for p in sent if not _ended(p)]
        if not running or time.monotonic() >= deadline:
            break
        sleep(POLL)
    outcome.alive = sorted(p.pid for p in running)
    outcome.ended = sorted(p.pid for p in sent if p.pid not in outcome.alive)
    return outcome
