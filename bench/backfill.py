"""Benchmark (not a test): the whole backfill, as a real `tui-monitor record` does it.

bench/sessions.py measures the transcript reader alone; this measures what a person waits for:
the recorder started on a history of MB megabytes of Claude Code transcripts (bench/sessions.py's
generator, its line times moved into the backfill window) until every response is in the
SQLite history, priced. Figures: wall time from start to the last usage row committed, MB/s,
usage rows, and the recorder's peak RSS against the same recorder on an empty home (RSS growth).

    .venv/bin/python bench/backfill.py [--mb 256] [--write]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import sessions as transcripts
from _common import command, machine, publish

EXE = Path(sys.executable).parent / "tui-monitor"
QUIET = 5.0
"""Seconds with no new usage row after which the backfill counts as done."""


def usage_rows(db: Path) -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as c:
        try:
            return int(c.execute("SELECT count(*) FROM usage").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def record(home: Path, work: Path, watch: float | None) -> dict[str, float]:
    """Run a recorder on `home`'s files until its usage stops growing (or `watch` seconds)."""
    config = work / "config.toml"
    config.write_text(
        "interval = 1.0\n[presets]\nenabled = false\n[gpu]\nenabled = false\n"
        "[ingest]\nenabled = false\n"
    )
    db = work / "history.db"
    env = dict(os.environ)
    env |= {
        "TUI_MONITOR_CONFIG": str(config),
        "CLAUDE_CONFIG_DIR": str(home),
        "CODEX_HOME": str(work / "codex"),
        "GEMINI_CLI_HOME": str(work / "gemini"),
    }
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(EXE), "record", "--db", str(db)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ps = psutil.Process(proc.pid)
    peak = count = 0
    last_growth = started
    try:
        while True:
            time.sleep(0.25)
            with contextlib.suppress(psutil.Error):
                peak = max(peak, ps.memory_info().rss)
            now = time.monotonic()
            seen = usage_rows(db)
            if seen > count:
                count, last_growth = seen, now
            if watch is not None and now - started >= watch:
                break
            if watch is None and count and now - last_growth >= QUIET:
                break
    finally:
        proc.terminate()
        proc.wait(30)
    return {"seconds": last_growth - started, "rows": count, "peak_mb": peak / 2**20}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mb", type=int, default=256)
    p.add_argument("--write", action="store_true")
    p.add_argument("--note", default="")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tm-backfill-"))
    try:
        transcripts.START = time.time() - 21 * 86400  # inside the default backfill window
        home = tmp / "claude"
        t0 = time.monotonic()
        size, lines, files = transcripts.generate(home, args.mb)
        gen = time.monotonic() - t0
        (tmp / "empty").mkdir()
        (tmp / "w0").mkdir()
        empty = record(tmp / "empty", tmp / "w0", watch=8.0)
        (tmp / "w1").mkdir()
        full = record(home, tmp / "w1", watch=None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mb = size / 2**20
    rate = mb / full["seconds"]
    growth = full["peak_mb"] - empty["peak_mb"]
    day = time.strftime("%Y-%m-%d")
    peaks = f"{full['peak_mb']:.0f} / {empty['peak_mb']:.0f} MiB: **+{growth:.0f} MiB**"
    text = f"""## Session backfill through the recorder (bench/backfill.py) — {day}

{machine(note=args.note)}

Command: `{command()}` ({mb:.0f} MiB of Claude Code 2.1 transcripts in {files:,} files,
{lines:,} lines, generated in {gen:.1f} s by bench/sessions.py's generator with line times in
the last three weeks; page cache warm). A real `tui-monitor record` (1 s ticks, no presets,
no GPU, no socket) from start until the last usage row was committed (no new row for
{QUIET:.0f} s after it); RSS sampled every 0.25 s.

| figure | measured | target |
|---|---|---|
| backfill into the history | {full["seconds"]:.1f} s: **{rate:.0f} MiB/s** | >= 50 MB/s |
| usage rows committed (one per response) | {full["rows"]:,} | |
| recorder peak RSS, these files / an empty home | {peaks} | < 100 MB growth |
"""
    publish(text, args.write)


if __name__ == "__main__":
    main()
