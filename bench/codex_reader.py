"""Benchmark (not a test): the Codex rollout reader's own cost per megabyte of rollouts.

Generates SIZE MiB of rollouts into a temporary directory, shaped like real ones (mostly large
`response_item` lines: reasoning with encrypted content, tool calls and their outputs full of
escapes; a `turn_context` with instructions per turn; a `token_count` per response; one file in
four a fork copying its parent's history), then, in a fresh process, reads every file's
complete lines from the page cache and feeds them to one `CodexReader`:

- cutting lines alone (what any follower costs), then cutting and feeding (the reader's share
  is the difference), as MB/s of file bytes, ROUNDS times each;
- the reader's RSS growth over the whole corpus (its cross-file state).

This measures the reader, not the follower or the store: the issue's backfill target (>= 50
MB/s for 1 GB with < 100 MB RSS) is for the whole path, which the integration benchmarks.

    .venv/bin/python bench/codex_reader.py [--size 256] [--rounds 3] [--write]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psutil
from _common import command, machine, publish

from tui_monitor.sessions.codex import CodexReader

T0 = 1_780_000_000.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def line(ts: float, kind: str, payload: dict[str, object]) -> bytes:
    head = {"timestamp": iso(ts), "type": kind, "payload": payload}
    return json.dumps(head, separators=(",", ":")).encode() + b"\n"


def conversation(rng: random.Random, thread: str, born: float, turns: int) -> list[bytes]:
    out = [line(born, "session_meta", {
        "id": thread, "timestamp": iso(born), "cwd": "/home/dev/project", "originator": "x",
        "cli_version": "0.58.0", "instructions": "I" * 3000, "source": "cli",
        "git": {"branch": "main"},
    })]  # fmt: skip
    now, total = born, [0, 0, 0, 0]
    escaped = 'line "quoted"\t\\path\\ ünïcode\n'
    for _ in range(turns):
        now += 5
        out.append(line(now, "turn_context", {"cwd": "/home/dev/project", "model": "gpt-5-codex",
                                              "user_instructions": "U" * 2000}))  # fmt: skip
        out.append(line(now, "event_msg", {"type": "user_message", "message": "M" * 600}))
        for _ in range(rng.randint(2, 8)):
            now += rng.uniform(2, 20)
            out.append(line(now, "response_item", {"type": "reasoning", "summary": [],
                                                   "encrypted_content": "E" * 3000}))  # fmt: skip
            out.append(line(now, "response_item", {"type": "function_call", "name": "shell",
                                                   "arguments": '{"command":["rg","x"]}',
                                                   "call_id": "c"}))  # fmt: skip
            output = escaped * rng.randint(50, 400)
            out.append(line(now, "response_item", {"type": "function_call_output",
                                                   "call_id": "c", "output": output}))  # fmt: skip
            last = [rng.randint(5_000, 90_000), 0, rng.randint(10, 2_000), 0]
            last[1] = rng.randint(0, last[0])
            total = [a + b for a, b in zip(total, last, strict=True)]
            names = ("input_tokens", "cached_input_tokens", "output_tokens",
                     "reasoning_output_tokens")  # fmt: skip
            out.append(line(now, "event_msg", {"type": "token_count", "info": {
                "total_token_usage": dict(zip(names, total, strict=True)),
                "last_token_usage": dict(zip(names, last, strict=True)),
            }, "rate_limits": {"primary": {"used_percent": 10.0, "window_minutes": 300,
                                           "resets_at": 1780003600}}}))  # fmt: skip
        out.append(line(now, "event_msg", {"type": "agent_message", "message": "A" * 800}))
        out.append(line(now, "event_msg", {"type": "task_complete"}))
    return out


def generate(root: Path, size: int, seed: int = 1) -> tuple[int, int]:
    rng = random.Random(seed)
    written = files = 0
    born = T0
    while written < size << 20:
        born += 3600
        thread = f"{int(born * 1000):012x}"
        thread = f"{thread[:8]}-{thread[8:]}-7000-8000-{files:012x}"
        lines = conversation(rng, thread, born, rng.randint(2, 12))
        if files % 4 == 3:  # a fork: its own meta, the parent's copy, then its own turns
            child = f"{thread[:-12]}{files + 1:012x}"
            meta = json.loads(lines[0])
            meta["payload"] |= {"id": child, "forked_from_id": thread}
            lines = [json.dumps(meta).encode() + b"\n", *lines,
                     *conversation(rng, child, born + 600, 2)[1:]]  # fmt: skip
            thread = child
        day = date.fromtimestamp(born)
        folder = root / f"{day:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(born, UTC).strftime("%Y-%m-%dT%H-%M-%S")
        data = b"".join(lines)
        (folder / f"rollout-{stamp}-{thread}.jsonl").write_bytes(data)
        written += len(data)
        files += 1
    return written, files


def measure(root: Path, rounds: int) -> dict[str, object]:
    """In this (fresh) process: lines cut only, then cut and fed, ROUNDS times each."""
    paths = sorted(root.rglob("rollout-*.jsonl"))
    size = sum(p.stat().st_size for p in paths)
    cut, fed = [], []
    rss: list[float] = []
    records = 0
    for _ in range(rounds):
        start = time.perf_counter()
        for p in paths:
            for _n, _data in enumerate(p.read_bytes().split(b"\n")[:-1], 1):
                pass
        cut.append(time.perf_counter() - start)
        reader = CodexReader()
        before = psutil.Process().memory_info().rss / 2**20
        start = time.perf_counter()
        records = 0
        for p in paths:
            name = str(p)
            for n, data in enumerate(p.read_bytes().split(b"\n")[:-1], 1):
                records += len(reader.feed(name, n, data))
        fed.append(time.perf_counter() - start)
        rss.append(psutil.Process().memory_info().rss / 2**20 - before)
    return {"size": size, "files": len(paths), "cut": cut, "fed": fed, "records": records,
            "lines": reader.counters["lines"], "rss": rss[0]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="MiB of rollouts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.rounds)))
        return
    with tempfile.TemporaryDirectory(prefix="codex-bench-") as tmp:
        root = Path(tmp)
        written, files = generate(root, args.size)
        run = [sys.executable, __file__, "--child", str(root), "--rounds", str(args.rounds)]
        result = json.loads(subprocess.run(run, check=True, capture_output=True).stdout)
    mb = result["size"] / 1e6
    cut, fed = statistics.median(result["cut"]), statistics.median(result["fed"])
    reader = fed - cut
    text = f"""## Codex rollout reader (bench/codex_reader.py) — {date.today():%Y-%m-%d}

Machine: {machine()}.

Command: `{command()}` ({written / 2**20:.0f} MiB in {files} rollouts, one in four a fork;
page cache warm: just written). A fresh process; medians of {args.rounds} rounds.

| figure | measured |
|---|---|
| lines cut only (any follower's floor) | {cut:.2f} s = {mb / cut:.0f} MB/s |
| lines cut and fed to `CodexReader` | {fed:.2f} s = {mb / fed:.0f} MB/s |
| the reader's own share | {reader:.2f} s = {mb / reader:.0f} MB/s of rollouts |
| records out / lines in | {result["records"]:,} / {result["lines"]:,} |
| RSS growth, first round (the reader's cross-file state) | {result["rss"]:+.1f} MB |

Most bytes are `response_item` lines the reader skips on their head (`_PREFIX`) without
parsing; the lines it parses (metas, turn contexts, token counts, tool calls) are small.
"""
    publish(text, args.write)


if __name__ == "__main__":
    main()
