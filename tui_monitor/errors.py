"""Every failure tui-monitor phrases for a person: one line each, and the exit code it means.

Standard library only: the CLI imports this before anything heavy. Each module raises the
class that names its problem; `cli.commands.main` catches `TuiMonitorError` once and prints
`tui-monitor: <prefix><message>`, exiting with `exit_code`. The one exception kept apart is
`client.ClientError`: `client.py` is used inside other people's agents, copied alone if need
be, and imports nothing of ours (`emit` turns it into a click error).
"""

from __future__ import annotations

from pathlib import Path


class TuiMonitorError(Exception):
    """A problem already phrased as one line for the user."""

    exit_code = 1
    prefix = ""


class ConfigError(TuiMonitorError):
    """A configuration problem."""

    exit_code = 2
    prefix = "config error: "


class SchemaError(TuiMonitorError):
    """The file cannot be used with this version of tui-monitor."""

    exit_code = 2


class AlreadyRecording(TuiMonitorError):
    """Another live recorder owns this database."""

    def __init__(self, db: Path, pid: int | None) -> None:
        self.db, self.pid = db, pid
        super().__init__(f"already recording to {db} (pid {pid if pid else 'unknown'})")


class ServerError(TuiMonitorError):
    """The ingest socket cannot be served."""


class TailError(TuiMonitorError):
    """A spool directory that cannot be made safe."""


class ExportError(TuiMonitorError):
    """Nothing to export, nothing that matches, or nowhere it may go."""


class NotAFile(ExportError):
    """An export target that exists and is not a regular file: a device node, a FIFO, a
    symlink or a directory is never replaced (as root, `-o /dev/null --force` would be)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        super().__init__(f"{path} is {kind}, not a regular file: exports replace only files")


class NoHistory(ExportError):
    """No database to read."""

    def __init__(self, db: Path) -> None:
        super().__init__(f"no history at {db} (run tui-monitor record, or the dashboard, first)")
