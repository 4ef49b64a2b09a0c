"""The demo fleet's processes, found by pid (tests/integration/test_demo.py and the e2e test)."""

from __future__ import annotations

import psutil

AGENT = "tui_monitor.demo.agent"
"""The module every demo agent (and every child of the spawner) runs."""


def demo_processes(marker: str) -> dict[int, str]:
    """pid -> cmdline of every live demo process (agents and their children) whose command
    line holds `marker` (the test's socket path or TMPDIR)."""
    found: dict[int, str] = {}
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        if AGENT in cmdline and marker in cmdline and proc.info["status"] != "zombie":
            found[proc.pid] = cmdline
    return found
