"""Benchmark (not a test): what a fleet of hosts costs the dashboard that shows them.

Issue 17's figure: 10 hosts x 50 agents at 1 s, the viewer's CPU under 2x today's single-host
figure, and under 6 KB/s to the terminal. Two programs, run in interleaved rounds on the same
box with the same 50 local agents (real processes matched by one `[[agents]]` rule, as
bench/ui.py runs them):

- "single host": the dashboard of this machine alone (bench/ui.py's own run);
- "fleet": the same dashboard with HOSTS `[[hosts]]` entries, each streaming AGENTS agents a
  second. Their ssh is bench/_fleet_remote.py (`[fleet] ssh`): a real stream from the
  protocol's own encoder, so the viewer runs its whole path (ssh processes as children,
  bounded line reads, decoding, cleaning, merging, the HOST column and the Hosts card) and
  only the remote end is a stand-in: 10 real remote recorders would measure the box, not the
  viewer.

Measured on the dashboard's process (bench/ui.py's `steady`): CPU (the `cpu_times` delta, its
threads; the stand-in ssh processes are its children but not counted, as they are not ssh's
real cost either), RSS, and every byte it writes to a 120x40 tmux pane.

    .venv/bin/python bench/fleet.py [--hosts 10] [--agents 50] [--seconds 30] [--warmup 5]
                                    [--rounds 3] [--write]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import ui
from _common import ROOT, command, loadavg, machine, publish
from ui import (
    APP,
    FULL_ROWS,
    Fleet,
    Program,
    Result,
    agents_on_screen,
    app_env,
    combine,
    isolate,
    own_db,
    run_program,
    table,
    tools,
    tui_monitor_ready,
    workspace,
)

TARGET_RATIO = 2.0
TARGET_KBS = 6.0
REMOTE = ROOT / "bench" / "_fleet_remote.py"


def fleet_ready(hosts: int) -> Callable[[str], bool]:
    def ready(screen: str) -> bool:
        lines = screen.splitlines()
        return bool(lines) and "tui-monitor" in lines[0] and f"{hosts}/{hosts} live" in screen

    return ready


def fleet_check(hosts: int) -> Callable[[str], str]:
    def check(screen: str) -> str:
        return "" if f"{hosts}/{hosts} live" in screen else f"not '{hosts}/{hosts} live' at the end"

    return check


def fleet_env(workdir: Path, hosts: int, agents: int) -> dict[str, str]:
    """bench/ui.py's environment, its config with the hosts and the stand-in ssh added."""
    env = app_env(workdir, truecolor=False)
    ssh = workdir / "fake-ssh"
    ssh.write_text(f'#!/bin/sh\nexec {sys.executable} {REMOTE} "$@"\n')
    ssh.chmod(0o755)
    config = Path(env["TUI_MONITOR_CONFIG"])
    fleet_config = workdir / "fleet.toml"
    text = config.read_text() + f'[fleet]\nssh = "{ssh}"\n'
    text += "".join(f'[[hosts]]\nname = "gpu{i}"\n' for i in range(1, hosts + 1))
    fleet_config.write_text(text)
    return env | {"TUI_MONITOR_CONFIG": str(fleet_config), "FLEET_BENCH_AGENTS": str(agents)}


def verdicts(single: Result, fleet: Result, hosts: int, agents: int) -> str:
    ratio = fleet.cpu_pct / single.cpu_pct if single.cpu_pct else float("inf")
    lines = [
        f"- **{'PASS' if ratio < TARGET_RATIO else 'FAIL'}** CPU: {fleet.cpu_pct:.2f}% of one "
        f"core with {hosts} hosts x {agents} agents against {single.cpu_pct:.2f}% for this "
        f"machine alone: {ratio:.2f}x (target < {TARGET_RATIO:g}x).",
        f"- **{'PASS' if fleet.kbs < TARGET_KBS else 'FAIL'}** terminal output: "
        f"{fleet.kbs:.2f} KB/s (target < {TARGET_KBS:g} KB/s; this machine alone "
        f"{single.kbs:.2f}).",
        f"- RSS: {fleet.rss_mb:.1f} MB against {single.rss_mb:.1f} MB.",
    ]
    lines += [f"- **INVALID** ({r.name}): {r.note}." for r in (single, fleet) if r.note]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--agents", type=int, default=50, help="per host, and on this one")
    parser.add_argument("--burners", type=int, default=5, help="local agents using some CPU")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if args.agents < FULL_ROWS:
        parser.error(f"--agents must be at least {FULL_ROWS} (a full screen)")
    if shutil.which("tmux") is None:
        parser.error("tmux is not installed (apt-get install -y tmux)")
    isolate()
    env = machine(*tools())
    local = Fleet()
    per: dict[str, list[Result]] = {}
    with workspace() as workdir:
        try:
            local.start(args.agents, args.burners)
            single_env = app_env(workdir, truecolor=False)
            progs = [
                Program(
                    "single host",
                    [str(APP)],
                    single_env,
                    tui_monitor_ready,
                    quit=("q",),
                    check=agents_on_screen(args.agents),
                    fresh=own_db(workdir, "single"),
                    layout=ui.tui_monitor_layout,
                ),
                Program(
                    f"fleet: {args.hosts} hosts x {args.agents} agents",
                    [str(APP)],
                    fleet_env(workdir, args.hosts, args.agents),
                    fleet_ready(args.hosts),
                    quit=("q",),
                    check=fleet_check(args.hosts),
                    fresh=own_db(workdir, "fleet"),
                    layout=ui.tui_monitor_layout,
                ),
            ]
            for n in range(args.rounds):  # interleaved, so drifts on the box hit both alike
                print(f"round {n + 1} of {args.rounds}", flush=True)
                for prog in progs:
                    per.setdefault(prog.name, []).append(run_program(prog, workdir, args, n))
        finally:
            local.close()
            ui.tmux_pane.reap_children()
    single, fleet = (combine(rounds) for rounds in per.values())
    text = "\n\n".join(
        [
            f"## Fleet view: {args.hosts} hosts x {args.agents} agents (bench/fleet.py) — "
            f"{date.today().isoformat()}",
            f"Machine: {env}; at the end {loadavg()}.",
            f"Command: `{command()}`",
            f"The dashboard with {args.agents} local agents alone, then with {args.hosts} "
            f"`[[hosts]]` more, each streaming {args.agents} agents a second through a "
            "stand-in ssh (bench/_fleet_remote.py: the real protocol encoder), interval 1 s, "
            f"tmux pane {ui.COLS}x{ui.ROWS}, {args.rounds} interleaved rounds of "
            f"{args.warmup:g} s warm-up and {args.seconds:g} s measured on the dashboard's "
            "own process (bench/ui.py's method).",
            table([single, fleet]),
            ui.region_table([single, fleet]),
            verdicts(single, fleet, args.hosts, args.agents),
        ]
    )
    publish(text, args.write)


if __name__ == "__main__":
    main()
