"""Benchmark (not a test): what finding and measuring MCP servers adds to a tick.

sampler.py's box: N extra real processes (cheap `sleep`s), 20 of them `bash` agents matched
by one `[[agents]]` rule. Here each agent also runs three MCP servers of the shapes real
clients start (a program named `mcp-server-*`; a `bash -c` launcher running a `*-mcp`
program, which the server takes in; `node .../weather-mcp/dist/index.js`, a script of a
package so named) and one plain child, so 20 agents hold 60 servers among 120 processes
(`exec -a` names a `sleep` or a `tail -f` so). Measured, as CPU time of this process:

- `AgentCollector.collect()` on one fixed scan table (the tick's work after the /proc pass),
  `[mcp] enabled = false` against the default, and the same with a fresh /proc scan each call;
- the first tick of a fresh collector (every tree member's command line matched once);
- `McpMatcher.name()` + `is_launcher()` over the command line of every process on the box:
  the cost of one first sight, were every process in an agent's tree.

    .venv/bin/python bench/mcp.py [--count 1000] [--ticks 30] [--write]

`--write` replaces today's section in bench/RESULTS.md. Every process started here has
`tuimon-bench` in its argv[0] and is killed on exit, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import atexit
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psutil
from _common import command, exit_on_signals, machine, p90, publish
from sampler import MARKER, TARGET_PCT, Fleet, Series, measure

from tui_monitor.collect import proctable
from tui_monitor.collect.agents import AgentCollector
from tui_monitor.collect.mcp import McpMatcher, is_launcher
from tui_monitor.config import AgentRule, McpSettings, Settings

AGENTS = 20
SERVERS = 3
PER_AGENT = 1 + 1 + 2 + 1 + 1  # the agent, its servers' processes, the plain child


def agent_script(script: Path) -> str:
    """Three servers and a plain child; the `; :` keeps bash from exec'ing (a launcher)."""
    return (
        f"(exec -a mcp-server-{MARKER} sleep 3600) & "
        f"bash -c '(exec -a {MARKER}-mcp sleep 3600); :' & "
        f"(exec -a node tail -f {shlex.quote(str(script))}) & "
        f"(exec -a {MARKER}-child sleep 3600) & wait"
    )


class McpFleet(Fleet):
    """sampler.py's fleet, its agents running MCP servers."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix=f"{MARKER}-"))
        self.script = self.folder / f"{MARKER}-weather-mcp" / "dist" / "index.js"
        self.script.parent.mkdir(parents=True)
        self.script.write_text("")

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def start_agents(self, count: int) -> None:
        for _ in range(count):
            self.spawn([f"{MARKER}-agent", "-c", agent_script(self.script)], self._bash)
        self.children += count * (PER_AGENT - 1)
        deadline = time.monotonic() + 10.0
        for proc in self.procs[-count:]:
            while time.monotonic() < deadline:
                kids = psutil.Process(proc.pid).children(recursive=True)
                if len(kids) >= PER_AGENT - 1:
                    break
                time.sleep(0.005)


def settings(enabled: bool) -> Settings:
    rule = AgentRule(name="bench", kind="bench", cmdline=f"^{MARKER}-agent ")
    return Settings(agents=[rule], interval=1.0, mcp=McpSettings(enabled=enabled))


def servers_found(collector: AgentCollector) -> tuple[int, int]:
    """(agents, MCP servers) the collector sees now."""
    agents, _ = collector.collect()
    mine = [a for a in agents if a.kind == "bench" and a.status != "exited"]
    return len(mine), sum(len(a.mcp) for a in mine)


def first_ticks(enabled: bool, table: dict[int, proctable.ProcStat], reps: int) -> Series:
    out = Series()
    for _ in range(reps):
        collector = AgentCollector(settings(enabled), scan=lambda: table, pss=False)
        c0 = time.process_time()
        collector.collect()
        out.cpu.append(time.process_time() - c0)
        out.wall.append(0.0)
    return out


def matching(reps: int) -> tuple[int, Series]:
    """Every process's argv matched once per rep (argv read beforehand, not timed)."""
    argvs = []
    for p in psutil.process_iter(["name", "cmdline"], ad_value=None):
        argvs.append((p.info["name"] or "", p.info["cmdline"] or []))
    matcher = McpMatcher(McpSettings())
    out = Series()
    for _ in range(reps):
        c0 = time.process_time()
        for name, argv in argvs:
            matcher.name(argv, name)
            is_launcher(argv)
        out.cpu.append(time.process_time() - c0)
        out.wall.append(0.0)
    return len(argvs), out


def row(label: str, s: Series, per: int | None = None, every_tick: bool = True) -> str:
    """A table row; `per`: µs per process over that many; once-only work has no % column."""
    med = statistics.median(s.cpu)
    per_cell = f"{med / per * 1e6:.2f}" if per else "-"
    pct = f"{med * 100:.3f}" if every_tick else "-"
    return f"| {label} | {med * 1e3:.3f} | {p90(s.cpu) * 1e3:.3f} | {per_cell} | {pct} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="extra processes on the box")
    parser.add_argument("--ticks", type=int, default=30, help="measured calls per figure")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between calls")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    exit_on_signals()
    env = machine(f"psutil {psutil.__version__}")
    fleet = McpFleet()
    atexit.register(fleet.close)
    try:
        fleet.start_agents(AGENTS)
        fleet.grow(args.count)
        pids = len(psutil.pids())
        print(f"measuring with {len(fleet)} extra processes ({pids} on the box)", file=sys.stderr)
        table = proctable.scan()
        on, off = (
            AgentCollector(settings(e), scan=lambda: table, pss=False) for e in (True, False)
        )
        agents, servers = servers_found(on)
        assert agents == AGENTS and servers == AGENTS * SERVERS, (agents, servers)
        fixed = {
            "collect(), fixed table, [mcp] off": measure(off.collect, args.ticks, args.pause),
            "collect(), fixed table, [mcp] on": measure(on.collect, args.ticks, args.pause),
        }
        scanning = {
            e: AgentCollector(settings(e), pss=False) for e in (False, True)
        }  # a fresh /proc scan each call, as in a tick
        fixed["collect() incl. /proc scan, [mcp] off"] = measure(
            scanning[False].collect, args.ticks, args.pause
        )
        fixed["collect() incl. /proc scan, [mcp] on"] = measure(
            scanning[True].collect, args.ticks, args.pause
        )
        first = {e: first_ticks(e, table, max(5, args.ticks // 3)) for e in (False, True)}
        count, match = matching(args.ticks)
    finally:
        fleet.close()
    steady = {k: statistics.median(v.cpu) for k, v in fixed.items()}
    added = steady["collect(), fixed table, [mcp] on"] - steady["collect(), fixed table, [mcp] off"]
    scan_on = steady["collect() incl. /proc scan, [mcp] on"]
    ok = "PASS" if scan_on * 100 <= TARGET_PCT else "FAIL"
    lines = [
        f"## MCP server recognition — {date.today().isoformat()}",
        f"Machine: {env}.",
        f"Command: `{command()}`",
        f"{args.count} extra processes ({pids} pids on the box); {AGENTS} `bash` agents matched "
        f"by one rule, each running {SERVERS} MCP servers (an `mcp-server-*` program; a "
        "`bash -c` launcher over a `*-mcp` program; `node …/weather-mcp/dist/index.js`) "
        f"and one plain child: {AGENTS * SERVERS} servers found. CPU is "
        "`time.process_time()` around each call, memory as RSS (PSS off, so only MCP work "
        f"differs); {args.ticks} calls {args.pause} s apart after 2 warm-ups; ms.",
        "| part | median ms | p90 ms | µs per process | % of one core at 1 Hz |",
        "|---|---:|---:|---:|---:|",
        *(row(k, v) for k, v in fixed.items()),
        row("first tick of a fresh collector, [mcp] off", first[False], every_tick=False),
        row("first tick of a fresh collector, [mcp] on", first[True], every_tick=False),
        row(f"McpMatcher.name + is_launcher, all {count} argvs", match, count, every_tick=False),
        "",
        f"**{ok}**: finding and measuring {AGENTS * SERVERS} MCP servers adds "
        f"{added * 1e3:.3f} ms a tick ({added * 100:.3f}% of one core at 1 Hz); the agent "
        f"collector with its /proc scan costs {scan_on * 100:.2f}% with it, inside the "
        f"sampler's {TARGET_PCT:g}% (bench/sampler.py). A command line is matched once per "
        f"process instance, at {statistics.median(match.cpu) / count * 1e6:.1f} µs (the last "
        f"row): {AGENTS * (PER_AGENT - 1)} tree members cost about "
        f"{statistics.median(match.cpu) / count * AGENTS * (PER_AGENT - 1) * 1e3:.2f} ms once, "
        "lost in the first tick's own noise (it reads every process's command line).",
    ]
    table_text = "\n".join(lines[4:-2])
    publish("\n\n".join([*lines[:4], table_text, lines[-1]]), args.write)


if __name__ == "__main__":
    main()
