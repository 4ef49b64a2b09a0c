"""Every entry point: the command group (commands.py) and its commands, the demo, exports,
plain-text reports, and the start-up garbage-collector pause (startup.py).

`main` is the console script. Nothing is imported at module level: the collector is paused
before the command group's imports.
"""

from __future__ import annotations


def main() -> int:
    """`tui-monitor`: the CLI, imported with the collector paused."""
    from . import startup

    startup.pause()
    from .commands import main as run

    return run()
