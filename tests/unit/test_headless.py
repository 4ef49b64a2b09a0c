"""The core runs without the screen: nothing outside tui_monitor.ui imports textual."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "tui_monitor.models",
    "tui_monitor.config",
    "tui_monitor.safe",
    "tui_monitor.collect.host",
    "tui_monitor.collect.gpu",
    "tui_monitor.collect.agents",
    "tui_monitor.sampler",
    "tui_monitor.report",
    "tui_monitor.cli",
]


def test_core_modules_do_not_import_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {CORE!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""
