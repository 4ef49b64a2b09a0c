"""Benchmark (not a test): does `serve` with browsers open slow the recorder down?

One real `tui-monitor record` (1 s ticks, 20 `sleep` agents matched by an `[[agents]]`
rule, presets, GPU and OTLP off) and one `tui-monitor serve` on its database. Two windows of
`--seconds` each, in one run on one machine: first no browser, then 3 pages of the system
chromium (headless, Playwright) open on serve, each its own session process. Reported per
window: the recorder's tick lag (seconds each tick started after its deadline, as it stored
them: median and p90), the recorder's CPU, and what serve, its sessions and chromium cost.

    .venv/bin/python bench/serve.py [--seconds 30] [--write]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from _common import (
    ProcessGroup,
    become_subreaper,
    command,
    exit_on_signals,
    loadavg,
    machine,
    p90,
    publish,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from serve_proc import free_port  # noqa: E402
from web_page import launch, open_page, screen_text  # noqa: E402

TUI = str(Path(sys.executable).parent / "tui-monitor")
AGENTS = 20
PAGES = 3


@dataclass
class Window:
    lags: list[float]
    cpu: dict[str, float]
    """% of one core over the window, by who."""


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def tree(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    return []


def newest_tick(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM ticks").fetchone()[0])


def lags(db: Path, after: int, upto: int) -> list[float]:
    with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT lag FROM ticks WHERE id > ? AND id <= ?", (after, upto))
        return [float(r[0]) for r in rows]


def measure(db: Path, seconds: float, who: dict[str, list[psutil.Process]]) -> Window:
    first, start = newest_tick(db), time.monotonic()
    before = {name: cpu_seconds(procs) for name, procs in who.items()}
    time.sleep(seconds)  # the window itself
    wall = time.monotonic() - start
    after = {name: cpu_seconds(procs) for name, procs in who.items()}
    last = first + int(seconds)
    deadline = time.monotonic() + 30
    while newest_tick(db) < last and time.monotonic() < deadline:  # its batch in the file
        time.sleep(0.1)
    cpu = {name: 100 * (after[name] - before[name]) / wall for name in who}
    return Window(lags(db, first, last), cpu)


def run(seconds: float) -> tuple[Window, Window, str]:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    db, config = tmp / "history.db", tmp / "config.toml"
    config.write_text(
        "interval = 1.0\n[presets]\nenabled = false\n[gpu]\nenabled = false\n"
        f'[otlp]\nenabled = false\n[ingest]\nsocket = "{tmp / "ingest.sock"}"\n'
        '[[agents]]\nname = "napper"\ncmdline = "sleep 7919"\n'
    )
    env_args = ["--config", str(config)]
    group = ProcessGroup()
    try:
        for _ in range(AGENTS):
            group.spawn(["sleep", "7919"])
        record = subprocess.Popen(
            [TUI, *env_args, "record", "--db", str(db)], stderr=subprocess.DEVNULL
        )
        port = free_port()
        serve = subprocess.Popen(
            [TUI, *env_args, "serve", "--db", str(db), "--port", str(port)],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert serve.stderr is not None
            url = ""
            while not url:
                line = serve.stderr.readline()
                if not line:
                    raise SystemExit("serve exited before printing its URL")
                found = re.search(r"http://\S+\?token=\S+", line)
                url = found.group(0) if found else ""
            while not db.exists() or newest_tick(db) < 3:
                time.sleep(0.2)
            quiet = measure(db, seconds, {"recorder": tree(record.pid), "serve": tree(serve.pid)})
            with sync_playwright() as p:
                browser = launch(p)
                pages = [open_page(browser, url) for _ in range(PAGES)]
                for page in pages:  # each session shows the dashboard before the window opens
                    while "napper" not in screen_text(page):
                        page.wait_for_timeout(100)
                sessions = tree(serve.pid)[1:]
                who = {
                    "recorder": tree(record.pid),
                    "serve": tree(serve.pid)[:1],
                    f"{PAGES} sessions": sessions,
                    "chromium": chromium_procs(),
                }
                busy = measure(db, seconds, who)
                browser.close()
        finally:
            for proc in (serve, record):
                proc.terminate()
                proc.wait(20)
    finally:
        group.close()
    return quiet, busy, f"{AGENTS} agents"


def chromium_procs() -> list[psutil.Process]:
    """Our chromium (Playwright's child) and its renderers."""
    me = psutil.Process()
    return [c for c in me.children(recursive=True) if "chromium" in c.name().lower()]


def row(name: str, w: Window) -> str:
    lag_ms = [x * 1000 for x in w.lags]
    med = statistics.median(lag_ms) if lag_ms else 0.0
    cpu = ", ".join(f"{who} {pct:.1f}" for who, pct in w.cpu.items())
    return f"| {name} | {len(lag_ms)} | {med:.2f} | {p90(lag_ms):.2f} | {max(lag_ms):.2f} | {cpu} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--write", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    exit_on_signals()
    become_subreaper()
    import importlib.metadata as md

    versions = [f"textual-serve {md.version('textual-serve')}", chromium_version()]
    box = machine(*versions)
    quiet, busy, fleet = run(args.seconds)
    change = p90([x * 1000 for x in busy.lags]) - p90([x * 1000 for x in quiet.lags])
    text = "\n".join(
        [
            f"## serve: the recorder's tick lag with 0 and {PAGES} browsers "
            f"({time.strftime('%Y-%m-%d')})",
            "",
            f"Machine: {box}; at the end {loadavg()}",
            "",
            f"Command: `{command()}`",
            "",
            f"One `tui-monitor record` (1 s ticks, {fleet}: `sleep`s matched by one rule) and "
            f"one `tui-monitor serve` on its database; two {args.seconds:g} s windows one after "
            f"the other: no page open, then {PAGES} pages of headless chromium (one browser, "
            "each page its own session process, each showing the dashboard before the window "
            "starts). Lag: what the recorder stored for each tick of the window. CPU: % of one "
            "core over the window (user+system of each process tree).",
            "",
            "| window | ticks | lag median ms | lag p90 ms | lag max ms | CPU % of one core |",
            "|---|---:|---:|---:|---:|---|",
            row("no browser", quiet),
            row(f"{PAGES} browsers", busy),
            "",
            f"- p90 lag with {PAGES} browsers minus without: {change:+.2f} ms (issue 17: "
            "the recorder's tick lag unchanged).",
        ]
    )
    publish(text + "\n", args.write)
    print(json.dumps({"quiet": quiet.__dict__, "busy": busy.__dict__}), file=sys.stderr)


def chromium_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["chromium", "--version"], capture_output=True, text=True, timeout=20)
        return out.stdout.strip().split(" built")[0]
    return "chromium ?"


if __name__ == "__main__":
    main()
