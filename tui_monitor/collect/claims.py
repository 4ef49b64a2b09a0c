"""Processes agents say are theirs (the ingest `pid`): made those agents' roots.

Like a pidfile rule, a claim names one process; it and its tree become the agent, over any
rule's or preset's match of that process. Two checks keep a claim honest: a process that
started after the pid was first reported has reused the pid (it is not the agent), and a name
a rule or preset gives stays theirs (reports under it join that row, as before).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .proctable import ProcStat
from .rules import Matcher

Claims = dict[str, tuple[int, float]]
"""Agent name -> (pid, epoch s when that pid was first reported)."""
SLACK = 2.0
"""Seconds a claimed process may seem to start after its claim (boot time is known to the
second only)."""


def base_name(name: str) -> str:
    """`planner` of `planner#2`: the rule or preset an instance name comes from."""
    base, sep, num = name.rpartition("#")
    return base if sep and num.isdigit() else name


class ClaimMatchers:
    """One Matcher per claiming agent, kept while it claims (an agent's identity is its
    matcher: a new one each tick would make it exit and start again)."""

    def __init__(self, matchers: list[Matcher]) -> None:
        self.matchers = matchers
        self._reserved = {m.name for m in matchers}
        self._own: dict[str, Matcher] = {}

    def apply(
        self,
        table: Mapping[int, ProcStat],
        known: Callable[[tuple[int, float]], bool],
        matched: dict[int, int],
        claims: Claims,
        boot: float,
        base: list[Matcher] | None = None,
        named: frozenset[str] = frozenset(),
    ) -> list[Matcher]:
        """Set `matched[pid]` for every honoured claim; the matchers those indices refer to.
        `known((pid, start))`: whether that process could be identified (not a kernel
        thread, not us). `base`: the matchers so far (default: the rules' and presets');
        `named`: names `tui-monitor run` gave live processes, theirs as a rule's are."""
        matchers = list(self.matchers if base is None else base)
        for name, (pid, since) in sorted(claims.items(), key=lambda c: c[1][1]):  # newest wins
            st = table.get(pid)
            if st is None or not known((pid, st.start)):
                continue
            if base_name(name) in self._reserved or name in named:
                continue
            if boot + st.start > since + SLACK:
                continue  # started after it was reported: the pid was reused
            matcher = self._own.get(name)
            if matcher is None:
                matcher = self._own[name] = Matcher(name, "reported", "ingest")
            matched[pid] = len(matchers)
            matchers.append(matcher)
        self._own = {n: m for n, m in self._own.items() if n in claims}
        return matchers
