"""One demo agent: `python -m tui_monitor.demo.agent --name NAME --role ROLE --socket PATH`.

A real process that does a little real work and reports it over the ingest socket the way a
real agent would: heartbeats with a status, a task, a queue depth and metrics; events at every
level; now and then an error with a stack; token usage with costs. Each role adds a behaviour
worth watching:

    worker  the plain case
    burst   burns a CPU core for 0.5-2 s, then rests
    grow    grows its memory in steps up to a cap, releases it, grows again
    spawn   keeps 1-3 child processes (`--child-of NAME`) that come and go
    crash   raises after a random time between --crash-after and twice that (exit status 1)
    silent  stops its heartbeats after --silent-after seconds but keeps running (goes stale)

Standard library (and the stdlib-only `tui_monitor.client`) only: a few dozen of these run
at once. An agent stops on SIGTERM (its children first) and by itself once the process that
started it is gone (its parent pid changed), so a killed fleet leaves nothing behind.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from tui_monitor.client import Reporter

ROLES = ("worker", "burst", "grow", "spawn", "crash", "silent")
KINDS = {
    "worker": "worker",
    "burst": "coding",
    "grow": "inference",
    "spawn": "worker",
    "crash": "coding",
    "silent": "worker",
}
MODELS: tuple[tuple[str, float, float], ...] = (
    ("claude-sonnet-4-5", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("gpt-5", 1.25, 10.0),
    ("gpt-5-mini", 0.25, 2.0),
)
"""Model, USD per million input and output tokens: illustrative demo figures only."""

TICK = 0.25
"""Seconds between looks at the work, the clock, SIGTERM and the parent."""
MiB = 1024 * 1024

TASKS = {
    "worker": ("plan ticket #{n}", "split epic #{n} into tasks", "route request #{n}"),
    "burst": ("implement ticket #{n}", "run the test suite for #{n}", "refactor module {mod}"),
    "grow": ("embed batch {n} (512 docs)", "rebuild vector index shard {n}", "warm cache {mod}"),
    "spawn": ("index repo shard {n}", "crawl docs section {n}", "parse {mod} sources"),
    "crash": ("review PR #{n}", "check the diff of PR #{n}", "summarise PR #{n} for {mod}"),
    "silent": ("fetch page batch {n}", "poll upstream feed {n}", "sync {mod} mirror"),
}
MODULES = ("auth", "billing", "search", "ingest", "ui", "scheduler", "storage")
TOOLS = ("git", "ripgrep", "pytest", "npm", "docker", "curl")
INFO: tuple[str, ...] = (
    "picked up {task}",
    "finished {task} in {secs:.1f}s",
    "cache hit rate {pct}%",
    "tool call: {tool} (exit 0)",
    "wrote {n} lines to {mod}/",
)
WARNING: tuple[str, ...] = (
    "rate limited by the provider, retrying in {secs:.0f}s",
    "slow response from {model} ({secs:.1f}s)",
    "context window {pct}% full, summarising",
)
ERROR: tuple[str, ...] = (
    "tool call failed: {tool} exited 1",
    "request to {model} timed out after 30s",
)


def _words(rng: random.Random) -> dict[str, object]:
    return {
        "n": rng.randint(100, 999),
        "mod": rng.choice(MODULES),
        "tool": rng.choice(TOOLS),
        "model": rng.choice(MODELS)[0],
        "secs": rng.uniform(0.5, 30.0),
        "pct": rng.randint(40, 97),
    }


class Agent:
    """The loop of one agent: its role's work, then what it has to say, every TICK."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.name: str = args.name
        self.role: str = args.role
        self.socket = Path(args.socket)
        self.rng = random.Random(args.seed)
        self.args = args
        self.parent = os.getppid()
        self.stopping = False
        self.report: Reporter | None = None
        now = time.monotonic()
        self.status, self.task, self.queue = "idle", "", self.rng.randint(0, 4)
        self.requests = 0
        self.next_beat = now
        self.next_task = now
        self.next_event = now + self.rng.uniform(0.5, 3.0)
        self.next_usage = now + self.rng.uniform(0.3, 2.0)
        self.next_error = now + self.rng.uniform(30.0, 150.0)
        self.silent = False
        self.next_burst = now + self.rng.uniform(0.5, 3.0)
        self.bursts = 0
        self.memory: list[bytes] = []
        self.next_grow = now + 1.0
        self.children: list[subprocess.Popen[bytes]] = []
        self.want_children = self.rng.randint(1, 3)
        self.next_plan = now + self.rng.uniform(10.0, 20.0)
        self.crash_at = now + self.rng.uniform(args.crash_after, 2 * args.crash_after)
        self.silent_at = now + args.silent_after

    # -- life and death -----------------------------------------------------------------

    def alive(self) -> bool:
        """False once SIGTERM came or the parent is gone (then we were reparented)."""
        return not self.stopping and os.getppid() == self.parent

    def pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while self.alive() and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, TICK))

    def run(self) -> int:
        deadline = time.monotonic() + 30.0
        # Wait for the recorder's socket, so the first connection is not lost in a backoff.
        while self.alive() and not self.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.alive():
            return 0
        report = self.report = Reporter(self.name, path=self.socket, kind=KINDS[self.role])
        try:
            while self.alive():
                now = time.monotonic()
                self.work(now)
                if not self.silent:
                    self.chatter(now)
                self.pause(TICK)
            self.say("info", "stopping: " + ("SIGTERM" if self.stopping else "parent gone"))
        except Exception as exc:  # the crash role's end, or a bug: said like a real agent
            report.exception(exc)
            report.flush(2.0)
            raise  # exit status 1
        finally:
            self.cleanup()
        return 0

    def cleanup(self) -> None:
        """Children first (a spawn agent never leaves orphans), then the memory."""
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(1.0)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()
        self.memory.clear()
        if self.report is not None:
            self.report.close(0.5)  # a recorder too busy to answer must not hold us up

    # -- the role's work ----------------------------------------------------------------

    def work(self, now: float) -> None:
        if self.role == "burst" and now >= self.next_burst:
            self.burst(now)
        elif self.role == "grow" and now >= self.next_grow:
            self.grow(now)
        elif self.role == "spawn":
            self.tend_children(now)
        elif self.role == "crash" and now >= self.crash_at:
            self.crash()
        elif self.role == "silent" and not self.silent and now >= self.silent_at:
            self.go_silent()

    def burst(self, now: float) -> None:
        seconds = self.rng.uniform(0.5, 2.0)
        self.status = "working"
        self.task = TASKS["burst"][1].format(**_words(self.rng))
        self.beat(now)
        end = now + seconds
        x = 0
        while time.monotonic() < end and self.alive():
            for i in range(20_000):  # about a millisecond of pure CPU
                x += i * i
        self.bursts += 1
        self.next_burst = time.monotonic() + self.rng.uniform(2.0, 6.0)

    def grow(self, now: float) -> None:
        cap, step = self.args.mem_cap_mb, self.args.mem_step_mb
        held = len(self.memory) * step
        if held + step <= cap:
            self.memory.append(b"\x01" * (step * MiB))  # written, so really resident
            self.next_grow = now + 1.5
            if held + step >= 0.8 * cap > held:
                self.say("warning", f"embedding cache at {held + step} MB of {cap} MB")
            return
        self.memory.clear()
        self.say("info", f"released {held} MB of embedding cache")
        self.next_grow = now + self.rng.uniform(3.0, 8.0)

    def tend_children(self, now: float) -> None:
        for child in list(self.children):
            code = child.poll()
            if code is not None:
                self.children.remove(child)
                self.say("info", f"tool runner pid {child.pid} finished (exit {code})")
        if now >= self.next_plan:
            self.want_children = self.rng.randint(1, 3)
            self.next_plan = now + self.rng.uniform(10.0, 20.0)
        while len(self.children) < self.want_children and self.alive():
            lifetime = self.rng.uniform(5.0, 25.0)
            argv = [sys.executable, "-m", "tui_monitor.demo.agent", "--child-of", self.name]
            argv += ["--socket", str(self.socket), "--lifetime", f"{lifetime:.1f}"]
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.children.append(child)
            self.say("info", f"started tool runner pid {child.pid}")

    def crash(self) -> None:
        self.say("warning", "session state lost; giving up on the current review")
        _review_pr(self.rng.randint(100, 999))

    def go_silent(self) -> None:
        self.say("warning", "waiting on a lock held upstream (no heartbeats until it frees)")
        self.silent = True

    # -- what it says -------------------------------------------------------------------

    def say(self, level: str, message: str) -> None:
        if self.report is not None and not self.silent:
            self.report.event(message, level=level)

    def beat(self, now: float) -> None:
        if self.report is None:
            return
        metrics: dict[str, float] = {
            "tokens_per_s": round(self.rng.uniform(20, 180), 1) if self.status == "working" else 0,
            "requests": self.requests,
        }
        if self.role == "grow":
            metrics["cache_mb"] = len(self.memory) * self.args.mem_step_mb
        elif self.role == "spawn":
            metrics["children"] = len(self.children)
        elif self.role == "burst":
            metrics["bursts"] = self.bursts
        self.report.heartbeat(
            self.status, queue_depth=self.queue, task=self.task or None, metrics=metrics
        )
        self.next_beat = now + self.args.heartbeat

    def chatter(self, now: float) -> None:
        rng = self.rng
        if now >= self.next_task:
            roll = rng.random()
            if roll < 0.65:
                self.status = "working"
                self.task = rng.choice(TASKS[self.role]).format(**_words(rng))
                self.queue = max(0, self.queue + rng.randint(-2, 2))
            elif roll < 0.85:
                self.status = "waiting"
                self.task = f"waiting for {rng.choice(MODELS)[0]}"
            else:
                self.status, self.task, self.queue = "idle", "", 0
            self.next_task = now + rng.uniform(3.0, 10.0)
        if now >= self.next_beat:
            self.beat(now)
        if now >= self.next_event:
            self.event()
            self.next_event = now + rng.uniform(3.0, 10.0)
        if now >= self.next_usage:
            self.usage()
            self.next_usage = now + rng.uniform(4.0, 12.0)
        if now >= self.next_error:
            self.error()
            self.next_error = now + rng.uniform(90.0, 300.0)

    def event(self) -> None:
        roll = self.rng.random()
        level, texts = "info", INFO
        if roll >= 0.95:
            level, texts = "error", ERROR
        elif roll >= 0.75:
            level, texts = "warning", WARNING
        task = self.task if self.status == "working" else "the next item"
        words = _words(self.rng) | {"task": task}
        self.say(level, self.rng.choice(texts).format(**words))

    def usage(self) -> None:
        if self.report is None:
            return
        rng = self.rng
        model, price_in, price_out = rng.choice(MODELS)
        tokens_in, tokens_out = rng.randint(500, 12_000), rng.randint(80, 2_000)
        cache_read = rng.choice((0, 0, rng.randint(1_000, 20_000)))
        cost: float | None = None
        if rng.random() < 0.5:  # the provider said what it cost; else the price table does
            cost = tokens_in * price_in + tokens_out * price_out + cache_read * price_in / 10
            cost = round(cost / 1_000_000, 6)
        self.requests += 1
        self.report.usage(
            model,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            cache_read_tokens=cache_read,
            cost_usd=cost,
            request_id=f"{self.name}-{os.getpid()}-{self.requests}",
        )

    def error(self) -> None:
        if self.report is None:
            return
        words = _words(self.rng)
        tool = words["tool"]
        stack = (
            "Traceback (most recent call last):\n"
            f'  File "/srv/agents/{self.name}/loop.py", line 88, in run\n'
            "    result = step(task)\n"
            f'  File "/srv/agents/{self.name}/tools.py", line 142, in call_tool\n'
            '    raise ToolError(f"{tool} exited with status {code}")\n'
            f"ToolError: {tool} exited with status 1\n"
        )
        self.report.error(f"{tool} exited with status 1", error_type="ToolError", stack=stack)


def _review_pr(number: int) -> None:
    _load_session(number)


def _load_session(number: int) -> None:
    raise RuntimeError(f"demo crash: session for PR #{number} vanished (the fleet restarts me)")


def run_child(args: argparse.Namespace) -> int:
    """A spawn agent's tool process: light hashing until its lifetime, SIGTERM or orphaning."""
    parent = os.getppid()
    end = time.monotonic() + args.lifetime
    data = os.urandom(64 * 1024)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    while not stopping and os.getppid() == parent and time.monotonic() < end:
        for _ in range(8):
            data = hashlib.sha256(data).digest() * 2048
        time.sleep(TICK)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tui_monitor.demo.agent", description=__doc__)
    parser.add_argument("--name", help="the agent's name (unique in the fleet)")
    parser.add_argument("--role", choices=ROLES, default="worker")
    parser.add_argument("--socket", required=True, help="the recorder's ingest socket")
    parser.add_argument("--seed", type=int, help="seed for the agent's randomness")
    parser.add_argument("--heartbeat", type=float, default=2.0, metavar="SECONDS")
    parser.add_argument("--crash-after", type=float, default=120.0, metavar="SECONDS")
    parser.add_argument("--silent-after", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--mem-cap-mb", type=int, default=150, metavar="MB")
    parser.add_argument("--mem-step-mb", type=int, default=10, metavar="MB")
    parser.add_argument("--child-of", metavar="NAME", help="run as a spawn agent's child")
    parser.add_argument("--lifetime", type=float, default=15.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    if args.child_of is None and not args.name:
        parser.error("--name is required")
    if args.mem_step_mb < 1 or args.mem_cap_mb < args.mem_step_mb:
        parser.error("need 1 <= --mem-step-mb <= --mem-cap-mb")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_of is not None:
        return run_child(args)
    agent = Agent(args)

    def on_term(signum: int, frame: FrameType | None) -> None:
        agent.stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    return agent.run()


if __name__ == "__main__":
    sys.exit(main())
