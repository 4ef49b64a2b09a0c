"""Agents from process trees: discovery by rules and presets, tree sums, lifecycle events.

Each tick is one scan of the process table (`proctable.scan`). Expensive facts (cmdline, cwd,
user) are read once per process instance, keyed by (pid, start): a reused pid is a new
instance and never inherits the old one's agent. A matched process is an agent root unless its
nearest root ancestor was matched by the same rule; every process belongs to its nearest root
ancestor (or itself), so no process is counted twice across agents. Within a tree, MCP
servers (mcp.py names them, once per instance; mcp_servers.py groups and measures them) get
figures of their own, still counted in the agent's.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psutil

from .. import fmt, safe
from ..config import Settings
from ..models import AgentEvent, AgentSample, AgentStatus, EventLevel
from . import proctable
from .claims import ClaimMatchers, Claims
from .launched import LaunchedMatchers, is_run, launched_name
from .mcp import McpMatcher, is_launcher
from .mcp_servers import agent_servers
from .memory import PssMeter, tree_memory
from .proctable import ProcStat
from .rules import Matcher, ProcFacts, build_matchers

Key = tuple[int, float]
_Data = dict[str, str | int | float | bool | None]
_QUIET = {"running", "idle", "unknown"}  # flapping between these is not an event


@dataclass(slots=True)
class _Proc:
    """A known process instance and the rule it matched when first seen (or exec'd)."""

    comm: bytes
    facts: ProcFacts | None
    match: int | None
    mcp: tuple[str | None, bool] | None = None
    """(MCP server name, whether it only launches another): read once, if in an agent's tree."""
    launched: str | None = None
    """The name `tui-monitor run` gave it (its environment's), over any rule's match."""
    again: bool = False
    """Read it again next tick: `tui-monitor run` before its exec (launched.is_run)."""


@dataclass(slots=True)
class _Agent:
    name: str
    base: str
    matcher: Matcher
    key: Key | None
    create_time: float | None = None
    process: str = ""
    cmdline: str = ""
    cwd: str | None = None
    user: str | None = None
    status: AgentStatus | None = None
    exited_at: float | None = None
    last: AgentSample | None = None
    cpu: dict[Key, float] = field(default_factory=dict)


def _lazy(fn: Callable[[], str | None]) -> Callable[[], str | None]:
    """Read a fact at most once, and only if a rule or the agent sample asks for it."""
    box: list[str | None] = []

    def get() -> str | None:
        if not box:
            try:
                box.append(fn())
            except (psutil.Error, OSError):
                box.append(None)
        return box[0]

    return get


class AgentCollector:
    """Turns process-table scans into AgentSamples and lifecycle AgentEvents."""

    def __init__(
        self,
        settings: Settings,
        scan: Callable[[], dict[int, ProcStat]] = proctable.scan,
        clock: Callable[[], float] = proctable.since_boot,
        pss: PssMeter | bool = True,
        launched: Callable[[int], str | None] = launched_name,
    ) -> None:
        self.settings = settings
        self.pss = PssMeter() if pss is True else pss or None
        """Memory as PSS (within its CPU budget); None: RSS only."""
        self.matchers = build_matchers(settings)
        self.mcp = McpMatcher(settings.mcp) if settings.mcp.enabled else None
        self._scan = scan
        self._clock = clock
        self._boot = proctable.boot_time()
        self._self_pid = os.getpid()
        self._procs: dict[Key, _Proc] = {}
        self._live: dict[Key, _Agent] = {}
        self._gone: dict[str, _Agent] = {}  # exited agents still shown, by name
        self._indices: dict[str, set[int]] = {}
        self._claims = ClaimMatchers(self.matchers)
        self._launched_name = launched
        self._launched = LaunchedMatchers()
        self._named: dict[int, str] = {}
        self._prev_t: float | None = None
        self._first = True

    # -- identification -----------------------------------------------------------------

    def _facts(self, pid: int, st: ProcStat) -> ProcFacts | None:
        try:
            proc = psutil.Process(pid)
            # Both figures from psutil in one breath, so a wall-clock step cancels out.
            if abs(proc.create_time() - psutil.boot_time() - st.start) > 1.0:
                return None  # the pid was reused between the scan and now
        except psutil.Error:
            return None  # vanished mid-tick
        try:
            argv: tuple[str, ...] = tuple(proc.cmdline())
        except psutil.Error:  # AccessDenied, or a zombie with no cmdline
            argv = ()
        return ProcFacts(
            pid=pid,
            name=st.name.decode("utf-8", "backslashreplace"),
            argv=argv,
            cwd=_lazy(proc.cwd),
            user=_lazy(proc.username),
        )

    def _identify(self, pid: int, st: ProcStat, kernel: bool) -> _Proc:
        if kernel or pid == self._self_pid:
            return _Proc(st.name, None, None)
        facts = self._facts(pid, st)
        match = None
        if facts is None:
            return _Proc(st.name, None, None)
        for i, m in enumerate(self.matchers):
            if (m.rule is None or m.rule.pidfile is None) and m.matches(facts):
                match = i
                break
        launched = self._launched_name(pid)
        return _Proc(st.name, facts, match, launched=launched, again=is_run(facts.argv))

    def _matches(self, table: dict[int, ProcStat]) -> dict[int, int]:
        kthreadd = table.get(2)
        has_kthreads = kthreadd is not None and kthreadd.name == b"kthreadd"
        procs: dict[Key, _Proc] = {}
        matched: dict[int, int] = {}
        self._named = {}
        for pid, st in table.items():
            key = (pid, st.start)
            proc = self._procs.get(key)
            if proc is None or proc.comm != st.name or proc.again:  # new, or it exec'd
                kernel = has_kthreads and (pid == 2 or st.ppid == 2)
                proc = self._identify(pid, st, kernel)
            procs[key] = proc
            if proc.match is not None:
                matched[pid] = proc.match
            if proc.launched is not None:
                self._named[pid] = proc.launched
        self._procs = procs
        # Pidfiles can be written or rewritten at any time: check their targets every tick.
        for i, m in enumerate(self.matchers):
            target = m.pidfile_pid()
            if target is None or target not in table:
                continue
            proc = procs[(target, table[target].start)]
            better = matched.get(target, len(self.matchers)) > i
            if better and proc.facts is not None and m.matches(proc.facts, target):
                matched[target] = i
        return matched

    def _mcp_role(self, pid: int, table: dict[int, ProcStat]) -> tuple[str | None, bool]:
        proc = self._procs.get((pid, table[pid].start))
        if proc is None or proc.facts is None or self.mcp is None:
            return None, False  # a kernel thread, us, or MCP servers not looked for
        if proc.mcp is None:
            argv = proc.facts.argv
            proc.mcp = (self.mcp.name(argv, proc.facts.name), is_launcher(argv))
        return proc.mcp

    def _known(self, key: Key) -> bool:
        """Whether this process instance was identified (not a kernel thread, not us)."""
        proc = self._procs.get(key)
        return proc is not None and proc.facts is not None

    @staticmethod
    def _owners(table: dict[int, ProcStat], matched: dict[int, int]) -> dict[int, list[int]]:
        """root pid -> every pid in its tree (root first)."""
        owner: dict[int, int | None] = {}
        for pid in table:
            chain: list[int] = []
            cur = pid
            while cur in table and cur not in owner and len(chain) < 4096:
                chain.append(cur)
                cur = table[cur].ppid
            up = owner.get(cur)
            for p in reversed(chain):
                m = matched.get(p)
                if m is not None and (up is None or matched[up] != m):
                    up = p
                owner[p] = up
        trees: dict[int, list[int]] = {}
        for pid, root in owner.items():
            if root is not None:
                trees.setdefault(root, [root])
                if pid != root:
                    trees[root].append(pid)
        return trees

    # -- one tick -----------------------------------------------------------------------

    def collect(
        self, gpu_memory: dict[int, int] | None = None, claims: Claims | None = None
    ) -> tuple[tuple[AgentSample, ...], tuple[AgentEvent, ...]]:
        """Scan, attribute, sum and diff: the agents now and what changed since last tick.
        `claims` are the pids agents reported (ingest) as their own."""
        t = self._clock()
        now = time.time()
        self._boot = proctable.boot_time()  # follows wall-clock steps
        table = self._scan()
        matched = self._matches(table)
        matchers = self._launched.apply(self.matchers, matched, self._named)
        matchers = self._claims.apply(
            table, self._known, matched, claims or {}, self._boot, matchers, self._launched.names
        )
        trees = self._owners(table, matched)
        events: list[AgentEvent] = []
        roots: dict[Key, tuple[int, Matcher]] = {}
        for root in trees:
            roots[(root, table[root].start)] = (root, matchers[matched[root]])
        if self.pss is not None:
            procs = {(p, table[p].start): table[p].rss for pids in trees.values() for p in pids}
            self.pss.update(procs, t)
        # Exits first, so a replacement seen in the same tick reuses the name and restarts.
        for key, old in list(self._live.items()):
            if key not in roots or roots[key][1] is not old.matcher:  # gone, exec'd, claimed
                agent = self._live.pop(key)
                claimed = key in roots and roots[key][1].source == "ingest"
                if claimed and agent.matcher.source != "ingest":
                    self._indices[agent.base].discard(_index(agent.name))
                    continue  # the process lives on as the agent that claimed it
                self._exit(agent, now, events)
        # Start order decides instance numbers, so name#2 is younger than name.
        for key in sorted(roots, key=lambda k: (k[1], k[0])):
            root, matcher = roots[key]
            agent = self._live.get(key) or self._start(key, matcher, now, events)
            self._live[key] = agent
            self._update(agent, trees[root], table, t, gpu_memory, events, now)
        self._prev_t = t
        self._first = False
        return self._samples(now), tuple(events)

    def _start(self, key: Key, matcher: Matcher, now: float, events: list[AgentEvent]) -> _Agent:
        base = matcher.name
        used = self._indices.setdefault(base, set())
        index = next(i for i in range(1, len(used) + 2) if i not in used)
        used.add(index)
        name = base if index == 1 else f"{base}#{index}"
        proc = self._procs[key]
        facts = proc.facts
        argv = facts.argv if facts else ()
        agent = _Agent(
            name=name,
            base=base,
            matcher=matcher,
            key=key,
            create_time=self._boot + key[1],
            process=safe.name((os.path.basename(argv[0]) if argv else "") or proc.comm),
            cmdline=safe.cmdline(argv),
            cwd=safe.clean(facts.cwd(), 1024) if facts and facts.cwd() else None,
            user=safe.name(facts.user()) if facts and facts.user() else None,
        )
        previous = self._gone.pop(name, None)
        if self._first:
            return agent  # the first tick is the baseline: nothing "started" just now
        pid = key[0]
        down = now - previous.exited_at if previous and previous.exited_at else None
        if previous and down is not None and down <= self.settings.restart_window:
            old_pid = previous.last.pid if previous.last else None
            data: _Data = {"pid": pid, "previous_pid": old_pid, "down_s": round(down, 3)}
            events.append(
                _event(now, name, "restarted", "warning", f"pid {pid} after {down:.1f}s down", data)
            )
        else:
            events.append(_event(now, name, "started", "info", f"pid {pid}", {"pid": pid}))
        return agent

    def _update(
        self,
        agent: _Agent,
        pids: list[int],
        table: dict[int, ProcStat],
        t: float,
        gpu_memory: dict[int, int] | None,
        events: list[AgentEvent],
        now: float,
    ) -> None:
        cpu_now: dict[Key, float] = {}
        spent: dict[int, float | None] = {}
        known = self._prev_t is not None
        for pid in pids:
            st = table[pid]
            key = (pid, st.start)
            cpu_now[key] = st.cpu
            before = agent.cpu.get(key)
            if before is None:
                # Born since the last scan: all its CPU time was spent in this interval.
                if self._prev_t is not None and st.start >= self._prev_t - 0.02:
                    before = 0.0
                else:
                    known = False
                    spent[pid] = None
                    continue
            spent[pid] = max(0.0, st.cpu - before)
        agent.cpu = cpu_now
        elapsed = t - self._prev_t if self._prev_t is not None else 0.0
        used = sum(v for v in spent.values() if v is not None)
        cpu = round(used / elapsed * 100.0, 1) if known and elapsed > 0 else None
        root = table[pids[0]]
        status: AgentStatus
        if root.state == "Z":
            status = "zombie"
        elif root.state in ("T", "t"):
            status = "stopped"
        elif cpu is None:  # a first sample: busy or idle shows only in the next one
            status = "unknown"
        elif cpu >= self.settings.idle_cpu:
            status = "running"
        elif root.state == "D":
            status = "waiting"
        else:
            status = "idle"
        changed = agent.status is not None and status != agent.status
        if changed and not self._first and not {status, agent.status} <= _QUIET:
            level: EventLevel = "warning" if status in ("zombie", "stopped") else "info"
            events.append(
                _event(
                    now,
                    agent.name,
                    "status_changed",
                    level,
                    f"{agent.status} -> {status}",
                    {"from": agent.status, "to": status},
                )
            )
        agent.status = status
        gpu = None if gpu_memory is None else sum(gpu_memory.get(p, 0) for p in pids)
        ram, ram_kind = tree_memory(self.pss, (((p, table[p].start), table[p].rss) for p in pids))
        last = elapsed if self._prev_t is not None else None
        role = functools.partial(self._mcp_role, table=table)
        mcp = (
            agent_servers(pids, table, role, spent, last, self.pss) if self.mcp is not None else ()
        )
        agent.last = AgentSample(
            name=agent.name,
            kind=agent.matcher.kind,
            source=agent.matcher.source,  # type: ignore[arg-type]
            status=status,
            pid=pids[0],
            create_time=agent.create_time,
            process=agent.process,
            cmdline=agent.cmdline,
            cwd=agent.cwd,
            user=agent.user,
            pids=tuple(sorted(pids)),
            parents=tuple(table[p].ppid for p in sorted(pids)),
            procs=len(pids),
            threads=sum(table[p].threads for p in pids),
            cpu_utilization=cpu,
            ram_used=ram,
            ram_kind=ram_kind,
            gpu_memory_used=gpu,
            mcp=mcp,
        )

    def _exit(self, agent: _Agent, now: float, events: list[AgentEvent]) -> None:
        self._indices[agent.base].discard(_index(agent.name))
        uptime = now - agent.create_time if agent.create_time else 0.0
        pid = agent.key[0] if agent.key else None
        events.append(
            _event(
                now,
                agent.name,
                "exited",
                "warning",
                f"pid {pid} after {fmt.duration(uptime)}",
                {"pid": pid, "uptime_s": round(uptime, 1)},
            )
        )
        agent.status = "exited"
        agent.exited_at = now
        agent.key = None
        self._gone[agent.name] = agent

    def _samples(self, now: float) -> tuple[AgentSample, ...]:
        out = [a.last for a in self._live.values() if a.last is not None]
        linger = self.settings.exited_linger
        for name, agent in list(self._gone.items()):
            keep = agent.matcher.source == "config" and name == agent.base
            if not keep and agent.exited_at is not None and now - agent.exited_at > linger:
                del self._gone[name]
                continue
            out.append(_exited_sample(agent))
        live_names = {s.name for s in out}
        for m in self.matchers:  # configured agents are always listed, running or not
            if m.source == "config" and m.name not in live_names:
                out.append(AgentSample(name=m.name, kind=m.kind, source="config", status="exited"))
        return tuple(sorted(out, key=lambda s: s.name))


def _index(name: str) -> int:
    _, sep, num = name.rpartition("#")
    return int(num) if sep and num.isdigit() else 1


def _exited_sample(agent: _Agent) -> AgentSample:
    last = agent.last
    return AgentSample(
        name=agent.name,
        kind=agent.matcher.kind,
        source=agent.matcher.source,  # type: ignore[arg-type]
        status="exited",
        process=agent.process,
        cmdline=agent.cmdline,
        cwd=agent.cwd,
        user=agent.user,
        ram_used=None,
        threads=None,
        cpu_utilization=None,
        gpu_memory_used=None,
        queue_depth=last.queue_depth if last else None,
    )


def _event(
    now: float, agent: str, kind: str, level: EventLevel, message: str, data: _Data
) -> AgentEvent:
    return AgentEvent(
        ts=datetime.fromtimestamp(now, UTC),
        agent=agent,
        kind=kind,
        level=level,
        message=message,
        data=data,
    )
