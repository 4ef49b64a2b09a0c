"""Benchmark (not a test): how long `tui-monitor record` takes to start on a month of usage.

A history holding ROWS usage rows spread over this month so far (12 agents, 4 models: costs
from the price table, from the agent, none, mixed; stored as the recorder stores them) is
built once. Then, in this process, the month's
spend is read into a ledger row by row (each row a model, added: how the recorder
started before) and from aggregates (`recorder.seed_ledger`), checked equal. Then the real
console script, `tui-monitor record -v` on a fresh copy each round: seconds from spawn until
the socket accepts a connection, and until the first batch is committed. With `--before REV`
the same console script runs on the tui_monitor of git revision REV too (PYTHONPATH), in the
same run, so both sit under the same load.

    .venv/bin/python bench/startup.py [--rows 147000] [--rounds 5] [--before REV] [--write]

REV must know the history's schema (the file is made by this checkout's writer).

`--write` replaces today's section in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _common import ROOT, command, exit_on_signals, machine, p90, publish

from tui_monitor.config import Settings
from tui_monitor.cost.ledger import Ledger
from tui_monitor.cost.prices import ModelPrice, PriceTable, price
from tui_monitor.cost.tick import month_start_ms
from tui_monitor.recorder import seed_ledger
from tui_monitor.store.queries import History
from tui_monitor.store.writer import Writer

EXE = Path(sys.executable).parent / "tui-monitor"
PRICES = {
    "claude-*": ModelPrice(input=3.0, output=15.0),
    "mixed": ModelPrice(input=1.0, output=2.0),
}
MODELS = ("claude-sonnet-4", "self-costed", "unpriced", "mixed")


def build(db: Path, rows: int) -> None:
    """ROWS usage rows from the start of the month until now, as a month of agents leaves."""
    rng = random.Random(1)
    table = PriceTable(PRICES)
    start = month_start_ms() + 86_400_000  # month_start_ms is a day early
    now = int(time.time() * 1000)
    span = max(now - start, 3_600_000)
    out = []
    for i in range(rows):
        model = rng.choice(MODELS)
        tokens = [rng.randrange(20000), rng.randrange(4000), rng.randrange(50000), 0]
        cost, source = None, None  # as the recorder stores it: priced once, when recorded
        if model == "self-costed" or (model == "mixed" and rng.random() < 0.5):
            cost, source = rng.randrange(1, 5000) / 1e5, "agent"
        elif (found := price(table, model, (tokens[0], tokens[1], tokens[2], 0))) is not None:
            cost, source = found, "prices"
        ts = now - span + span * i // rows
        out.append((ts, f"agent-{rng.randrange(12)}", model, *tokens, cost, source, f"req-{i}"))
    Writer(db).close()
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO usage (ts, agent, model, input_tokens, output_tokens, cache_read_tokens, "
        "cache_write_tokens, cost_usd, cost_source, request_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        out,
    )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def seed_times(db: Path, rounds: int) -> tuple[list[float], list[float]]:
    """Seconds to read the month into a ledger: row by row, and from aggregates."""
    old: list[float] = []
    new: list[float] = []
    for _ in range(rounds):
        t = time.perf_counter()
        by_row = Ledger()
        for _, record in History(db).usage_since(month_start_ms()):
            by_row.add(record)
        old.append(time.perf_counter() - t)
        t = time.perf_counter()
        seeded = Ledger()
        seed_ledger(History(db), seeded)
        new.append(time.perf_counter() - t)
        a, b = by_row.summary(), seeded.summary()
        same = (a.month.tokens, a.month.records, a.month.unknown) == (
            b.month.tokens,
            b.month.records,
            b.month.unknown,
        ) and abs(a.month.cost - b.month.cost) <= 1e-9 * max(1.0, a.month.cost)
        if not same:
            raise SystemExit(f"the seeded ledger differs: {a.month} vs {b.month}")
    return old, new


def start_times(
    db: Path, work: Path, rounds: int, pythonpath: Path | None
) -> tuple[list[float], list[float]]:
    """Seconds from spawn until the socket accepts, and until the first commit."""
    listen: list[float] = []
    commit: list[float] = []
    for i in range(rounds):
        run = work / f"run-{i}"
        run.mkdir()
        copy = run / "h.db"
        shutil.copy(db, copy)
        sock = run / "s"
        config = run / "c.toml"
        config.write_text(
            "interval = 1.0\n[presets]\nenabled = false\n[gpu]\nenabled = false\n"
            f'[prices."claude-*"]\ninput = 3.0\noutput = 15.0\n'
            f'[ingest]\nsocket = "{sock}"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_MONITOR_")}
        env |= {"TUI_MONITOR_CONFIG": str(config), "XDG_DATA_HOME": str(run / "data")}
        if pythonpath is not None:
            env["PYTHONPATH"] = str(pythonpath)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(EXE), "record", "--db", str(copy), "-v"],
            cwd=run,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            while True:
                with socket.socket(socket.AF_UNIX) as probe:
                    try:
                        probe.connect(str(sock))
                        break
                    except OSError:
                        pass
                if proc.poll() is not None or time.perf_counter() - t0 > 120:
                    raise SystemExit(f"the recorder never listened (exit {proc.returncode})")
                time.sleep(0.002)
            listen.append(time.perf_counter() - t0)
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("committed ticks"):
                    commit.append(time.perf_counter() - t0)
                    break
        finally:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(run)
    return listen, commit


def old_tree(rev: str, work: Path) -> Path:
    """tui_monitor as it was at git revision `rev`, for PYTHONPATH."""
    target = work / f"tree-{rev}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "tui_monitor", "styles.tcss"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s (p90 {p90(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=147_000, help="usage rows this month")
    parser.add_argument("--rounds", type=int, default=5, help="measured starts per variant")
    parser.add_argument("--before", metavar="REV", help="also start the recorder of git REV")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    exit_on_signals()
    env = machine(f"SQLite {sqlite3.sqlite_version}")
    Settings()  # imports before measuring
    with tempfile.TemporaryDirectory(prefix="tuimon-startup-") as tmp:
        work = Path(tmp)
        db = work / "month.db"
        print(f"building {args.rows} usage rows ...", file=sys.stderr, flush=True)
        build(db, args.rows)
        size = db.stat().st_size / 2**20
        old_seed, new_seed = seed_times(db, args.rounds)
        rows = [("this branch", *start_times(db, work, args.rounds, None))]
        if args.before:
            tree = old_tree(args.before, work)
            rows.insert(0, (f"before ({args.before})", *start_times(db, work, args.rounds, tree)))
    lines = [
        f"## Recorder start-up with a month of usage — {date.today().isoformat()}",
        f"Machine: {env}.",
        f"Command: `{command()}`",
        f"A history of {args.rows:,} usage rows ({size:.1f} MiB) spread over this month so far, "
        f"12 agents, 4 models (costs from the price table, from the agent, none, mixed); "
        f"{args.rounds} rounds each, medians (p90).",
        "| reading the month into the ledger | time |\n|---|---|\n"
        f"| row by row (a model per row, added; the old start) | {fmt(old_seed)} |\n"
        f"| from aggregates (`seed_ledger`: GROUP BY, the last hour by row) | {fmt(new_seed)} |",
        "| `tui-monitor record` | socket accepts | first batch committed |\n|---|---|---|\n"
        + "\n".join(f"| {name} | {fmt(listen)} | {fmt(commit)} |" for name, listen, commit in rows),
        "Both ledgers are checked equal (tokens, records, unknown; cost to 1e-9). The socket "
        "now listens before the month is read, and the sampler starts once it is.",
    ]
    publish("\n\n".join(lines), args.write)


if __name__ == "__main__":
    main()
