"""The console script (`tui_monitor.cli:main`) starts with the garbage collector paused."""

from __future__ import annotations

import gc
import subprocess
import sys

from tui_monitor.cli import startup

PROBE = """
import gc, sys
from tui_monitor.cli import commands, main, startup

seen = []

@commands.cli.command("probe-gc")
def probe() -> None:
    seen.append(gc.isenabled())

sys.argv = ["tui-monitor", *sys.argv[1:]]
before = gc.isenabled()
code = main()
print(before, code, seen, gc.isenabled(), gc.get_freeze_count() > 0)
"""


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_command_runs_with_the_collector_back_on() -> None:
    """Paused for the imports, resumed (and start-up frozen) before the command's work."""
    assert _run("probe-gc") == "True 0 [True] True True"


def test_an_early_exit_leaves_it_paused_only_for_a_moment() -> None:
    """`--version` exits in the group's option parsing: the process ends right there."""
    *printed, last = _run("--version").splitlines()
    assert printed == ["tui-monitor, version 0.1.0"]
    assert last == "True 0 [] False False"


def test_importing_the_package_leaves_the_collector_alone() -> None:
    """Only the console script pauses it: tests and agents importing tui_monitor.client
    keep their collector."""
    done = subprocess.run(
        [sys.executable, "-c", "import gc, tui_monitor.cli.commands, tui_monitor.client, "
         "tui_monitor.cli.startup; print(gc.isenabled(), gc.get_freeze_count())"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.split() == ["True", "0"], done.stderr


def test_resume_does_nothing_unless_paused() -> None:
    frozen = gc.get_freeze_count()
    startup.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
