"""Codex CLI rollouts followed on disk: `CodexReader` driven over `rollout_dirs()`.

Where: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl` and `$CODEX_HOME/archived_sessions/`
(codex.py says what is read from them). A rollout's usage is the increase of its thread's
cumulative total, and a fork's own lines are told from the history it copies by what came
before them: so each file's lineage state (`CodexReader.export_state`) is saved in the same
atomic write as its offset, and a restart reads on mid-file with the baseline it had
(driver.py). A rollout moved to the archive, or copied there, counts once: its usage keys are
its thread and total.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .codex import CodexReader, is_rollout, rollout_dirs
from .driver import FileDriver


class CodexFiles(FileDriver):
    """Follows every Codex rollout; `poll` from one thread (blocking file I/O).

    Args:
        dirs: The rollout roots (default: `rollout_dirs()`).
        state: Where offsets and lineage state are saved by `save` (None: memory only; the
            consumer's usage keys make reading everything again harmless).
        since: Epoch seconds: files not written since are not read until they change; older
            lines are still fed (the cumulative total's baseline) but give no records except
            `SessionInfo`.
        max_line: Longest line read, in bytes; longer ones are skipped, counted and logged.
        max_bytes: Bytes read by one poll at most (`more` says call again).
        max_lines: Lines read by one poll at most.
        max_open: Files held open at most.
        idle_close: Seconds a finished rollout stays open.
        rescan: Seconds between full walks of the directories.
    """

    def __init__(
        self,
        dirs: Sequence[Path] | None = None,
        state: Path | None = None,
        *,
        since: float | None = None,
        max_line: int = 16 << 20,
        max_bytes: int = 4 << 20,
        max_lines: int = 20_000,
        max_open: int = 64,
        idle_close: float = 60.0,
        rescan: float = 10.0,
    ) -> None:
        super().__init__(
            CodexReader(),
            "codex rollouts",
            rollout_dirs() if dirs is None else dirs,
            is_rollout,
            depth=4,  # sessions/YYYY/MM/DD
            state=state,
            since=since,
            max_line=max_line,
            max_bytes=max_bytes,
            max_lines=max_lines,
            max_open=max_open,
            idle_close=idle_close,
            rescan=rescan,
        )
