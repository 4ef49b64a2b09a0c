"""Benchmark (not a test): the Claude Code transcript reader against the issue's targets.

Generates MB megabytes of transcripts in Claude Code 2.1's shape (sessions with subagent
files; user prompts, responses written as 2-4 growing copies with tool uses, tool results of
1-64 KB, turn ends and the other line types), about 2 KB a line as in the issue's 1 GB /
500k lines, into a temporary directory, then, each in a fresh interpreter:

- backfill: `ClaudeReader.poll` until nothing is left (every line parsed, every record made),
  reader alone and with an in-memory consumer (one record per key, as `records.supersedes`);
  wall, CPU, MB/s, RSS growth;
- steady tailing: ACTIVE sessions appended to once a second (by another process) among the
  generated files, polled every second for SECONDS: the reader's CPU as a share of a core.

    .venv/bin/python bench/sessions.py [--mb 256] [--active 20] [--seconds 60] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from _common import command, machine, publish

from tui_monitor.sessions.claude import ClaudeReader
from tui_monitor.sessions.records import SessionUsage

START = 1_767_261_600.0


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Writer:
    """One transcript file's lines, 2.1's shape, with filler standing for private text."""

    def __init__(self, path: Path, session: str, agent: str | None, rng: random.Random) -> None:
        self.path, self.session, self.agent, self.rng = path, session, agent, rng
        self.ts = START + rng.random() * 86400 * 20
        self.n = 0
        path.parent.mkdir(parents=True, exist_ok=True)

    def base(self, kind: str) -> dict[str, object]:
        self.n += 1
        self.ts += self.rng.random() * 3
        d: dict[str, object] = {
            "parentUuid": f"u{self.n - 1}",
            "isSidechain": self.agent is not None,
            "userType": "external",
            "cwd": "/home/dev/projects/app",
            "sessionId": self.session,
            "version": "2.1.9",
            "gitBranch": "main",
        }
        if self.agent:
            d["agentId"] = self.agent
        d.update(type=kind, uuid=f"{self.session}-{self.agent}-{self.n}", timestamp=iso(self.ts))
        return d

    def turn(self, filler: str) -> list[bytes]:
        rng = self.rng
        u = self.base("user")
        u["message"] = {"role": "user", "content": filler[: rng.randint(100, 800)]}
        lines = [u]
        for step in range(rng.randint(1, 4)):
            mid = f"msg_{self.session[:8]}_{self.agent}_{self.n}"
            copies = rng.randint(2, 4)
            final = rng.randint(20, 2000)
            for c in range(copies):
                a = self.base("assistant")
                block: dict[str, object] = (
                    {"type": "text", "text": filler[: rng.randint(200, 3000)]}
                    if c == 0
                    else {
                        "type": "tool_use",
                        "id": f"toolu_{self.n}",
                        "name": rng.choice(["Bash", "Read", "Edit", "Grep"]),
                        "input": {"command": filler[: rng.randint(50, 600)]},
                    }
                )
                out = final if c == copies - 1 else max(1, final * c // copies)
                a["message"] = {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-opus-4-5-20251101",
                    "content": [block],
                    "stop_reason": None,
                    "usage": {
                        "input_tokens": 3,
                        "cache_creation_input_tokens": 500 + step,
                        "cache_read_input_tokens": 20000 + step * 100,
                        "cache_creation": {
                            "ephemeral_5m_input_tokens": 0,
                            "ephemeral_1h_input_tokens": 500 + step,
                        },
                        "output_tokens": out,
                        "service_tier": "standard",
                        "iterations": [{"input_tokens": 3, "output_tokens": out}],
                    },
                }
                if c % 2 == 0:
                    a["requestId"] = f"req_{mid}"
                lines.append(a)
            r = self.base("user")
            size = min(65536, int(rng.expovariate(1 / 3000)) + 200)
            r["message"] = {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": filler[:size]}],
            }
            lines.append(r)
        s = self.base("system")
        s.update(subtype="turn_duration", durationMs=rng.randint(1000, 90000))
        lines.append(s)
        lines.append({"type": "file-history-snapshot", "messageId": "m", "snapshot": {}})
        return [json.dumps(x, separators=(",", ":")).encode() + b"\n" for x in lines]


def generate(root: Path, mb: int, seed: int = 7) -> tuple[int, int, int]:
    """(bytes, lines, files) written under root/projects."""
    rng = random.Random(seed)
    filler = "".join(rng.choice('abcdefghij klmnop\nqrstuvwxyz{}"\\') for _ in range(70000))
    total = lines = files = 0
    s = 0
    while total < mb << 20:
        s += 1
        session = f"{s:08d}-aaaa-bbbb-cccc-{rng.getrandbits(48):012x}"
        slug = root / "projects" / f"-home-dev-projects-app{s % 40}"
        writers = [Writer(slug / f"{session}.jsonl", session, None, rng)]
        for a in range(rng.choice([0, 0, 1, 3])):
            sub = slug / session / "subagents" / f"agent-a{a}{s:x}.jsonl"
            writers.append(Writer(sub, session, f"a{a}{s:x}", rng))
        for w in writers:
            chunk = b"".join(b"".join(w.turn(filler)) for _ in range(rng.randint(3, 40)))
            w.path.write_bytes(chunk)
            age = rng.uniform(2 * 3600, 20 * 86400)  # a history: written hours to weeks ago
            os.utime(w.path, (time.time() - age, time.time() - age))
            total += len(chunk)
            lines += chunk.count(b"\n")
            files += 1
    return total, lines, files


def backfill(root: Path, consume: bool) -> dict[str, float]:
    base_rss = rss_mb()
    keys: dict[str, tuple[int, int]] = {}
    records = 0
    t0, c0 = time.perf_counter(), cpu_s()
    with ClaudeReader([root / "projects"], root / "state.json") as reader:
        while True:
            got = reader.poll()
            records += len(got)
            if consume:
                for r in got:
                    if isinstance(r, SessionUsage):
                        old = keys.get(r.key)
                        if old is None or r.rank > old:
                            keys[r.key] = r.rank
            if not got and not reader.more:
                break
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        reader.save()
        counters = dict(reader.counters)
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_growth": rss_mb() - base_rss,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "base_rss": base_rss,
        "records": records,
        "lines": counters["lines"],
        "usage": counters["usage"],
        "keys": len(keys),
    }


def tail(root: Path, active: int, seconds: float) -> dict[str, float]:
    """Steady state: the backfill is done (state saved); ACTIVE files grow once a second."""
    files = sorted((root / "projects").rglob("*.jsonl"))
    grow = [str(p) for p in random.Random(3).sample(files, active)]
    code = (
        "import sys, time\n"
        "paths = sys.argv[2:]\n"
        "end = time.monotonic() + float(sys.argv[1])\n"
        "line = open(paths[0], 'rb').readline()\n"
        "while time.monotonic() < end:\n"
        "    for p in paths:\n"
        "        with open(p, 'ab') as f: f.write(line)\n"
        "    time.sleep(1)\n"
    )
    with ClaudeReader([root / "projects"], root / "state.json") as reader:
        while reader.poll() or reader.more:
            pass  # catch up with anything not in the saved state
        writer = subprocess.Popen([sys.executable, "-c", code, str(seconds), *grow])
        polls, lines0 = 0, reader.counters["lines"]
        c0, t0 = cpu_s(), time.monotonic()
        deadline = t0 + seconds
        while time.monotonic() < deadline:
            reader.poll()
            polls += 1
            time.sleep(max(0.0, t0 + polls - time.monotonic()))
        cpu, wall = cpu_s() - c0, time.monotonic() - t0
        writer.wait()
        lines = reader.counters["lines"] - lines0
    return {"cpu": cpu, "wall": wall, "polls": polls, "lines": lines, "files": len(files)}


def child(args: argparse.Namespace) -> None:
    if args.child == "tail":
        print(json.dumps(tail(args.root, args.active, args.seconds)))
    else:
        print(json.dumps(backfill(args.root, args.child == "consume")))


def run_child(kind: str, root: Path, args: argparse.Namespace) -> dict[str, float]:
    extra = ["--active", str(args.active), "--seconds", str(args.seconds)]
    cmd = [sys.executable, __file__, "--child", kind, "--root", str(root), *extra]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.splitlines()[-1]))


def run_all(args: argparse.Namespace) -> str:
    env = machine(note=args.note)
    root = Path(tempfile.mkdtemp(prefix="tui-monitor-bench-sessions-"))
    try:
        t0 = time.perf_counter()
        size, lines, files = generate(root, args.mb)
        gen_s = time.perf_counter() - t0
        mb = size / 2**20
        runs = []
        for _ in range(args.rounds):
            (root / "state.json").unlink(missing_ok=True)
            runs.append(run_child("reader", root, args))
        (root / "state.json").unlink(missing_ok=True)
        consumed = run_child("consume", root, args)
        steady = run_child("tail", root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    best = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    rate, cpu_rate = mb / best["wall"], mb / best["cpu"]
    growth = max(r["rss_growth"] for r in runs)
    share = 100 * steady["cpu"] / steady["wall"]
    today = datetime.now(UTC).date().isoformat()
    walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
    rows = [
        (
            f"backfill, reader alone (median of {len(runs)})",
            f"{best['wall']:.2f} s wall (runs: {walls}), {best['cpu']:.2f} s CPU: "
            f"**{rate:.0f} MiB/s** ({cpu_rate:.0f} MiB/s of CPU), "
            f"{best['lines'] / best['wall']:,.0f} lines/s",
            f"{verdict(rate >= 50)} >= 50 MB/s",
        ),
        (
            f"RSS growth during the backfill (largest of {len(runs)})",
            f"**+{growth:.1f} MB** (from {best['base_rss']:.0f} MB; "
            f"peak {best['peak_rss']:.0f} MB)",
            f"{verdict(growth < 100)} < 100 MB",
        ),
        (
            f"backfill with an in-memory consumer (a rank per key, {consumed['keys']:,} keys)",
            f"{consumed['wall']:.2f} s wall, {consumed['cpu']:.2f} s CPU, "
            f"{mb / consumed['wall']:.0f} MiB/s, RSS +{consumed['rss_growth']:.1f} MB",
            "(the consumer is the recorder's: SQLite)",
        ),
        (
            f"steady tailing: {args.active} sessions written once a second among "
            f"{steady['files']:,} files, polled each second for {steady['wall']:.0f} s",
            f"{steady['cpu'] * 1000:.0f} ms of CPU = **{share:.2f}% of a core**; "
            f"{steady['lines']:.0f} lines in {steady['polls']:.0f} polls",
            f"{verdict(share < 0.5)} < 0.5% at 1 s",
        ),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    return f"""## Claude Code transcripts: backfill and tailing (bench/sessions.py) — {today}

Machine: {env}.

Command: `{command()}` ({mb:.0f} MiB in {files:,} files, {lines:,} lines, {size / lines:,.0f}
bytes a line, written in {gen_s:.1f} s; page cache warm: they were just written). Each figure
comes from a fresh interpreter.

| figure | measured | target |
|---|---|---|
{table}

- Records made: {best["records"]:,} ({best["usage"]:,} usage records: every copy of a response
  that grew is handed out, the consumer keeps one per key).
- The generated files carry modification times from 2 hours to 20 days ago, as a history
  does: between full walks (every 10 s) only the directories and the files written within the
  last hour are stat'ed, and the follower is shown only the files that changed.
- 1 GB extrapolated from this run: {1024 / rate:.1f} s at the measured rate. Memory grows with
  what is read only through the map of recent response keys, capped at 65,536 keys (about
  15 MB); the rest (one 8 MiB poll's lines, a small record per session and file) does not.
"""


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--active", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--note", default="")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--child", choices=("reader", "consume", "tail"), help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        publish(run_all(args), args.write)


if __name__ == "__main__":
    main()
