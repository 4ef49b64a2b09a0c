"""Shared fixtures: an isolated config/data environment, and real agent subprocesses."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

AGENTS_DIR = Path(__file__).parent / "agents"
READY_TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every config/data/runtime dir at tmp_path so a developer's own files never leak in."""
    for var in list(os.environ):
        if var.startswith("TUI_MONITOR_"):
            monkeypatch.delenv(var)
    home = tmp_path / "xdg"
    monkeypatch.setenv("TUI_MONITOR_CONFIG", str(tmp_path / "config.toml"))
    for var, sub in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_RUNTIME_DIR", "runtime"),
    ]:
        path = home / sub
        path.mkdir(parents=True, mode=0o700)
        monkeypatch.setenv(var, str(path))
    # Real agents' session files: never the developer's own (tests make their own there).
    agents = tmp_path / "agent-homes"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(agents / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(agents / "codex"))
    monkeypatch.setenv("GEMINI_CLI_HOME", str(agents / "gemini"))
    return home


@pytest.fixture(autouse=True)
def no_recorder_left() -> Iterator[None]:
    """A test that fails before stopping its recorder (tests/recorders.py) must not leave it
    running into the next tests: it is killed when the test ends, pass or fail."""
    yield
    for name in ("recorders", "tests.recorders"):  # imported under either name
        module = sys.modules.get(name)
        started = getattr(module, "STARTED", None)
        while started:
            started.pop().stop(signal.SIGKILL, timeout=5)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: Unix socket paths are limited to ~107 bytes, and
    pytest's tmp_path can be longer."""
    path = Path(tempfile.mkdtemp(prefix="tm-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class AgentProcess:
    """A running test agent: `tests/agents/<name>.py`, started in its own session."""

    proc: subprocess.Popen[bytes]
    tag: str
    ready_line: str
    stderr: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def ready_fields(self) -> list[str]:
        """The words after READY: `READY <pid> <what> [extra...]`."""
        return self.ready_line.split()[1:]

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> str:
        """The next READY line (e.g. after the agent exec'd another agent)."""
        line = _read_ready(self.proc, timeout)
        if line is None:
            pytest.fail(f"no further READY line; stderr:\n{self.stderr_text()}")
        self.ready_line = line
        return line

    def stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """Kill the whole process group and reap the leader; idempotent."""
        _kill_group(self.proc)


def _group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process in process group `pgid`."""
    out: list[tuple[int, str]] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2 :].split()
        if int(fields[2]) == pgid:
            out.append((int(entry), fields[0].decode()))
    return out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    pgid = proc.pid  # start_new_session=True: the leader's pid is the group id
    if proc.returncode is None:
        # SIGTERM first so a spawner can reap its own children; then make sure.
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
                os.killpg(pgid, signal.SIGCONT)  # a stopped process acts on SIGTERM only then
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
    else:
        proc.wait()
    if sys.platform.startswith("linux"):
        deadline = time.monotonic() + 5.0
        while True:
            live = [(p, s) for p, s in _group_members(pgid) if s != "Z"]
            if not live:
                break  # zombies left to init are reaped by it; nothing runs any more
            if time.monotonic() > deadline:
                pytest.fail(f"processes of group {pgid} survived SIGKILL: {live}")
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    if proc.stdout is not None:
        proc.stdout.close()


def _read_ready(proc: subprocess.Popen[bytes], timeout: float) -> str | None:
    """The first stdout line starting with READY, or None on timeout / early exit."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.startswith(b"READY"):
                return line.decode("utf-8", "replace")
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        readable, _, _ = select.select([fd], [], [], left)
        if readable:
            chunk = os.read(fd, 65536)
            if not chunk:
                return None  # EOF: the agent died before saying READY
            buf += chunk


SpawnAgent = Callable[..., AgentProcess]


@pytest.fixture
def spawn_agent(tmp_path: Path) -> Iterator[SpawnAgent]:
    """Start `sys.executable tests/agents/<name>.py --tag <tag> [args]` and wait for READY.

    Each agent gets a unique tag (or the one given, to put several under one rule) so a
    cmdline rule can match exactly this test's processes. `argv0` replaces argv[0] (the
    interpreter still runs). Teardown kills every process group started and reaps it.
    """
    started: list[AgentProcess] = []

    def spawn(
        name: str,
        *args: str | bytes,
        tag: str | None = None,
        argv0: str | bytes | None = None,
        timeout: float = READY_TIMEOUT,
    ) -> AgentProcess:
        tag = tag or new_tag()
        script = AGENTS_DIR / f"{name}.py"
        assert script.exists(), script
        stderr = (tmp_path / f"{name}-{tag}-{len(started)}.stderr").open("w+b")
        proc = subprocess.Popen(
            [argv0 or sys.executable, str(script), "--tag", tag, *args],
            executable=sys.executable,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
        agent = AgentProcess(proc=proc, tag=tag, ready_line="", stderr=stderr)
        started.append(agent)
        line = _read_ready(proc, timeout)
        if line is None:
            agent.stop()
            pytest.fail(
                f"agent {name} gave no READY line within {timeout}s "
                f"(exit {proc.returncode}); stderr:\n{agent.stderr_text()}"
            )
        agent.ready_line = line
        return agent

    yield spawn
    for agent in reversed(started):
        agent.stop()
        agent.stderr.close()


def new_tag() -> str:
    """A marker that appears in exactly one test's command lines."""
    return f"tuimon-{uuid.uuid4().hex[:12]}"
