"""MCP servers in a real agent's process tree (tests/agents/with_servers.py), read from the
real /proc by the AgentCollector and by the agent screen's tree reader."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from tui_monitor.collect.agents import AgentCollector
from tui_monitor.collect.mcp import McpMatcher
from tui_monitor.collect.tree import process_tree
from tui_monitor.config import AgentRule, McpSettings, PresetSettings, Settings
from tui_monitor.models import AgentSample

if TYPE_CHECKING:
    from conftest import AgentProcess, SpawnAgent

MiB = 1024 * 1024
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs Linux /proc semantics"
)


def settings(tag: str, **mcp: object) -> Settings:
    rule = AgentRule(name="host", cmdline=rf"--tag {re.escape(tag)}(\s|$)")
    return Settings(agents=[rule], presets=PresetSettings(enabled=False), mcp=McpSettings(**mcp))  # type: ignore[arg-type]


def host_until(
    collector: AgentCollector, done: Callable[[AgentSample], bool], timeout: float = 15.0
) -> AgentSample:
    """Tick every 0.3 s until the agent `host` satisfies `done`; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        agents, _ = collector.collect()
        host = next(a for a in agents if a.name == "host")
        if done(host):
            return host
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met in {timeout}s: {host!r}")
        time.sleep(0.3)


def pids_of(agent: AgentProcess) -> tuple[int, int, int, int]:
    """(fake server, sh of the chain, the chain's server, plain child) from READY."""
    fake, sh, chain, plain = (int(p) for p in agent.ready_fields[2:6])
    return fake, sh, chain, plain


def test_servers_are_found_named_and_measured_on_their_own(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("with_servers", "--busy", "--mib", "64")
    fake, sh, chain, plain = pids_of(agent)
    collector = AgentCollector(settings(agent.tag))
    host = host_until(
        collector, lambda a: len(a.mcp) == 2 and all(s.cpu_utilization is not None for s in a.mcp)
    )
    servers = {s.name: s for s in host.mcp}
    assert set(servers) == {"fake", "chain"}
    # the fake server is one process; the chain is sh (a launcher) with the server below it
    assert (servers["fake"].pid, servers["fake"].procs) == (fake, 1)
    assert (servers["chain"].pid, servers["chain"].procs) == (sh, 2)
    assert plain in host.pids and chain in host.pids and host.procs == 5  # still the agent's
    # its own CPU and memory: the busy server holds 64 MiB, the chain nearly nothing
    host = host_until(collector, lambda a: {s.name: s for s in a.mcp}["fake"].cpu_utilization > 30)
    servers = {s.name: s for s in host.mcp}
    fake_cpu, chain_cpu = servers["fake"].cpu_utilization, servers["chain"].cpu_utilization
    assert fake_cpu is not None and chain_cpu is not None and host.cpu_utilization is not None
    assert chain_cpu < 10 and fake_cpu <= host.cpu_utilization
    assert servers["fake"].ram_used is not None and servers["fake"].ram_used >= 60 * MiB
    assert servers["chain"].ram_used is not None and servers["chain"].ram_used < 60 * MiB
    assert host.ram_used is not None and host.ram_used >= servers["fake"].ram_used
    assert {s.ram_kind for s in host.mcp} <= {"pss", "rss"}


def test_a_server_that_exits_leaves_the_count(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("with_servers")
    _, sh, chain, _ = pids_of(agent)
    collector = AgentCollector(settings(agent.tag))
    host_until(collector, lambda a: len(a.mcp) == 2)
    # The chain's server ends; its sh then ends too, a zombie its parent never reaps: no
    # process of that server runs, so it is no server any more.
    os.kill(chain, signal.SIGKILL)
    host = host_until(collector, lambda a: [s.name for s in a.mcp] == ["fake"])
    assert chain not in host.pids and sh in host.pids
    assert psutil.Process(sh).status() == psutil.STATUS_ZOMBIE


def test_a_config_pattern_makes_a_server_and_the_conventions_can_be_switched_off(
    spawn_agent: SpawnAgent,
) -> None:
    agent = spawn_agent("with_servers")
    fake, sh, _, plain = pids_of(agent)
    pattern = r"^(?P<name>plain-worker) -c"
    both = AgentCollector(settings(agent.tag, patterns=[pattern]))
    host = host_until(both, lambda a: len(a.mcp) == 3)
    assert {s.name: s.pid for s in host.mcp} == {"fake": fake, "chain": sh, "plain-worker": plain}
    only = AgentCollector(settings(agent.tag, builtin=False, patterns=[pattern]))
    host = host_until(only, lambda a: a.procs == 5 and a.cpu_utilization is not None)
    assert [(s.name, s.pid) for s in host.mcp] == [("plain-worker", plain)]
    off = AgentCollector(settings(agent.tag, enabled=False, patterns=[pattern]))
    host = host_until(off, lambda a: a.procs == 5 and a.cpu_utilization is not None)
    assert host.mcp == ()


def test_a_hostile_server_name_is_cleaned_when_found(spawn_agent: SpawnAgent) -> None:
    agent = spawn_agent("with_servers", "--name", "mcp-server-evil\x1b]0;x\x07\u202e")
    collector = AgentCollector(settings(agent.tag))
    host = host_until(collector, lambda a: len(a.mcp) == 2)
    names = sorted(s.name for s in host.mcp)
    assert names == ["chain", "evil\\x1b]0;x\\x07\\u202e"]


def test_the_tree_reader_labels_the_servers_it_reads_now(spawn_agent: SpawnAgent) -> None:
    """The agent screen's reader (attached viewers have no figures but the processes)."""
    agent = spawn_agent("with_servers")
    fake, sh, chain, plain = pids_of(agent)
    pids = [agent.pid, fake, sh, chain, plain]
    nodes = {n.pid: n for n in process_tree(pids, McpMatcher(McpSettings()))}
    assert {p: n.mcp for p, n in nodes.items() if n.mcp} == {fake: "fake", sh: "chain"}
    assert nodes[chain].depth == 2 and nodes[chain].mcp is None  # inside the chain's server
    assert all(n.mcp is None for n in process_tree(pids))  # without a matcher: no labels


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs npm's npx")
def test_a_real_npx_chain_is_one_server(
    spawn_agent: SpawnAgent, tmp_path: Path, short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """npx from a local folder (no network): `npm exec` -> `sh -c BIN` -> `node .../BIN`."""
    package = short_dir / "pkg"
    (package / "dist").mkdir(parents=True)
    (package / "package.json").write_text(
        '{"name": "mcp-server-local", "version": "1.0.0",'
        ' "bin": {"mcp-server-local": "dist/index.js"}}'
    )
    script = package / "dist" / "index.js"
    script.write_text("#!/usr/bin/env node\nconsole.log('up');\nsetInterval(() => {}, 1000);\n")
    script.chmod(0o755)
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))  # not ~/.npm
    monkeypatch.setenv("npm_config_update_notifier", "false")
    command = ["npx", "--offline", "-y", str(package)]
    encoded = base64.b64encode(json.dumps(command).encode()).decode()
    agent = spawn_agent("client", "--run-b64", encoded, timeout=60)
    npx = int(agent.ready_fields[2])
    collector = AgentCollector(settings(agent.tag))
    host = host_until(collector, lambda a: [s.name for s in a.mcp] == ["local"])
    members = [npx, *(c.pid for c in psutil.Process(npx).children(recursive=True))]
    argvs = [psutil.Process(p).cmdline() for p in members]
    # npm retitled itself (one argument, the rest zeroed), then sh -c, then node on the bin
    assert argvs[0][0].startswith("npm exec ") and not any(argvs[0][1:]), argvs
    assert argvs[1][:2] == ["sh", "-c"] and argvs[-1][0] == "node", argvs
    assert argvs[-1][1].endswith("/.bin/mcp-server-local"), argvs
    assert (host.mcp[0].pid, host.mcp[0].procs) == (npx, len(members))
    assert host.procs == 1 + len(members)
