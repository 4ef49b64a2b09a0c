"""What the bench scripts share, so that every RESULTS.md section describes its run alike."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
PR_SET_CHILD_SUBREAPER = 36


# -- the "Machine:" and "Command:" lines ----------------------------------------------------


def loadavg() -> str:
    """The box is shared: a figure is only read right next to the load it ran under."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine(*versions: str, note: str = "") -> str:
    """The "Machine:" line: the box, then `versions` (what the figures depend on), `note`."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        model = found.group(1).strip() if found else model
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ram = psutil.virtual_memory().total / 2**30
    box = (
        f"{os.cpu_count()} CPUs ({usable} usable), {model}, {ram:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )
    parts = [", ".join([box, *versions]), *([note] if note else [])]
    return "; ".join([*parts, f"load average at start {loadavg()}"])


def command() -> str:
    """The "Command:" line: the run as typed from the repo root, so it can be run again."""
    exe = Path(sys.executable)
    with contextlib.suppress(ValueError):
        exe = exe.relative_to(ROOT)  # the venv's link, not resolved: keep `.venv/bin/python`
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    return shlex.join([str(exe), str(script), *sys.argv[1:]])


def publish(text: str, write: bool) -> None:
    """Print the section; with `write`, a rerun on the same day replaces its own section."""
    print(text)
    if not write:
        return
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    new = text.strip("\n")
    chunks = [c.strip("\n") for c in re.split(r"(?m)^(?=## )", old)]
    for i, chunk in enumerate(chunks):
        if chunk.splitlines()[:1] == new.splitlines()[:1]:
            chunks[i] = new
            break
    else:
        chunks.append(new)
    RESULTS.write_text("\n\n".join(c for c in chunks if c) + "\n")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}", file=sys.stderr)


# -- figures ----------------------------------------------------------------------------------


def p90(values: list[float]) -> float:
    """Nearest-rank, no interpolation: always a value that was measured (0.0 for none)."""
    ordered = sorted(values) or [0.0]
    return ordered[round(0.9 * (len(ordered) - 1))]


# -- the processes a bench starts -------------------------------------------------------------


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def exit_on_signals() -> None:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so the `finally`s kill what the run started."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


def become_subreaper() -> None:
    """Orphans (grandchildren, daemonised tmux servers) come back to us: pid 1 here may not
    reap them."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


class ProcessGroup:
    """Processes started in one process group, so one killpg ends them all."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pgid: int | None = None

    def spawn(self, argv: list[str], executable: str | None = None) -> None:
        proc = subprocess.Popen(
            argv,
            executable=executable,
            process_group=0 if self.pgid is None else self.pgid,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if self.pgid is None:
            self.pgid = proc.pid
        self.procs.append(proc)

    def close(self) -> None:
        if self.pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()  # not in the group only if setpgid failed; harmless otherwise
            proc.wait()
        self.procs.clear()
        self.pgid = None
