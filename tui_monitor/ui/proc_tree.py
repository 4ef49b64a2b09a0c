"""The agent screen's process tree and its MCP servers, as Rich tables.

Live, a server's figures are the recorder's (CPU over the last tick, PSS, as the agent's row);
attached, the history holds none, so they are summed from the processes read now (RSS, no
CPU); replaying, the recorded tree has pids and parents only, so no server can be told.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .. import fmt, safe
from ..collect.tree import ProcNode, recorded_tree
from ..models import AgentSample, McpServer

MCP_STYLE = "bold magenta"


def recorded(agent: AgentSample) -> list[ProcNode]:
    """The agent's processes as stored with the tick: pids and parents, the root's name."""
    names = {agent.pid: agent.process} if agent.pid is not None else {}
    return recorded_tree(agent.pids, agent.parents, names)


def servers_in(nodes: Sequence[ProcNode]) -> tuple[McpServer, ...]:
    """The servers labelled in a tree read now: each with its subtree's processes and RSS
    (tree order puts a node's subtree right after it, deeper)."""
    out: list[McpServer] = []
    for i, node in enumerate(nodes):
        if node.mcp is None:
            continue
        members = [node]
        for below in nodes[i + 1 :]:
            if below.depth <= node.depth:
                break
            members.append(below)
        rss = sum(m.rss or 0 for m in members)
        out.append(
            McpServer(name=node.mcp, pid=node.pid, procs=len(members), ram_used=rss, ram_kind="rss")
        )
    return tuple(out)


def mcp_table(servers: Sequence[McpServer], measured: bool) -> Table:
    """One line a server: its name, the pid that starts it, its processes, CPU and memory.
    `measured`: the figures are the recorder's (else summed from the processes read now)."""
    kinds = {s.ram_kind for s in servers}
    memory = "PSS" if kinds == {"pss"} else "RSS" if kinds == {"rss"} else "PSS/RSS"
    t = Table(title=f"MCP servers ({len(servers)})", title_justify="left", box=None)
    t.pad_edge = False
    # Only the name column may narrow (Rich narrows wrappable columns first; its cells are
    # no-wrap Texts, cut with `…`): the figures keep their width in the 46-cell pane.
    t.add_column("SERVER")
    for col in ("PID", "PROCS", "CPU%", memory):
        t.add_column(col, justify="right", no_wrap=True)
    for s in sorted(servers, key=lambda s: (s.name, s.pid)):
        name = safe.text(s.name, MCP_STYLE, limit=24)  # cleaned when found: keep it exact
        name.overflow = "ellipsis"
        t.add_row(
            name, str(s.pid), str(s.procs), fmt.percent(s.cpu_utilization), fmt.size(s.ram_used)
        )
    if not measured:
        t.caption = "summed from the processes now: the history keeps no MCP figures"
        t.caption_justify = "left"
    return t


def tree_table(
    nodes: Sequence[ProcNode], was_recorded: bool = False, servers: Sequence[McpServer] = ()
) -> Table:
    """The tree, each MCP server's first process labelled `mcp:NAME`, its servers above it."""
    title = "recorded process tree" if was_recorded else "process tree"
    t = Table(title=title, title_justify="left", box=None, pad_edge=False)
    if was_recorded:
        t.caption = (
            "pids and parents only: the names (so MCP servers), memory and threads were not "
            "recorded"
        )
        t.caption_justify = "left"
    t.add_column("PID", justify="right", no_wrap=True)
    t.add_column("NAME")  # the one that narrows (see mcp_table)
    t.add_column("RSS", justify="right", no_wrap=True)
    t.add_column("THR", justify="right", no_wrap=True)
    labels = {s.pid: s.name for s in servers}
    for n in nodes:
        name = Text("  " * n.depth + ("└ " if n.depth else ""), no_wrap=True, overflow="ellipsis")
        name.append_text(safe.text(n.name) if n.name else Text("?", "dim"))
        label = labels.get(n.pid)
        if label is not None:
            name.append(" ")
            name.append_text(safe.text(f"mcp:{label}", MCP_STYLE, limit=28))
        t.add_row(str(n.pid), name, fmt.size(n.rss), str(n.threads or "-"))
    return t


def tree_view(
    nodes: Sequence[ProcNode],
    was_recorded: bool,
    servers: Sequence[McpServer],
    measured: bool,
) -> RenderableType:
    """The agent's MCP servers (when it has any), then its process tree, labelled."""
    tree = tree_table(nodes, was_recorded, servers)
    if not servers:
        return tree
    return Group(mcp_table(servers, measured), Text(""), tree)
