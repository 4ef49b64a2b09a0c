"""Benchmark (not a test): sessions in the history (store/sessions.py) on a month of usage.

Writes DAYS days of real agents' usage through the real `Writer` into a fresh file in a
temporary directory: SESSIONS_PER_DAY sessions a day (claude-code, codex and gemini in turn),
each growing over a few ticks with its usage (PER_SESSION records, a request id each, 5%
unpriced), plus as many records reported by agents over the protocol (no session), so the
session usage is half the table. Then, each REPS times on the closed file (median, ms):

- `History.session_summaries()` over every session, and with `--since 7d`-style bounds;
- `History.session_seed(since, keys_since)` as the recorder's restart calls it (sessions of
  the backfill window, request keys of the last day);
- the whole `tui-monitor sessions --json` command as a subprocess (start-up included);

with the query plans, before and after `ANALYZE` (the recorder never runs it), so a plan that
stops using the indexes shows here. And the writer's cost of a tick's session upserts.

    .venv/bin/python bench/session_history.py [--days 31] [--sessions-per-day 60]
        [--per-session 80] [--reps 7] [--write]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import command, machine, publish

from tui_monitor.models import GpuStatus, HostSample, SessionMeta, Snapshot, UsageRecord
from tui_monitor.store import sessions
from tui_monitor.store.queries import History
from tui_monitor.store.writer import Writer

START = 1_767_225_600.0  # 2026-01-01 00:00 UTC
FAMILIES = (("claude-code", "claude"), ("codex", "codex"), ("gemini", "gemini"))
MODELS = {
    "claude-code": ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"),
    "codex": ("gpt-5-codex", "gpt-5"),
    "gemini": ("gemini-2.5-pro", "gemini-2.5-flash"),
}
HOST = HostSample(
    hostname="bench", boot_time=START - 86400, cpu_count=2, cpu_utilization=1.0,
    cpu_per_core=None, load_1=None, load_5=None, load_15=None, ram_used=1, ram_total=2,
    ram_available=1, swap_used=0, swap_total=0, disk_read_bps=None, disk_write_bps=None,
    net_rx_bps=None, net_tx_bps=None,
)  # fmt: skip
GPU = GpuStatus(available=False, reason="bench")
TICKS_PER_SESSION = 4


def tick(seq: int, when: float, changes: list[SessionMeta], usage: list[UsageRecord]) -> Snapshot:
    return Snapshot(
        seq=seq, ts=datetime.fromtimestamp(when, UTC), interval=1.0, lag=0.0, duration=0.0,
        host=HOST, gpu=GPU, agents=(), session_changes=tuple(changes), usage=tuple(usage),
    )  # fmt: skip


def fill(path: Path, days: int, per_day: int, per_session: int, seed: int) -> tuple[int, float]:
    """The month, a day per batch; returns (usage rows, seconds spent in write_batch)."""
    rng = random.Random(seed)
    store = Writer(path)
    rows, spent, seq = 0, 0.0, 0
    try:
        for day in range(days):
            snaps: list[Snapshot] = []
            for n in range(per_day):
                family, prefix = FAMILIES[n % 3]
                sid = f"{rng.getrandbits(128):032x}"
                agent = f"{prefix}:{sid[:8]}"
                begin = START + day * 86400 + n * (86400 / per_day)
                models: list[str] = []
                for t in range(TICKS_PER_SESSION):
                    now = begin + t * 300
                    model = rng.choice(MODELS[family])
                    if model not in models:
                        models.append(model)
                    meta = SessionMeta(
                        family=family, session_id=sid, agent=agent, cwd=f"/home/u/p{n % 17}",
                        git_branch="main", version="2.1.0", models=tuple(models),
                        first_ts=begin, last_ts=now,
                    )  # fmt: skip
                    used = []
                    for i in range(per_session // TICKS_PER_SESSION):
                        priced = rng.random() >= 0.05
                        cw = rng.randrange(4000)
                        used.append(
                            UsageRecord(
                                ts=datetime.fromtimestamp(now + i, UTC), agent=agent,
                                session=sid, model=model, request_id=f"req_{t}_{i}",
                                input_tokens=rng.randrange(50), output_tokens=rng.randrange(2000),
                                cache_read_tokens=rng.randrange(80_000), cache_write_tokens=cw,
                                cache_write_1h_tokens=rng.randrange(cw + 1),
                                cost_usd=rng.random() / 10 if priced else None,
                                cost_source="builtin" if priced else None,
                            )
                        )  # fmt: skip
                        used.append(
                            UsageRecord(
                                ts=datetime.fromtimestamp(now + i, UTC), agent=f"rep{n % 9}",
                                model="gpt-4o", input_tokens=100, output_tokens=10,
                                cost_usd=0.001, cost_source="agent",
                            )
                        )  # fmt: skip
                    seq += 1
                    rows += len(used)
                    snaps.append(tick(seq, now, [meta], used))
            snaps.sort(key=lambda s: s.ts)
            t0 = time.perf_counter()
            store.write_batch(snaps)
            spent += time.perf_counter() - t0
    finally:
        store.close()
    return rows, spent


def timed(fn: object, reps: int) -> float:
    """Median milliseconds of `fn()` over `reps` calls."""
    assert callable(fn)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def plans(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        out = {}
        for name, sql, params in (
            ("summaries, all", sessions._SUMMARY.format(where=""), ()),
            ("summaries, since", sessions._SUMMARY.format(where="WHERE s.last_ts >= ?"), (0,)),
            ("seed keys", sessions._KEYS, (0,)),
        ):
            rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            out[name] = "; ".join(r[3] for r in rows)
        return out
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--sessions-per-day", type=int, default=60)
    parser.add_argument("--per-session", type=int, default=80)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tm-sessbench-") as tmp:
        path = Path(tmp) / "history.db"
        rows, spent = fill(path, args.days, args.sessions_per_day, args.per_session, args.seed)
        n_sessions = args.days * args.sessions_per_day
        h = History(path)
        end = START + args.days * 86400
        week = int((end - 7 * 86400) * 1000)
        day = int((end - 86400) * 1000)
        cli = [str(Path(sys.executable).parent / "tui-monitor"), "sessions", "--json",
               "--db", str(path)]  # fmt: skip
        results: list[tuple[str, float]] = []
        for label in ("without statistics", "after ANALYZE"):
            if label == "after ANALYZE":
                conn = sqlite3.connect(path)
                conn.execute("ANALYZE")
                conn.close()
            found = plans(path)
            results += [
                (f"`session_summaries()`, all {n_sessions} ({label})",
                 timed(lambda: h.session_summaries(), args.reps)),
                (f"`session_summaries(since 7 days)` ({label})",
                 timed(lambda: h.session_summaries(week), args.reps)),
                (f"`session_seed(month, keys of a day)` ({label})",
                 timed(lambda: h.session_seed(0, day), args.reps)),
            ]  # fmt: skip
            if label == "without statistics":
                plain_plans = found
        results.append(
            (
                "`tui-monitor sessions --json`, whole command",
                timed(lambda: subprocess.run(cli, capture_output=True, check=True), 3),
            )
        )
        size = path.stat().st_size
    per_tick = spent / (n_sessions * TICKS_PER_SESSION) * 1000
    lines = [
        f"## Sessions in the history — {datetime.now(UTC):%Y-%m-%d}",
        "",
        f"Machine: {machine(f'SQLite {sqlite3.sqlite_version}')}.",
        "",
        f"Command: `{command()}`",
        "",
        f"{args.days} days: {n_sessions:,} sessions (claude-code, codex, gemini in turn), each "
        f"written as {TICKS_PER_SESSION} upserts with its usage; {rows:,} usage rows, half of "
        f"them session usage (5% unpriced), half reported with no session; file "
        f"{size / 2**20:.0f} MiB. Median of {args.reps} calls on the closed file (3 for the "
        "command), ms. The recorder never runs ANALYZE; both are shown.",
        "",
        "| query | ms |",
        "|---|---:|",
        *(f"| {what} | {ms:,.1f} |" for what, ms in results),
        "",
        "Plans (without statistics; the same after ANALYZE unless said):",
        "",
        *(f"- {name}: `{plan}`" for name, plan in plain_plans.items()),
        *(
            f"- after ANALYZE, {name}: `{plan}`"
            for name, plan in found.items()
            if plan != plain_plans[name]
        ),
        "",
        f"Writing it: {spent:.1f} s in `write_batch` for all, {per_tick:.2f} ms per tick of "
        f"one session change and {rows // (n_sessions * TICKS_PER_SESSION)} usage rows (half "
        "of them the session's).",
    ]
    publish("\n".join(lines) + "\n", args.write)


if __name__ == "__main__":
    main()
