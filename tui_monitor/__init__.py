"""tui-monitor: a terminal monitor for fleets of AI agents."""

__version__ = "0.1.0"
