"""Benchmark (not a test): sustained ingest over the socket into SQLite, with the UI open.

The issue's target: at least 20,000 events/s sustained over the socket into SQLite with the UI
open, and RSS growth under 50 MB during a 60 s flood. `tui-monitor` (live mode: its in-process
recorder serves the ingest socket) runs in a detached tmux pane of 120x40 (bench/ui.py's
Terminal, private config and XDG dirs, interval 1 s). After a warm-up, N flood clients
(bench/_flood.py, one process each) send ~170-byte events for `--seconds`, pipelined in batches
of 500 lines with every reply read. Measured: events/s accepted (replies ok, at the clients)
and committed during the flood (highest `events.id`, read-only, each second), rows stored once
the program has exited (lost = accepted - stored), the app's RSS before, peak (sampled each
second) and after, its CPU (`cpu_times` delta, split main thread / other threads) and the
clients', and how fast the UI answers keys during the flood (`m` cycles the chart metric, `?`
opens and closes help: time from `send-keys` until the screen shows the change, capture-pane
polled every 20 ms). The same flood against `tui-monitor record` (headless) for comparison.
`--profile S` adds an in-process headless run: cProfile on the event-loop thread, the writer
thread's CPU vs wall time, cyclic-GC pauses, and one batch rewritten alone and beside a busy
thread (GIL hand-offs).

    .venv/bin/python bench/ingest.py [--seconds 60] [--clients 4,1,8] [--headless 4]
                                     [--warmup 5] [--batch 500] [--profile 0] [--write]

Every process started here is killed on exit, Ctrl-C or SIGTERM: the clients have
`tuimon-ingestbench` in their command line, the tmux servers use private sockets named
`tuimon-uibench-*` (bench/ui.py's); `pgrep -af tuimon-` shows any left.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psutil
import ui  # bench/ui.py: the terminal, the private environment, the process set-up
from _common import ROOT, command, loadavg, machine, publish

from tui_monitor.config import IngestSettings

MARKER = "tuimon-ingestbench"
FLOOD = Path(__file__).resolve().parent / "_flood.py"
TARGET_RATE = 20_000.0  # events/s stored, sustained, UI open
TARGET_GROWTH = 50.0  # MB of RSS growth during the flood
METRIC = re.compile(r"(GPU memory MiB|memory MiB|CPU %)")
NEXT_METRIC = {"CPU %": "memory MiB", "memory MiB": "GPU memory MiB", "GPU memory MiB": "CPU %"}
CONVOY = 5_000
"""Events `convoy` writes (from the flood's largest batch): beside a busy thread it has taken
from 0.03 s to 15 s on the same box, so it is kept small."""
HELD = 20_000
"""Events `held_bytes` puts in a hub to weigh them."""
COUNT_FLOOD = "SELECT count(*) FROM events WHERE agent GLOB 'flood-*'"


def _mb(n: float) -> float:
    return n / 2**20


@dataclass
class Run:
    """One flood against one program."""

    name: str
    clients: int
    seconds: float
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    first_error: str = ""
    wall: float = 0.0
    """The flood: from go to the last client's deadline."""
    bytes_sent: int = 0
    stored: int = 0
    """Flood events in the database once the program has exited."""
    settled: int = 0
    """Flood events in the database when the count settled, the program still running."""
    settle_s: float = 0.0
    """Seconds from the flood's end until the stored count settled."""
    stored_window: float = 0.0
    """Events/s committed during the flood window (from max(id) sampled each second)."""
    lag_max: int = 0
    """Most events accepted but not yet committed, over the 1 s samples."""
    rss_before: float = 0.0
    rss_peak: float = 0.0
    rss_after: float = 0.0
    cpu_app: float = 0.0
    cpu_main: float = 0.0
    cpu_clients: float = 0.0
    cpu_tmux: float = 0.0
    box_busy: float = 0.0
    """All CPUs of the box during the flood, % of one core (2 cores = 200)."""
    slowest_second: int = 0
    dead_seconds: int = 0
    """Whole seconds of the flood in which no client got a single reply."""
    rtt_median: float = 0.0
    rtt_max: float = 0.0
    metric_keys: list[float] = field(default_factory=list)
    help_keys: list[float] = field(default_factory=list)
    key_misses: int = 0
    stop_s: float | None = None
    load: str = ""
    note: str = ""

    @property
    def accepted_rate(self) -> float:
        return self.accepted / self.wall if self.wall else 0.0

    @property
    def lost(self) -> int:
        return self.accepted - self.stored


# -- pieces -----------------------------------------------------------------------------


def config(workdir: Path, tag: str) -> tuple[Path, Path, Path]:
    """(config file, database, socket) of one run: nothing shared with another run."""
    sock = workdir / f"s-{tag}" / "in.sock"
    db = workdir / f"{tag}.db"
    path = workdir / f"config-{tag}.toml"
    path.write_text(
        "interval = 1.0\n"
        f'[store]\npath = "{db}"\n'
        "[presets]\nenabled = false\n"
        f'[ingest]\nsocket = "{sock}"\n'
    )
    if len(os.fsencode(sock)) > 100:
        raise SystemExit(f"socket path too long: {sock}")
    return path, db, sock


def wait_socket(sock: Path, pid: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(sock))
            return
        except OSError:
            if time.monotonic() > deadline or ui.gone(pid, 0):
                raise RuntimeError(f"nothing listens on {sock} after {timeout:g}s") from None
            time.sleep(ui.POLL)
        finally:
            probe.close()


class Clients:
    """The flood clients: connected and waiting, then started together."""

    def __init__(self, sock: Path, count: int, seconds: float, batch: int) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        try:
            for i in range(count):
                argv = [sys.executable, str(FLOOD), str(sock), f"flood-{i}", str(seconds)]
                argv += [str(batch), MARKER]
                self.procs.append(
                    subprocess.Popen(
                        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
                    )
                )
            for p in self.procs:
                assert p.stdout is not None
                line = p.stdout.readline()
                if line.strip() != b"READY":
                    raise RuntimeError(f"flood client did not connect: {line!r}")
        except BaseException:
            self.close()
            raise

    def go(self) -> None:
        for p in self.procs:
            assert p.stdin is not None
            p.stdin.write(b"go\n")
            p.stdin.flush()

    def results(self, timeout: float) -> list[dict[str, object]]:
        out = []
        for p in self.procs:
            assert p.stdout is not None
            text, _ = p.communicate(timeout=timeout)
            if p.returncode != 0:
                raise RuntimeError(f"flood client exited {p.returncode}")
            out.append(json.loads(text))
        return out

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


class Sampler(threading.Thread):
    """Each second: RSS of the program and the highest committed event id."""

    def __init__(self, proc: psutil.Process, db: Path) -> None:
        super().__init__(daemon=True)
        self.proc, self.db = proc, db
        self.samples: list[tuple[float, float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            t0 = time.perf_counter()
            i = 0
            while not self.stop.is_set():
                top = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
                rss = self.proc.memory_info().rss
                self.samples.append((time.perf_counter(), rss, int(top)))
                i += 1
                self.stop.wait(max(0.0, t0 + i - time.perf_counter()))
        finally:
            conn.close()


def cpu(proc: psutil.Process) -> tuple[float, float]:
    """(all threads, main thread) CPU seconds."""
    total = ui.cpu_seconds(proc)
    main = next((t.user_time + t.system_time for t in proc.threads() if t.id == proc.pid), 0.0)
    return total, main


def box_busy() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def stored(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(COUNT_FLOOD).fetchone()[0])
    finally:
        conn.close()


def settle(db: Path, accepted: int, stall: float, timeout: float) -> tuple[int, float]:
    """Stored flood events once the count equals `accepted`, or has not changed for `stall`
    seconds (one commit can hold a whole backlog), or after `timeout`."""
    t0 = time.perf_counter()
    last, since = -1, t0
    while True:
        n = stored(db)
        now = time.perf_counter()
        if n != last:
            last, since = n, now
        if n >= accepted or now - since > stall or now - t0 > timeout:
            return n, (since if n < accepted else now) - t0
        time.sleep(0.25)


def press(
    term: ui.Terminal, key: str, changed: Callable[[str], bool], timeout: float = 10.0
) -> float | None:
    """Seconds from send-keys until `changed(screen)`; None if it never showed."""
    t0 = time.perf_counter()
    term.keys(key)
    while time.perf_counter() - t0 < timeout:
        if changed(term.screen()):
            return time.perf_counter() - t0
        time.sleep(ui.POLL)
    return None


def chart_metric(screen: str) -> str | None:
    for line in screen.splitlines():
        if "╭" in line:
            found = METRIC.search(line)
            if found:
                return found.group(1)
    return None


def help_open(screen: str) -> bool:
    return "move between agents" in screen  # a line of the help screen's "Also" part


def keys_during(term: ui.Terminal, run: Run, until: float, count: int) -> None:
    """`count` key presses spread until `until` (perf_counter): `m`, then `?` open/close."""
    start = time.perf_counter() + 3.0
    step = max(0.5, (until - 3.0 - start) / max(1, count))
    for i in range(count):
        time.sleep(max(0.0, start + i * step - time.perf_counter()))
        if time.perf_counter() > until:
            break
        if i % 2 == 0:
            now = chart_metric(term.screen())
            if now is None:
                run.key_misses += 1
                continue
            took = press(term, "m", _shows(NEXT_METRIC[now]))
            (run.metric_keys.append(took) if took is not None else _miss(run))
        else:
            took = press(term, "?", help_open)
            (run.help_keys.append(took) if took is not None else _miss(run))
            back = press(term, "?" if took is not None else "Escape", lambda s: not help_open(s))
            (run.help_keys.append(back) if back is not None else _miss(run))


def _shows(metric: str) -> Callable[[str], bool]:
    return lambda screen: chart_metric(screen) == metric


def _miss(run: Run) -> None:
    run.key_misses += 1


# -- one flood --------------------------------------------------------------------------


def flood(
    run: Run,
    pid: int,
    db: Path,
    sock: Path,
    args: argparse.Namespace,
    term: ui.Terminal | None,
) -> None:
    proc = psutil.Process(pid)
    tmux = psutil.Process(term.server) if term is not None and term.server else None
    wait_socket(sock, pid)
    time.sleep(args.warmup)
    run.rss_before = _mb(proc.memory_info().rss)
    clients = Clients(sock, run.clients, run.seconds, args.batch)
    sampler = Sampler(proc, db)
    try:
        run.load = loadavg()
        cpu0, main0 = cpu(proc)
        tmux0 = ui.cpu_seconds(tmux) if tmux else 0.0
        box0, t0 = box_busy(), time.perf_counter()
        clients.go()
        sampler.start()
        if term is not None:
            keys_during(term, run, t0 + run.seconds, args.presses)
        got = clients.results(timeout=run.seconds + 120)
        t1 = time.perf_counter()
        cpu1, main1 = cpu(proc)
        tmux1 = ui.cpu_seconds(tmux) if tmux else 0.0
        box1 = box_busy()
    finally:
        clients.close()
        sampler.stop.set()
    sampler.join()
    run.wall = max(float(str(g["wall"])) for g in got)
    run.sent = sum(int(str(g["sent"])) for g in got)
    run.accepted = sum(int(str(g["ok"])) for g in got)
    run.rejected = sum(int(str(g["rejected"])) for g in got)
    run.first_error = next((str(g["first_error"]) for g in got if g["first_error"]), "")
    run.bytes_sent = sum(int(str(g["bytes"])) for g in got)
    wall = t1 - t0
    run.cpu_app = (cpu1 - cpu0) / wall * 100
    run.cpu_main = (main1 - main0) / wall * 100
    run.cpu_clients = sum(float(str(g["cpu"])) for g in got) / wall * 100
    run.cpu_tmux = (tmux1 - tmux0) / wall * 100
    run.box_busy = (box1 - box0) / wall * 100
    run.rtt_median = statistics.median(float(str(g["rtt_median"])) for g in got)
    run.rtt_max = max(float(str(g["rtt_max"])) for g in got)
    seconds = [list(map(int, g["per_second"])) for g in got]  # type: ignore[call-overload]
    full = int(run.seconds)  # whole seconds only: the last one is cut by the deadline
    run.slowest_second = min(
        sum(s[i] if i < len(s) else 0 for s in seconds) for i in range(max(1, full))
    )
    run.settled, run.settle_s = settle(db, run.accepted, args.stall, args.settle)
    run.rss_peak = _mb(max([s[1] for s in sampler.samples] + [proc.memory_info().rss]))
    inside = [s for s in sampler.samples if s[0] <= t0 + run.wall]
    if len(inside) >= 2:
        (ta, _, ia), (tb, _, ib) = inside[0], inside[-1]
        run.stored_window = (ib - ia) / (tb - ta) if tb > ta else 0.0
    total = [sum(s[i] if i < len(s) else 0 for s in seconds) for i in range(full + 1)]
    run.dead_seconds = sum(1 for n in total[:full] if n == 0)
    run.lag_max = max(
        (sum(total[: int(s[0] - t0)]) - s[2] for s in inside), default=0
    )  # accepted by the whole seconds before the sample, not yet committed
    time.sleep(2.0)
    run.rss_after = _mb(proc.memory_info().rss)


def run_ui(workdir: Path, clients: int, args: argparse.Namespace, n: int) -> Run:
    run = Run("tui-monitor (dashboard, live)", clients, args.seconds)
    print(f"{run.name}: {clients} clients, {args.seconds:g} s ...", flush=True)
    cfg, db, sock = config(workdir, f"ui{n}")
    env = ui.app_env(workdir, truecolor=False) | {"TUI_MONITOR_CONFIG": str(cfg)}
    term = ui.Terminal(workdir)
    try:
        pid = term.launch([str(ui.APP)], env)
        term.wait_for(
            lambda s: "tui-monitor" in s[:200] and "ingest" in s[:400], "the dashboard", 20.0
        )
        flood(run, pid, db, sock, args, term)
        t0 = time.perf_counter()
        term.keys("q")
        if ui.gone(pid, 120.0):
            run.stop_s = time.perf_counter() - t0
    finally:
        term.close()
    run.stored = stored(db)
    return run


def run_headless(workdir: Path, clients: int, args: argparse.Namespace, n: int) -> Run:
    run = Run("tui-monitor record (headless)", clients, args.seconds)
    print(f"{run.name}: {clients} clients, {args.seconds:g} s ...", flush=True)
    cfg, db, sock = config(workdir, f"rec{n}")
    env = ui.app_env(workdir, truecolor=False) | {"TUI_MONITOR_CONFIG": str(cfg)}
    log = (workdir / f"rec{n}.log").open("wb")
    proc = subprocess.Popen(
        [str(ui.APP), "record", "--db", str(db)],
        env=os.environ | env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        flood(run, proc.pid, db, sock, args, None)
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        run.stop_s = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    run.stored = stored(db)
    return run


# -- profile ----------------------------------------------------------------------------


@dataclass
class Profile:
    seconds: float
    clients: int
    accepted: int = 0
    loop_cpu: float = 0.0
    writer_cpu: float = 0.0
    writer_wall: float = 0.0
    writes: int = 0
    written: int = 0
    """Events in the `write_batch` calls from the flood's start until the recorder stopped."""
    longest: tuple[int, float, float] = (0, 0.0, 0.0)
    """(events, CPU s, wall s) of the longest `write_batch` call."""
    caught_up: float = 0.0
    """Seconds from the flood's end until everything accepted was committed."""
    gc_pauses: list[tuple[int, float]] = field(default_factory=list)
    """(generation, seconds) of every cyclic-GC collection during the flood."""
    top: list[tuple[str, int, float, float]] = field(default_factory=list)
    """(function, calls, own s, cumulative s) by own time."""
    convoy: tuple[int, float, float] = (0, 0.0, 0.0)
    """(events, seconds alone, seconds beside a busy Python thread) of one `write_batch`."""


def profile(workdir: Path, args: argparse.Namespace) -> Profile:
    """The headless recorder in this process: cProfile on the event-loop thread, and the
    thread CPU and wall time of every `Writer.write_batch` (it runs in a worker thread, which
    cProfile does not see). Then the largest batch written again into a fresh file, alone and
    beside a thread running Python code, as the event loop does during a flood."""
    from tui_monitor.config import load_settings
    from tui_monitor.models import Snapshot
    from tui_monitor.recorder import Recorder
    from tui_monitor.store.writer import Batch, Writer

    out = Profile(args.profile, args.clients[0] if args.clients else 4)
    print(f"profile: headless in-process, {out.clients} clients, {out.seconds:g} s ...")
    cfg, db, sock = config(workdir, "prof")
    settings = load_settings(cfg)
    largest: list[Snapshot] = []
    measuring = threading.Event()

    class TimedStore(Writer):
        def write_batch(self, snapshots: Sequence[Snapshot]) -> Batch:
            nonlocal largest
            t, w = time.thread_time(), time.perf_counter()
            try:
                return super().write_batch(snapshots)
            finally:
                if measuring.is_set():
                    cpu, wall = time.thread_time() - t, time.perf_counter() - w
                    out.writer_cpu += cpu
                    out.writer_wall += wall
                    out.writes += 1
                    events = sum(len(s.events) for s in snapshots)
                    out.written += events
                    if wall > out.longest[2]:
                        out.longest = (events, cpu, wall)
                    if events > sum(len(s.events) for s in largest):
                        largest = list(snapshots)

    async def go() -> None:
        recorder = Recorder(settings, db)
        recorder.writer = TimedStore(db)
        stop = asyncio.Event()
        task = asyncio.create_task(recorder.run(stop))
        await asyncio.to_thread(wait_socket, sock, os.getpid())
        hub = recorder.hub
        assert hub is not None
        await asyncio.sleep(2.0)
        clients = await asyncio.to_thread(Clients, sock, out.clients, out.seconds, args.batch)
        prof = cProfile.Profile()
        started: list[float] = []

        def gc_timer(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[:] = [time.perf_counter()]
            elif started and measuring.is_set():
                out.gc_pauses.append((info["generation"], time.perf_counter() - started[0]))

        gc.callbacks.append(gc_timer)
        try:
            t = time.thread_time()
            measuring.set()
            prof.enable()
            clients.go()
            got = await asyncio.to_thread(clients.results, out.seconds + 120)
            prof.disable()
            out.loop_cpu = time.thread_time() - t
            out.accepted = sum(int(str(g["ok"])) for g in got)
            ended = time.perf_counter()
            while hub.stored < out.accepted and time.perf_counter() - ended < args.settle:
                await asyncio.sleep(0.1)
            out.caught_up = time.perf_counter() - ended
        finally:
            clients.close()
            stop.set()
            await task
            measuring.clear()
            gc.callbacks.remove(gc_timer)
        stats = pstats.Stats(prof)
        rows = []
        for (file, line, fn), (_cc, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
            where = f"{Path(file).name}:{line}" if line else file
            rows.append((f"{fn} ({where})", nc, tt, ct))
        out.top = sorted(rows, key=lambda r: -r[2])[: args.top]

    asyncio.run(go())
    if largest:
        snap = max(largest, key=lambda s: len(s.events))
        part = [snap.model_copy(update={"events": snap.events[:CONVOY]})]
        out.convoy = (len(part[0].events), *convoy(workdir, part))
    return out


def convoy(workdir: Path, batch: list[Any]) -> tuple[float, float]:
    """Seconds of one `write_batch(batch)` into a fresh file: alone, then while another
    thread runs Python code. sqlite3 lets go of the GIL around every row's step, and gets it
    back only when the busy thread yields it (every 5 ms, `sys.getswitchinterval()`)."""
    from tui_monitor.store.writer import Writer

    def timed(path: Path) -> float:
        store = Writer(path)
        try:
            t = time.perf_counter()
            store.write_batch(batch)
            return time.perf_counter() - t
        finally:
            store.close()

    alone = timed(workdir / "convoy-alone.db")
    stop = threading.Event()

    def spin() -> None:
        line = b'{"v":1,"type":"event","agent":"a","message":"m","data":{"i":1}}'
        while not stop.is_set():
            json.loads(line)

    busy = threading.Thread(target=spin, daemon=True)
    busy.start()
    try:
        beside = timed(workdir / "convoy-busy.db")
    finally:
        stop.set()
        busy.join()
    return alone, beside


# -- reporting --------------------------------------------------------------------------


def _ok(good: bool) -> str:
    return "PASS" if good else "FAIL"


def _keys(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values) * 1000:.0f} / {max(values) * 1000:.0f}"


def _short(r: Run) -> str:
    return "dashboard" if _is_ui(r) else "record"


def _is_ui(r: Run) -> bool:
    return r.name.startswith("tui-monitor (")


def tables(runs: list[Run]) -> str:
    lines = [
        "| program | clients | accepted ev/s | committed ev/s during | stored after exit / "
        "accepted | lost | all committed, s after the end | slowest 1 s (replies) | most "
        "accepted, not yet committed | seconds with no reply | batch RTT ms median / max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        done = f"{r.settle_s:.1f}"
        if r.settled < r.accepted:
            done = f"not all: {r.settled:,} when commits stopped, {r.settle_s:.1f} s after"
        lines.append(
            f"| {r.name} | {r.clients} | {r.accepted_rate:,.0f} | {r.stored_window:,.0f} | "
            f"{r.stored:,} / {r.accepted:,} | {r.lost:,} | {done} | "
            f"{r.slowest_second:,} | {r.lag_max:,} | {r.dead_seconds} | "
            f"{r.rtt_median * 1000:.0f} / "
            f"{r.rtt_max * 1000:.0f} |"
        )
    lines += [
        "",
        "| program | clients | RSS MB before / peak / after (growth) | CPU % app (main thread) "
        "| CPU % tmux | CPU % clients | CPU % others | box busy % | key ms `m` median / max "
        "| key ms `?` median / max | stop s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        stop = "-" if r.stop_s is None else f"{r.stop_s:.1f}"
        others = r.box_busy - r.cpu_app - r.cpu_tmux - r.cpu_clients
        tmux = f"{r.cpu_tmux:.0f}" if _is_ui(r) else "-"
        m = _keys(r.metric_keys) if _is_ui(r) else "-"
        h = _keys(r.help_keys) if _is_ui(r) else "-"
        lines.append(
            f"| {r.name} | {r.clients} | {r.rss_before:.1f} / {r.rss_peak:.1f} / "
            f"{r.rss_after:.1f} ({r.rss_peak - r.rss_before:+.1f}) | {r.cpu_app:.0f} "
            f"({r.cpu_main:.0f}) | {tmux} | {r.cpu_clients:.0f} | {others:.0f} | "
            f"{r.box_busy:.0f} | {m} | {h} | {stop} |"
        )
    return "\n".join(lines)


def profile_text(p: Profile) -> str:
    per = 1e6 / p.accepted if p.accepted else 0.0
    n, alone, beside = p.convoy
    lines = [
        f"Where the time goes (`--profile {p.seconds:g}`): the headless recorder in the "
        f"benchmark's own process, {p.clients} clients for {p.seconds:g} s, "
        f"{p.accepted:,} events accepted ({p.accepted / p.seconds:,.0f}/s under cProfile). "
        f"Event-loop thread: {p.loop_cpu:.1f} s CPU ({p.loop_cpu * per:.1f} µs per event, "
        f"cProfile's overhead included). WriteQueue thread, from the flood's start until all was "
        f"committed ({p.caught_up:.1f} s after the flood's end): {p.writes} `write_batch` "
        f"calls holding {p.written:,} events took {p.writer_cpu:.2f} s of its CPU "
        f"({p.writer_cpu * 1e6 / max(1, p.written):.1f} µs per event) and {p.writer_wall:.2f} "
        f"s of wall time; the longest held {p.longest[0]:,} events, {p.longest[1]:.2f} s CPU, "
        f"{p.longest[2]:.2f} s wall.",
    ]
    if n:
        lines[0] += (
            f" One tick of that flood cut to its first {n:,} events, written again into a "
            "fresh file: "
            f"{alone:.2f} s alone ({n / alone:,.0f} events/s), {beside:.2f} s while another "
            f"thread of the process runs Python code ({n / beside:,.0f} events/s, "
            f"{beside / alone:.0f}× slower): `sqlite3` lets go of the GIL around each row's "
            "step and gets it back only when the busy thread yields it "
            f"(`sys.getswitchinterval()` = {sys.getswitchinterval() * 1000:g} ms)."
        )
    full = [t for g, t in p.gc_pauses if g == 2]
    if p.gc_pauses:
        lines[0] += (
            f" Cyclic GC from the flood's start until all was committed: "
            f"{len(p.gc_pauses)} collections, {sum(t for _, t in p.gc_pauses):.2f} s in all; "
            f"{len(full)} of the oldest generation"
            + (f", {sum(full):.2f} s, the longest {max(full):.2f} s" if full else "")
            + " (they stop every thread, and walk every object the backlog holds)."
        )
    lines += [
        "",
        "Top functions of the event-loop thread by own time:",
        "",
        "| function | calls | own s | cumulative s | own µs per event |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, calls, own, cum in p.top:
        name = name.replace("|", "\\|")
        lines.append(f"| `{name}` | {calls:,} | {own:.2f} | {cum:.2f} | {own * per:.2f} |")
    return "\n".join(lines)


def held_bytes() -> float:
    """Bytes of Python heap per event accepted by the hub and not yet drained."""
    import tracemalloc

    import _flood

    from tui_monitor.ingest.hub import IngestHub

    hub = IngestHub(limit=HELD + 1)
    lines = _flood.lines(b"flood-0", 0, HELD, time.time()).splitlines()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for line in lines:
            hub.receive(line)
        return (tracemalloc.get_traced_memory()[0] - before) / HELD
    finally:
        tracemalloc.stop()


def _per_event(r: Run) -> float:
    """µs of the main thread (the event loop) per accepted event."""
    return r.cpu_main / 100 / r.accepted_rate * 1e6 if r.accepted_rate else 0.0


def verdicts(runs: list[Run], profiled: bool, per_event_bytes: float) -> str:
    out = []
    uis = [r for r in runs if _is_ui(r)]
    for r in uis:
        rate = min(r.accepted_rate, r.stored_window)  # into SQLite while it lasts
        short = "" if rate >= TARGET_RATE else f", {(1 - rate / TARGET_RATE) * 100:.0f}% short"
        growth = r.rss_peak - r.rss_before
        out.append(
            f"- {r.clients} client(s), UI open: **{_ok(rate >= TARGET_RATE and r.lost == 0)}** "
            f"rate: {r.accepted_rate:,.0f} ev/s accepted, {r.stored_window:,.0f} ev/s committed "
            f"during the flood, {r.stored:,} of {r.accepted:,} stored ({r.lost:,} lost"
            f"{', ' + str(r.rejected) + ' rejected' if r.rejected else ''}; "
            f"{r.stored / (r.wall + r.settle_s):,.0f} ev/s counting the catch-up after the end) "
            f"(target ≥ {TARGET_RATE:,.0f} ev/s into SQLite, sustained: committed during the "
            f"flood{short}); **{_ok(growth < TARGET_GROWTH)}** "
            f"RSS growth {growth:+.1f} MB (target < {TARGET_GROWTH:g} MB); keys answered in "
            f"{_keys(r.metric_keys + r.help_keys)} ms median / max"
            f"{f', {r.key_misses} not seen within 10 s' if r.key_misses else ''}."
        )
        if r.first_error:
            out.append(f"  First rejection: `{r.first_error}`.")
    for r in runs:
        if not _is_ui(r) and uis:
            base = next((u for u in uis if u.clients == r.clients), uis[0])
            out.append(
                f"- Headless, {r.clients} clients: {r.accepted_rate:,.0f} ev/s accepted "
                f"({r.accepted_rate / base.accepted_rate:.2f}× the dashboard's), "
                f"{r.stored_window:,.0f} ev/s committed during the flood, {r.lost:,} lost, RSS "
                f"growth {r.rss_peak - r.rss_before:+.1f} MB, CPU {r.cpu_app:.0f}% against "
                f"{base.cpu_app:.0f}% with the dashboard."
            )
    if not runs:
        return "\n".join(out)
    out.append("")
    out.append("Where it goes, from the figures above:")
    out.append("")
    lost = sum(r.lost for r in runs)
    out.append(
        "- "
        + (
            "Nothing was lost: every accepted event was in the database once the program had "
            "exited."
            if lost == 0
            else f"{lost:,} accepted events were not in the database after exit."
        )
    )
    per = ", ".join(
        f"{_short(r)} {r.clients}: {_per_event(r):.0f} µs ({r.cpu_main:.0f}% of a core)"
        for r in runs
    )
    out.append(
        "- The event loop (one thread: socket, parsing and validation, and with the dashboard "
        f"the UI) per accepted event: {per}. One core at 100% would take 1 s / that many "
        "µs events per second."
    )
    lag = ", ".join(
        f"{_short(r)} {r.clients}: {r.stored_window:,.0f} of {r.accepted_rate:,.0f} ev/s, "
        f"{r.cpu_app - r.cpu_main:.0f}% CPU"
        for r in runs
    )
    behind = [r for r in runs if r.stored_window < 0.9 * r.accepted_rate]
    out.append(
        "- The writer (committed during the flood vs accepted; CPU of the process's other "
        f"threads, the writer's and the sampler's): {lag}. "
        + (
            "It trails the replies in "
            + ", ".join(f"{_short(r)} {r.clients}" for r in behind)
            + ": the backlog waits in memory and is written after the flood (all committed, "
            "s after the end)"
            + (" — see the writer's CPU vs wall time below." if profiled else ".")
            if behind
            else "It keeps up: committed within 10% of accepted in every run."
        )
    )
    kb = ", ".join(
        f"{_short(r)} {r.clients}: {r.rss_peak - r.rss_before:+.0f} MB with at most "
        f"{r.lag_max:,} waiting"
        for r in runs
    )
    out.append(
        f"- RSS growth and the events accepted but not yet committed at the same time: {kb}. "
        f"An event waiting in the hub costs {per_event_bytes / 1024:.2f} KB (tracemalloc, "
        f"{HELD:,} of the flood's lines through `IngestHub.receive`): at "
        f"{TARGET_RATE:,.0f} ev/s, one 1 s tick's worth is "
        f"{TARGET_RATE * per_event_bytes / 2**20:.0f} MB before it is even handed to the "
        "writer."
    )
    return "\n".join(out)


def section(runs: list[Run], args: argparse.Namespace, env: str, prof: Profile | None) -> str:
    loads = "; ".join(f"{_short(r)} {r.clients}: {r.load}" for r in runs)
    parts = [
        f"## Ingest over the socket, UI open — {date.today().isoformat()}",
        f"Machine: {env}; at each flood's start {loads}; at the end {loadavg()}.",
        f"Command: `{command()}` ({args.code})",
        f"The program in a tmux pane of {ui.COLS}x{ui.ROWS} (TERM=xterm-256color), private "
        "config: interval 1 s, presets off, no agent rules (the flood's agents are the only "
        "rows), `[ingest] socket` in the run's own directory, default `pending` "
        f"({IngestSettings().pending:,}), "
        f"a fresh database per run. {args.warmup:g} s after the socket answers, N clients "
        "(bench/_flood.py, one process each, started together) send events of ~170 bytes "
        f"(agent, ts, level, kind, a message with a counter, a 3-key data object) for "
        f"{args.seconds:g} s, in batches of {args.batch} lines, reading all replies of a batch "
        'before the next. Accepted = `{"ok":true}` replies counted by the clients over '
        "their wall time; stored after exit = `events` rows of the flood's agents once the "
        "program has exited (lost = accepted - stored); all committed = seconds after the "
        "flood until the count, read-only every 0.25 s, equals the accepted count (a run "
        f"gives up after {args.stall:g} s without a commit); committed ev/s during = the "
        "highest committed `events.id`, sampled each second, over the flood window (commits "
        "trail the replies by a tick or two); slowest 1 s = fewest replies in one whole "
        "second, all clients together, and seconds with no reply = whole seconds in which no "
        "client got any; most accepted, not yet committed = the largest gap between replies "
        "and committed rows at a 1 s sample (what the process holds in memory). RSS of the "
        "program before the flood (after the warm-up), largest of the 1 s samples, and 2 s "
        "after everything was committed (the program still running). CPU = `cpu_times` "
        "delta / wall over the flood, % of one core: app (main thread = the event loop: "
        "socket, parsing, UI; the rest is the writer's and the sampler's worker threads), the "
        "tmux server, the clients, others = box busy (all CPUs of the box) minus those (other "
        "users of the shared box, kernel). Keys, during the flood: `m` (chart metric; until "
        "the chart's title shows the next metric) and `?` (help; until it shows, then `?` "
        f"again until it is gone), {args.presses} actions spread over the flood, "
        f"`capture-pane` polled every {ui.POLL * 1000:.0f} ms (wall clock, the polling "
        "included). MB = 2^20 bytes.",
        tables(runs),
        verdicts(runs, prof is not None, held_bytes()),
    ]
    if prof is not None:
        parts.append(profile_text(prof))
    return "\n\n".join(parts)


def code_version() -> str:
    """The commit measured, and whether tui_monitor/ differed from it (others edit it)."""

    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return proc.stdout.strip() if proc.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--", "tui_monitor")
    return f"commit {head}" + (", tui_monitor/ with uncommitted changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="flood length per run")
    parser.add_argument(
        "--clients", default="4,1,8", help="client counts for the dashboard runs (comma list)"
    )
    parser.add_argument(
        "--headless", default="4", help="client counts for `record` runs ('' for none)"
    )
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the flood")
    parser.add_argument("--batch", type=int, default=500, help="lines per batch per client")
    parser.add_argument(
        "--stall", type=float, default=30.0, help="after the flood: give up when no commit for"
    )
    parser.add_argument("--settle", type=float, default=180.0, help="... or after this long")
    parser.add_argument("--presses", type=int, default=15, help="key actions per UI run")
    parser.add_argument("--profile", type=float, default=0.0, help="seconds of a cProfile run")
    parser.add_argument("--top", type=int, default=15, help="functions shown from the profile")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    args.clients = [int(x) for x in args.clients.split(",") if x.strip()]
    headless = [int(x) for x in args.headless.split(",") if x.strip()]
    if not args.clients and not headless and args.profile <= 0:
        parser.error("nothing to run: --clients, --headless and --profile are all empty")
    ui.isolate()
    env = machine(*ui.tools())
    args.code = code_version()
    runs: list[Run] = []
    prof = None
    with ui.workspace() as workdir:
        try:
            for n, count in enumerate(args.clients):
                runs.append(run_ui(workdir, count, args, n))
            for n, count in enumerate(headless):
                runs.append(run_headless(workdir, count, args, n))
            if args.profile > 0:
                prof = profile(workdir, args)
        finally:
            ui.tmux_pane.reap_children()
    end = code_version()
    if end != args.code:
        args.code += f"; at the end {end}: the code changed during the run"
    publish(section(runs, args, env, prof), args.write)


if __name__ == "__main__":
    main()
