"""Benchmark (not a test): what the whole app costs at steady state, in a real terminal.

`tui-monitor` (dashboard + sampler + history writer, live mode) runs in a detached tmux pane of
120x40 with 50 real agents and a 1 s interval. Measured on its process, in a few rounds: CPU
(all threads, `cpu_times` delta) over a window after a warm-up, RSS at the end, the bytes it
writes to the terminal (everything the pane receives, captured by tmux `pipe-pane`), and the
time from launch to the first full screen (the header and 20 agent rows on screen, polled
every 20 ms). Next to it, for scale, on the same box with the same agents: `tui-monitor record`
(the same sampler and writer, headless), a bare Textual DataTable app that rewrites 50 rows
every second (inline below), and htop (`-d 10`) when it is installed.

    .venv/bin/python bench/ui.py [--agents 50] [--seconds 30] [--warmup 5] [--rounds 3]
                                 [--starts 5] [--truecolor] [--long 720] [--write]

The agents are 50 processes matched by one `[[agents]]` rule: `sleep`s, and a few small Python
loops whose CPU use drifts so that values change. The dashboard keeps ten minutes of points in
memory, so its RSS grows for that long: `--long 720` follows it in one more run. `--write`
replaces today's section in bench/RESULTS.md. Every process started here is in one process
group or on a private tmux server, killed on exit, Ctrl-C or SIGTERM; `pgrep -af
tuimon-uibench` shows any left.
"""

from __future__ import annotations

import argparse
import atexit
import compileall
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import NoReturn

import psutil
from _common import (
    ROOT,
    ProcessGroup,
    become_subreaper,
    command,
    exit_on_signals,
    loadavg,
    machine,
    p90,
    publish,
)

sys.path.append(str(ROOT / "tests" / "e2e"))
import tmux_pane  # the e2e tests' tmux driver: one driver for both

MARKER = "tuimon-uibench"  # in the command line of every agent started here
AGENT = f"{MARKER}-agent-{os.getpid()}"
"""The agents' marker: this run's own, so a second run at the same time adds no agents here."""
APP = Path(sys.executable).parent / "tui-monitor"
COLS, ROWS = 120, 40
FULL_ROWS = 20
"""The first full screen: the header and this many agent rows."""
FULL_SCREEN = "full screen"
POLL = 0.02
UNSET = ("COLORTERM", "PYTHONDONTWRITEBYTECODE")
"""Not passed on to the programs: 256 colours unless a run asks for more, and the package
byte-compiled, as `pip install` leaves it."""

TARGET_CPU = 4.0  # % of one core
TARGET_KBS = 6.0  # KB/s written to the terminal (1 KB = 1000 bytes)
TARGET_RSS = 70.0  # MB (2**20 bytes)
TARGET_FIRST = 0.6  # s from launch to the first full screen

# A small loop that uses 1-6% of a core, drifting over tens of seconds (phase from argv).
BURNER = """
import math, sys, time
phase = float(sys.argv[2])
t0 = time.monotonic()
while True:
    duty = 0.01 + 0.05 * (1 + math.sin((time.monotonic() - t0) / 9 + phase)) / 2
    end = time.monotonic() + duty * 0.1
    while time.monotonic() < end:
        pass
    time.sleep(0.1 * (1 - duty))
"""

# The reference: the naive way to show 50 rows, `clear()` and `add_rows()` every second.
BARE_DATATABLE = """
import random, time
from textual.app import App
from textual.widgets import DataTable

COLUMNS = ("NAME", "KIND", "STATUS", "PID", "CPU%", "MEM", "GPU MEM", "PROCS", "MSGS",
           "ERRS", "LAST EV", "UPTIME")

class Bare(App):
    def compose(self):
        yield DataTable(cursor_type="row")

    def on_mount(self):
        self.start = time.time()
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.fill()
        self.set_interval(1.0, self.fill)

    def fill(self):
        table = self.query_one(DataTable)
        table.clear()
        up = int(time.time() - self.start)
        table.add_rows(
            (f"agent#{i}" if i > 1 else "agent", "bench", "idle", str(10000 + i),
             f"{random.random() * 5:.1f}", f"{random.randint(1, 99)} MiB", "-", "1", "0",
             "-", "-", f"{up}s")
            for i in range(1, 51)
        )

Bare().run()
"""


def gone(pid: int, timeout: float) -> bool:
    """`tmux_pane.gone`, reaping as it waits: the orphans of our tmux servers come to us."""
    return tmux_pane.gone(pid, timeout, poll=POLL, reap=True)


# -- the agents ---------------------------------------------------------------------------


class Fleet(ProcessGroup):
    """The agents."""

    def start(self, count: int, burners: int) -> None:
        """`count` agents, `burners` of them small CPU loops spread among `sleep`s."""
        sleep = shutil.which("sleep") or "/bin/sleep"
        every = count // burners if burners else count + 1
        for i in range(count):
            if i % every == 0 and i // every < burners:
                self.spawn([sys.executable, "-c", BURNER, AGENT, str(i)])
            else:
                self.spawn([AGENT, "3600"], executable=sleep)
        time.sleep(0.5)  # let the Python ones get past their start-up


# -- a terminal -----------------------------------------------------------------------------


class Terminal(tmux_pane.Tmux):
    """The e2e tests' tmux driver with the bench's sockets (`tuimon-uibench-*`) and polling;
    its errors end the run."""

    prefix = MARKER
    poll = POLL
    reap = True

    def fail(self, message: str) -> NoReturn:
        raise RuntimeError(message)

    def launch(self, argv: Sequence[str], env: Mapping[str, str]) -> int:
        """The program as the pane's own process (its pid is the one measured), every byte it
        writes to the terminal captured."""
        return self.start(argv, env, (COLS, ROWS), shell=False, capture=True, unset=UNSET)


# -- what is on screen ----------------------------------------------------------------------

AGENT_ROW = re.compile(r"^\s*agent(#\d+)?\s+\S+\s+\S+\s+\d+\s", re.M)
HTOP_ROW = re.compile(r"^\s*\d+\s+\S+\s+-?\w+\s+-?\d+\s", re.M)


def tui_monitor_ready(screen: str) -> bool:
    lines = screen.splitlines()
    return bool(lines) and "tui-monitor" in lines[0] and bare_ready(screen)


def bare_ready(screen: str) -> bool:
    return len(AGENT_ROW.findall(screen)) >= FULL_ROWS


def htop_ready(screen: str) -> bool:
    return "PID USER" in screen and len(HTOP_ROW.findall(screen)) >= FULL_ROWS


def tui_monitor_layout(screen: str) -> list[str]:
    """Region of each row of the dashboard, from its text."""
    lines = screen.splitlines()
    table = next((i for i, line in enumerate(lines) if " NAME " in line), 3)
    bottom = next((i for i, line in enumerate(lines) if line.startswith("╭")), len(lines) - 1)
    names = ["header"] + ["overview cards"] * (table - 1) + ["agent table"] * (bottom - table)
    names += ["chart and event log"] * (len(lines) - 1 - bottom) + ["footer"]
    return names


CUP = re.compile(rb"\x1b\[(\d+);\d+H|\n")


def by_region(stream: bytes, layout: list[str]) -> dict[str, int]:
    """Bytes written to each region: each byte counts for the row the cursor was put on."""
    out = dict.fromkeys(dict.fromkeys(layout), 0) | {"other": 0}
    row, pos = 0, 0
    for m in CUP.finditer(stream):
        region = layout[row - 1] if 1 <= row <= len(layout) else "other"
        out[region] += m.start() - pos
        row = int(m.group(1)) if m.group(1) else row + 1
        pos = m.start()
    region = layout[row - 1] if 1 <= row <= len(layout) else "other"
    out[region] += len(stream) - pos
    return out


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Result:
    """One program: steady-state figures over the window, and its launches."""

    name: str
    cpu_pct: float = 0.0
    cpu_p90: float = 0.0
    bytes_s: float = 0.0
    bytes_peak: int = 0
    """The most bytes written in any one second of the window."""
    rss_mb: float = 0.0
    uss_mb: float = 0.0
    threads: int = 0
    first: list[float] = field(default_factory=list)
    first_bytes: int = 0
    quit_s: float | None = None
    note: str = ""
    terminal: bool = True
    window: tuple[int, int] = (0, 0)
    """Offsets of the measured window in the capture."""
    regions: dict[str, float] = field(default_factory=dict)
    """Bytes per second by screen region (tui-monitor only)."""
    per_second: list[float] = field(default_factory=list)
    """CPU % of each second of the window(s)."""
    rounds: list[Result] = field(default_factory=list)
    """The rounds this result is the median of."""

    @property
    def kbs(self) -> float:
        return self.bytes_s / 1000


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def steady(
    proc: psutil.Process, seconds: float, written: Callable[[], int] | None, result: Result
) -> None:
    """CPU, bytes and memory of `proc` over `seconds`, sampled each second."""
    cpu0, bytes0, wall0 = cpu_seconds(proc), written() if written else 0, time.perf_counter()
    per_cpu: list[float] = []
    last_cpu, last_bytes = cpu0, bytes0
    for i in range(1, round(seconds) + 1):
        time.sleep(max(0.0, wall0 + i * seconds / round(seconds) - time.perf_counter()))
        cpu, now_bytes = cpu_seconds(proc), written() if written else 0
        per_cpu.append((cpu - last_cpu) * 100)
        result.bytes_peak = max(result.bytes_peak, now_bytes - last_bytes)
        last_cpu, last_bytes = cpu, now_bytes
    wall = time.perf_counter() - wall0
    result.cpu_pct = (last_cpu - cpu0) / wall * 100
    result.per_second = per_cpu
    result.cpu_p90 = p90(per_cpu)
    result.bytes_s = (last_bytes - bytes0) / wall
    result.window = (bytes0, last_bytes)
    mem = proc.memory_full_info()
    result.rss_mb = mem.rss / 2**20
    result.uss_mb = mem.uss / 2**20
    result.threads = proc.num_threads()


@dataclass
class Program:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[str], bool]
    quit: tuple[str, ...]
    check: Callable[[str], str] = lambda screen: ""
    """Returns a problem seen on the final screen, or ''."""
    fresh: Callable[[int], list[str]] = lambda n: []
    """Extra arguments for the n-th launch (e.g. its own database)."""
    layout: Callable[[str], list[str]] | None = None
    """The name of the screen region of each row, to split the bytes written."""


def run_program(prog: Program, workdir: Path, args: argparse.Namespace, n: int) -> Result:
    """One measured launch: first screen, warm-up, window, quit."""
    result = Result(prog.name)
    print(f"{prog.name}: launch, {args.warmup:g} s warm-up, {args.seconds:g} s", flush=True)
    term = Terminal(workdir)
    try:
        pid = term.launch([*prog.argv, *prog.fresh(n)], prog.env)
        result.first.append(term.time_to(prog.ready, FULL_SCREEN, 20.0))
        result.first_bytes = term.written()
        time.sleep(args.warmup)
        steady(psutil.Process(pid), args.seconds, term.written, result)
        screen = term.screen()
        result.note = prog.check(screen)
        if prog.layout is not None:
            with term.capture.open("rb") as f:
                f.seek(result.window[0])
                stream = f.read(result.window[1] - result.window[0])
            result.regions = {
                k: v / args.seconds for k, v in by_region(stream, prog.layout(screen)).items()
            }
        t0 = time.perf_counter()
        term.keys(*prog.quit)
        if gone(pid, 10.0):
            result.quit_s = time.perf_counter() - t0
    finally:
        term.close()
    return result


def launches(prog: Program, workdir: Path, count: int, first_n: int) -> list[float]:
    """Seconds to the first full screen of `count` more launches (killed right after)."""
    out = []
    for n in range(first_n, first_n + count):
        term = Terminal(workdir)
        try:
            term.launch([*prog.argv, *prog.fresh(n)], prog.env)
            out.append(term.time_to(prog.ready, FULL_SCREEN, 20.0))
        finally:
            term.close()
    return out


def long_run(prog: Program, workdir: Path, seconds: float) -> list[tuple[float, float]]:
    """(minutes since the first full screen, RSS MB) once a minute over a long run."""
    print(f"{prog.name}: long run, {seconds:g} s of RSS", flush=True)
    out: list[tuple[float, float]] = []
    term = Terminal(workdir)
    try:
        pid = term.launch([*prog.argv, *prog.fresh(999)], prog.env)
        term.wait_for(prog.ready, FULL_SCREEN, 20.0)
        proc, t0 = psutil.Process(pid), time.perf_counter()
        for minute in range(1, int(seconds // 60) + 1):
            time.sleep(max(0.0, t0 + minute * 60 - time.perf_counter()))
            out.append((minute, proc.memory_info().rss / 2**20))
    finally:
        term.close()
    return out


def combine(rounds: list[Result]) -> Result:
    """Medians over rounds (RSS: the largest); all launches and seconds pooled."""
    med = statistics.median
    out = Result(rounds[0].name, terminal=rounds[0].terminal, rounds=rounds)
    out.cpu_pct = med(r.cpu_pct for r in rounds)
    out.per_second = [x for r in rounds for x in r.per_second]
    out.cpu_p90 = p90(out.per_second)
    out.bytes_s = med(r.bytes_s for r in rounds)
    out.bytes_peak = max(r.bytes_peak for r in rounds)
    biggest = max(rounds, key=lambda r: r.rss_mb)
    out.rss_mb, out.uss_mb, out.threads = biggest.rss_mb, biggest.uss_mb, biggest.threads
    out.first = [x for r in rounds for x in r.first]
    out.first_bytes = round(med(r.first_bytes for r in rounds))
    quits = [r.quit_s for r in rounds]
    out.quit_s = None if None in quits else max(q for q in quits if q is not None)
    out.note = "; ".join(dict.fromkeys(r.note for r in rounds if r.note))
    keys = dict.fromkeys(k for r in rounds for k in r.regions)
    out.regions = {k: med(r.regions.get(k, 0.0) for r in rounds) for k in keys}
    return out


def run_headless(argv: list[str], env: dict[str, str], args: argparse.Namespace) -> Result:
    """`tui-monitor record`: the same sampler and writer, no terminal."""
    result = Result("tui-monitor record (headless)", terminal=False)
    print(f"{result.name}: {args.warmup:g} s warm-up, {args.seconds:g} s ...", flush=True)
    proc = subprocess.Popen(
        argv,
        env=os.environ | env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        time.sleep(args.warmup + 1.0)
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else b""
            raise RuntimeError(f"record exited {proc.returncode}: {err!r}")
        steady(psutil.Process(proc.pid), args.seconds, None, result)
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        result.quit_s = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    return result


def calibrate(workdir: Path) -> tuple[int, int]:
    """Bytes a program wrote to the pane vs bytes `pipe-pane` saved (escapes, UTF-8, no \\n)."""
    piece = "\x1b[38;5;208m▁▂▃▅▇ tui \x1b[0m\x1b[2;5H\x1b[K"
    times = 20_000
    code = f"import os, time; os.write(1, {piece!r}.encode() * {times}); time.sleep(60)"
    expected = len(piece.encode()) * times
    term = Terminal(workdir)
    try:
        term.launch([sys.executable, "-c", code], {"TERM": "xterm-256color"})
        deadline = time.monotonic() + 10
        while term.written() < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        return expected, term.written()
    finally:
        term.close()


# -- the set-up -----------------------------------------------------------------------------


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"{MARKER}-") as tmp:
        yield Path(tmp)


def app_env(workdir: Path, truecolor: bool) -> dict[str, str]:
    """Config and data in `workdir`, nothing from the user's own files."""
    config = workdir / "config.toml"
    config.write_text(
        "interval = 1.0\n"
        f'[store]\npath = "{workdir / "history.db"}"\n'
        "[presets]\nenabled = false\n"
        f'[[agents]]\nname = "agent"\nkind = "bench"\ncmdline = "(^| ){AGENT}( |$)"\n'
    )
    env = {"TERM": "xterm-256color", "TUI_MONITOR_CONFIG": str(config)}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        path = workdir / var.lower()
        path.mkdir(exist_ok=True)
        env[var] = str(path)
    runtime = workdir / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env["XDG_RUNTIME_DIR"] = str(runtime)
    env["HOME"] = str(workdir)  # htop writes its htoprc there
    if truecolor:
        env["COLORTERM"] = "truecolor"
    return env


def agents_on_screen(count: int) -> Callable[[str], str]:
    def check(screen: str) -> str:
        found = re.search(r"Agents (\d+)/(\d+)", screen)
        if found is None or found.groups() != (str(count), str(count)):
            return f"expected 'Agents {count}/{count}' on screen, saw {found and found.group(0)}"
        return ""

    return check


def own_db(workdir: Path, tag: str) -> Callable[[int], list[str]]:
    """A database per launch (a launch must never attach to the one before it), given with
    `--db` as a person would: a TUI_MONITOR_STORE__PATH variable would also load
    pydantic-settings, ~20 ms of every start (see config.py)."""

    def argv(n: int) -> list[str]:
        return ["--db", str(workdir / f"history-{tag}{n}.db")]

    return argv


def programs(workdir: Path, args: argparse.Namespace) -> list[Program]:
    env = app_env(workdir, truecolor=False)
    check = agents_on_screen(args.agents)
    progs = [
        Program(
            "tui-monitor",
            [str(APP)],
            env,
            tui_monitor_ready,
            quit=("q",),
            check=check,
            fresh=own_db(workdir, ""),
            layout=tui_monitor_layout,
        )
    ]
    if args.truecolor:
        progs.append(
            Program(
                "tui-monitor, COLORTERM=truecolor",
                [str(APP)],
                app_env(workdir, truecolor=True),
                tui_monitor_ready,
                quit=("q",),
                check=check,
                fresh=own_db(workdir, "tc"),
                layout=tui_monitor_layout,
            )
        )
    bare = workdir / "bare_datatable.py"
    bare.write_text(BARE_DATATABLE)
    argv = [sys.executable, str(bare)]
    progs.append(Program("bare Textual DataTable", argv, env, bare_ready, ("C-q",)))
    htop = shutil.which("htop")
    if htop:
        progs.append(Program("htop -d 10", [htop, "-d", "10"], env, htop_ready, ("q",)))
    return progs


# -- reporting ------------------------------------------------------------------------------


def tools() -> list[str]:
    """The versions the terminal figures depend on, for the "Machine:" line."""
    tmux = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=False)
    textual = "?"
    with contextlib.suppress(Exception):
        textual = version("textual")
    return [f"Textual {textual}", tmux.stdout.strip()]


def _first(r: Result) -> str:
    if not r.first:
        return "-"
    med = statistics.median(r.first)
    return f"{med:.2f} ({min(r.first):.2f}-{max(r.first):.2f})"


def table(results: list[Result]) -> str:
    lines = [
        "| program | CPU % of one core: median of rounds (range) / p90 of 1 s | KB/s to the "
        "terminal: median (range) / peak 1 s | RSS MB (USS), largest | threads | first full "
        "screen s: median (min-max) | bytes to first screen | quit s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cpu = f"{r.cpu_pct:.2f}{_spread([x.cpu_pct for x in r.rounds])} / {r.cpu_p90:.0f}"
        kbs = "-"
        if r.terminal:
            spread = _spread([x.kbs for x in r.rounds])
            kbs = f"{r.kbs:.2f}{spread} / {r.bytes_peak / 1000:.1f}"
        first_bytes = f"{r.first_bytes:,}" if r.terminal else "-"
        quit_s = "-" if r.quit_s is None else f"{r.quit_s:.2f}"
        lines.append(
            f"| {r.name} | {cpu} | {kbs} | {r.rss_mb:.1f} ({r.uss_mb:.1f}) | {r.threads} | "
            f"{_first(r)} | {first_bytes} | {quit_s} |"
        )
    return "\n".join(lines)


def _spread(values: list[float]) -> str:
    return f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else ""


def region_table(results: list[Result]) -> str:
    apps = [r for r in results if r.regions]
    if not apps:
        return ""
    names = list(dict.fromkeys(k for r in apps for k in r.regions))
    lines = [
        "Where the bytes go: KB/s by screen region (each byte counted on the row the cursor "
        "was put on).",
        "",
        "| region | " + " | ".join(r.name for r in apps) + " |",
        "|---|" + "---:|" * len(apps),
    ]
    for name in names:
        cells = []
        for r in apps:
            total = sum(r.regions.values()) or 1.0
            v = r.regions.get(name, 0.0)
            cells.append(f"{v / 1000:.2f} ({v / total * 100:.0f}%)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ok(good: bool) -> str:
    return "PASS" if good else "FAIL"


def verdicts(results: list[Result], long: list[tuple[float, float]]) -> str:
    by = {r.name: r for r in results}
    app = by["tui-monitor"]
    first = statistics.median(app.first)
    rss = f"RSS {app.rss_mb:.1f} MB after the window"
    worst = app.rss_mb
    if long:
        worst = max(worst, max(mb for _, mb in long))
        curve = ", ".join(f"{mb:.0f} MB at {m:g} min" for m, mb in long[:: max(1, len(long) // 6)])
        rss += f"; in a {long[-1][0]:g}-minute run {curve}, {long[-1][1]:.1f} MB at the end"
    lines = [
        f"- **{_ok(app.cpu_pct <= TARGET_CPU)}** CPU: {app.cpu_pct:.2f}% of one core "
        f"(target ≤ {TARGET_CPU:g}%).",
        f"- **{_ok(app.kbs <= TARGET_KBS)}** terminal output: {app.kbs:.2f} KB/s "
        f"(target ≤ {TARGET_KBS:g} KB/s).",
        f"- **{_ok(worst <= TARGET_RSS)}** memory: {rss} (target ≤ {TARGET_RSS:g} MB).",
        f"- **{_ok(first <= TARGET_FIRST)}** first full screen: {first:.2f} s median of "
        f"{len(app.first)} launches, slowest {max(app.first):.2f} s "
        f"(target ≤ {TARGET_FIRST:g} s).",
    ]
    if app.note:
        lines.append(f"- **INVALID**: {app.note}.")
    if app.quit_s is None:
        lines.append("- `q` did not end the program within 10 s.")
    bare = by.get("bare Textual DataTable")
    if bare is not None and bare.cpu_pct > 0 and bare.bytes_s > 0:
        lines.append(
            f"- Against the bare DataTable rewriting 50 rows each second: "
            f"{app.cpu_pct / bare.cpu_pct:.2f}× its CPU, {app.bytes_s / bare.bytes_s:.2f}× its "
            "bytes."
        )
    rec = by.get("tui-monitor record (headless)")
    if rec is not None:
        lines.append(
            f"- The headless recorder (same sampler and writer) costs {rec.cpu_pct:.2f}%: the "
            f"dashboard itself adds about {app.cpu_pct - rec.cpu_pct:.2f}% and "
            f"{app.rss_mb - rec.rss_mb:.0f} MB."
        )
    return "\n".join(lines)


def section(
    results: list[Result],
    args: argparse.Namespace,
    env: str,
    cal: tuple[int, int],
    long: list[tuple[float, float]],
) -> str:
    return "\n\n".join(
        [
            f"## Whole app in a terminal (UI + sampler + writer) — {date.today().isoformat()}",
            f"Machine: {env}; at the end {loadavg()} "
            "(other work shared the box: the CPU figures are this process's own CPU time, the "
            "first-screen times are wall clock).",
            f"Command: `{command()}`",
            f"{args.agents} agents (real processes matched by one `[[agents]]` rule, presets "
            f"off; {args.burners} of them small Python loops using 1-6% of a core, the rest "
            f"`sleep`), interval 1 s, tmux pane {COLS}x{ROWS}, TERM=xterm-256color without "
            f"COLORTERM (256 colours, as over plain SSH). {args.rounds} rounds, the programs "
            "interleaved; in each, every program is launched, given "
            f"{args.warmup:g} s warm-up after its first full screen, then {args.seconds:g} s "
            "measured: CPU is the `cpu_times` delta of its process (all threads), RSS/USS at "
            "the end, bytes are everything the pane received (tmux `pipe-pane`; check: "
            f"{cal[1]:,} of {cal[0]:,} bytes written by a test program captured). First full "
            f"screen: launch to the header and {FULL_ROWS} agent rows on screen (polled every "
            f"{POLL * 1000:.0f} ms), over {max(args.starts, args.rounds)} launches, each with "
            "a new history file, the package byte-compiled first (as `pip install` leaves it). "
            "KB = 1000 bytes, MB = 2^20.",
            table(results),
            region_table(results),
            verdicts(results, long),
        ]
    )


def isolate() -> None:
    """Before the first run: signals clean up like Ctrl-C, the user's own settings stay out of
    the runs, and our daemonised tmux servers come back to us to reap."""
    exit_on_signals()
    for var in [v for v in os.environ if v.startswith("TUI_MONITOR_")]:
        del os.environ[var]
    become_subreaper()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50, help="agent processes (>= 20)")
    parser.add_argument("--burners", type=int, default=5, help="of them, small CPU loops")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before it")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs per program")
    parser.add_argument("--starts", type=int, default=5, help="launches timed per program")
    parser.add_argument("--truecolor", action="store_true", help="add a COLORTERM=truecolor run")
    parser.add_argument(
        "--long", type=float, default=0, help="also follow tui-monitor's RSS for this many seconds"
    )
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if args.agents < FULL_ROWS:
        parser.error(f"--agents must be at least {FULL_ROWS} (a full screen)")
    if shutil.which("tmux") is None:
        parser.error("tmux is not installed (apt-get install -y tmux)")
    isolate()
    env = machine(*tools())
    # Byte-compiled, as `pip install` leaves it: a dev shell's PYTHONDONTWRITEBYTECODE=1 would
    # otherwise make every launch compile the package's ~35 modules from source (~50 ms).
    compileall.compile_dir(ROOT / "tui_monitor", quiet=1)
    fleet = Fleet()
    atexit.register(fleet.close)
    per: dict[str, list[Result]] = {}
    long: list[tuple[float, float]] = []
    with workspace() as workdir:
        try:
            cal = calibrate(workdir)
            fleet.start(args.agents, args.burners)
            progs = programs(workdir, args)
            for n in range(args.rounds):  # interleaved, so drifts on the box hit all alike
                print(f"round {n + 1} of {args.rounds}", flush=True)
                for prog in progs:
                    per.setdefault(prog.name, []).append(run_program(prog, workdir, args, n))
                    if prog.name == "tui-monitor":
                        argv = [str(APP), "record", "--db", str(workdir / f"record-{n}.db")]
                        result = run_headless(argv, app_env(workdir, False), args)
                        per.setdefault(result.name, []).append(result)
            for prog in progs:
                more = launches(prog, workdir, args.starts - args.rounds, args.rounds)
                per[prog.name][-1].first += more
            if args.long >= 60:
                long = long_run(progs[0], workdir, args.long)
        finally:
            fleet.close()
            tmux_pane.reap_children()
    results = [combine(rounds) for rounds in per.values()]
    publish(section(results, args, env, cal, long), args.write)


if __name__ == "__main__":
    main()
