"""What the recorder holds of every agent family's files: one `SessionReader` each.

The recorder calls `readers()` once, then from one thread polls each reader, hands the records
on and saves each reader's state; it never needs to know whose files they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from .claude import ClaudeReader, claude_dirs
from .codex import rollout_dirs
from .codex_files import CodexFiles
from .gemini import chat_dirs
from .gemini_files import GeminiFiles
from .records import SessionRecord

FAMILIES = ("claude", "codex", "gemini")
"""In the order `readers` returns them; each names its state file."""


class SessionReader(Protocol):
    """One agent family's files, followed; every method from one thread (blocking I/O)."""

    def poll(self) -> list[SessionRecord]:
        """Records from what was written since the last poll (usage: keep one per key)."""
        ...

    def save(self) -> None:
        """Persist where each file was read to, once the records are safely handed on."""
        ...

    def close(self) -> None: ...

    @property
    def more(self) -> bool:
        """The last poll stopped at its budget: poll again soon (a backfill is under way)."""
        ...

    @property
    def backlog(self) -> int:
        """Bytes not read yet, as of the last poll (backfill progress)."""
        ...

    @property
    def counters(self) -> Mapping[str, int]:
        """Lines read, bad lines, files refused, ...: for a status line and tests."""
        ...

    @property
    def last_problem(self) -> str | None:
        """The latest problem, one line naming the file (and line)."""
        ...


def session_dirs(env: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    """Every directory the readers look in (existing or not)."""
    return [*claude_dirs(env, home), *rollout_dirs(env, home), chat_dirs(env, home)]


def state_file(state: Path | None, family: str) -> Path | None:
    """A family's own state file beside `state`: `<state>.<family>.json` (None: none)."""
    return None if state is None else state.with_name(f"{state.name}.{family}.json")


def readers(
    state: Path | None,
    since: float | None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> list[SessionReader]:
    """One reader per agent family: Claude Code, Codex CLI, Gemini CLI, in that order.

    Args:
        state: The stem of the state files: each family saves to `<state>.<family>.json`
            (`sessions.claude.json`, ...); None keeps offsets in memory only.
        since: Epoch seconds, the backfill window: files not written since are not read
            until they change, and older lines give no usage (None: everything).
        env: The environment the directories are found from (default `os.environ`):
            `CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `GEMINI_CLI_HOME`.
        home: The home directory (default `Path.home()`).

    Returns:
        The readers; a directory that does not exist yet is looked for again on each rescan.
    """
    return [
        ClaudeReader(claude_dirs(env, home), state_file(state, "claude"), since=since),
        CodexFiles(rollout_dirs(env, home), state_file(state, "codex"), since=since),
        GeminiFiles([chat_dirs(env, home)], state_file(state, "gemini"), since=since),
    ]
