"""The demo fleet: start the agent processes, restart the ones that die, stop them all.

Each agent runs in a session (and process group) of its own, so a Ctrl+C typed at the
terminal never reaches it: the fleet stops what it started, and only that. `stop()` signals
every group, waits briefly, kills what is left and reaps; it is idempotent and safe to call
from a signal handler that interrupted another `stop()`. Should the fleet's process be killed
outright, the agents notice that their parent changed and exit by themselves.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from .agent import KINDS, MODELS, ROLES

MAX_AGENTS = 50
NAMES = {
    "worker": ("planner", "router", "summarizer"),
    "burst": ("coder-1", "coder-2", "coder-3"),
    "grow": ("embedder", "reranker", "tokenizer"),
    "spawn": ("indexer", "crawler", "builder"),
    "crash": ("reviewer", "tester", "linter"),
    "silent": ("scraper", "notifier", "watcher"),
}
"""Names by role, in the order they are handed out; past these, `<first word>-<n>`."""


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    role: str

    @property
    def kind(self) -> str:
        return KINDS[self.role]


def roster(count: int) -> list[Member]:
    """`count` agents cycling through the roles, with unique names that read like a fleet."""
    members = []
    for i in range(count):
        role = ROLES[i % len(ROLES)]
        k = i // len(ROLES)
        names = NAMES[role]
        name = names[k] if k < len(names) else f"{names[0].split('-')[0]}-{k + 1}"
        members.append(Member(name, role))
    return members


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the process has exited, without reaping it: while it is a zombie its pid (and
    so its process group id) cannot be reused, and its group can still be swept safely."""
    if proc.returncode is not None:
        return True
    waitid = getattr(os, "waitid", None)
    if waitid is None:
        return proc.poll() is not None
    try:
        return waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Kill whatever is left of the agent's group (its children), then reap the leader."""
    if proc.returncode is None:
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            proc.wait()


class Fleet:
    """`count` demo agents reporting to `socket`, supervised from a background thread."""

    def __init__(
        self,
        socket: Path,
        count: int = 6,
        *,
        crash_after: float | None = None,
        silent_after: float | None = None,
        heartbeat: float | None = None,
        mem_cap_mb: int | None = None,
        restart_delay: float = 3.0,
        seed: int | None = None,
    ) -> None:
        if not 1 <= count <= MAX_AGENTS:
            raise ValueError(f"a demo fleet has 1 to {MAX_AGENTS} agents, not {count}")
        self.socket = socket
        self.members = roster(count)
        self.restart_delay = restart_delay
        knobs: list[str] = []
        for flag, value in (
            ("--crash-after", crash_after),
            ("--silent-after", silent_after),
            ("--heartbeat", heartbeat),
            ("--mem-cap-mb", mem_cap_mb),
        ):
            if value is not None:
                knobs += [flag, str(value)]
        self._knobs = knobs
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._due: dict[str, float] = {}  # name -> when to restart it
        self.restarts: dict[str, int] = {}
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- what the agents look like --------------------------------------------------------

    def argv(self, member: Member) -> list[str]:
        return [
            sys.executable, "-m", "tui_monitor.demo.agent",
            "--name", member.name, "--role", member.role, "--socket", str(self.socket),
            "--seed", str(self._rng.randrange(1 << 30)), *self._knobs,
        ]  # fmt: skip

    def pattern(self, member: Member) -> str:
        """A cmdline regex for `member` and no other process (not another fleet's, not the
        member's own children): the name and this fleet's socket."""
        return (
            rf"tui_monitor\.demo\.agent --name {re.escape(member.name)} --role \S+ "
            rf"--socket {re.escape(str(self.socket))}( |$)"
        )

    def pids(self) -> dict[str, int]:
        """Agent name -> pid of its process, for those running now."""
        with self._lock:
            return {n: p.pid for n, p in self._procs.items() if p.returncode is None}

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Launch every agent and the supervisor; the agents wait for the socket by themselves."""
        with self._lock:
            if self._stopping or self._thread is not None:
                raise RuntimeError("a fleet starts once")
            for member in self.members:
                self._launch(member)
            if self._stopping:
                return
            self._thread = threading.Thread(
                target=self._supervise, name="demo-fleet-supervisor", daemon=True
            )
            self._thread.start()

    def _launch(self, member: Member) -> None:
        if self._stopping:  # stop() ran in a signal handler that interrupted start()
            return
        self._procs[member.name] = subprocess.Popen(
            self.argv(member),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own group: the terminal's Ctrl+C is not for it
        )

    def _supervise(self) -> None:
        """Restart an agent `restart_delay` seconds after it exits (the crash role's fate)."""
        by_name = {m.name: m for m in self.members}
        while not self._halt.wait(0.2):
            with self._lock:
                if self._stopping:
                    return
                now = time.monotonic()
                for name, proc in self._procs.items():
                    if name not in self._due and _exited(proc):
                        _reap(proc)
                        self._due[name] = now + self.restart_delay
                for name, when in list(self._due.items()):
                    if now >= when:
                        del self._due[name]
                        self._launch(by_name[name])
                        self.restarts[name] = self.restarts.get(name, 0) + 1

    def stop(self, timeout: float = 3.0) -> None:
        """SIGTERM every agent's group, wait up to `timeout`, SIGKILL the rest, reap.

        Every call sweeps whatever still runs, so a second call costs nothing and a call from
        a signal handler that interrupted `start()` or another `stop()` leaves nothing out
        (the lock is re-entrant; an agent already reaped is skipped)."""
        with self._lock:
            self._stopping = True
            self._halt.set()
            live = [p for p in self._procs.values() if p.returncode is None]
            for proc in live:
                _signal_group(proc.pid, signal.SIGTERM)
                _signal_group(proc.pid, signal.SIGCONT)  # a stopped process acts on it then
            deadline = time.monotonic() + timeout
            while any(not _exited(p) for p in live) and time.monotonic() < deadline:
                time.sleep(0.02)
            for proc in live:
                _reap(proc)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)

    def __enter__(self) -> Fleet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def demo_settings(workdir: Path, fleet: Fleet) -> Settings:
    """Settings for watching `fleet` and nothing else: no presets, one rule per agent, its own
    socket, spool dir and history in `workdir` (never the user's), a short heartbeat timeout
    so the silent agent goes stale soon, a daily budget of $1 an agent, demo prices and
    the built-in alert rules plus one on memory that the grow agent trips."""
    rules: list[dict[str, object]] = [
        {"name": m.name, "kind": m.kind, "cmdline": fleet.pattern(m)} for m in fleet.members
    ]
    prices = {model: {"input": inp, "output": out} for model, inp, out in MODELS}
    data: dict[str, object] = {
        "presets": {"enabled": False},
        "sessions": {"enabled": False},  # the demo shows its fleet, not your sessions
        "store": {"path": str(workdir / "history.db")},
        "ingest": {
            "socket": str(fleet.socket),
            "spool_dir": str(workdir / "spool"),
            "heartbeat_timeout": 10.0,
        },
        "exited_linger": 60.0,
        # Small, so that within minutes the Cost card shows it filling and the alerts fire.
        "budgets": {"daily": float(len(fleet.members))},
        "prices": prices,
        "alerts": {
            "defaults": True,
            "rules": [
                {"name": "mem", "metric": "mem", "threshold": "120MiB", "for": 3},
            ],
        },
        "agents": rules,
    }
    return Settings.model_validate(data)
