"""JSONL spool files, for agents that cannot reach the ingest socket.

Each complete line goes, as bytes without its newline, to the same handler as a socket line;
JSON is parsed there, not here. The reading itself (offsets kept across restarts, partial
lines, truncation and rotation, huge lines, problems said once) is the generic follower's
(`sessions/follow.py`); this module only finds the spool files and says which it accepts.

A spool file is a way into the recorder, so only regular files we own are read: symlinks,
FIFOs, devices, files of other uids and files other users may write are refused, each with one
line, once (`spool.refusal`). Group-writable files are accepted only when the group is our own
primary group: user-private-group systems (umask 002) create every file 0664, and nobody else
is in it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ..sessions.follow import Follower, Line
from .spool import dir_refusal, refusal


@dataclass(frozen=True, slots=True)
class TailLine:
    """One complete line of a spool file."""

    source: str
    data: bytes
    """Without the newline and without one trailing carriage return."""


@dataclass(frozen=True, slots=True)
class TailProblem:
    """A refused file, a rejected line or a state-file problem: one line for the user."""

    source: str
    reason: str


TailItem = TailLine | TailProblem


class Tailer:
    """Follows spool files; `poll` from one worker thread, `save` once its lines are queued."""

    def __init__(
        self,
        spool_dirs: Sequence[Path],
        files: Sequence[Path],
        state: Path,
        *,
        max_line: int = 65536,
        max_lines: int = 10000,
        max_bytes: int = 16 << 20,
        max_files: int = 256,
        retire_grace: float = 2.0,
    ) -> None:
        self._dirs = [str(Path(d).expanduser()) for d in spool_dirs]
        self._explicit = [str(Path(f).expanduser()) for f in files]
        self._follower = Follower(
            state,
            accept=refusal,
            kind="spool file",
            max_line=max_line,
            max_lines=max_lines,
            max_bytes=max_bytes,
            max_open=max_files,
            retire_grace=retire_grace,
        )
        self.counters = self._follower.counters

    def __enter__(self) -> Tailer:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def poll(self) -> list[TailItem]:
        """New complete lines and problems, at most `max_lines` of them; blocking file I/O."""
        out: list[TailItem] = []
        found, unlooked = self._discover(out)

        def keep(path: str) -> bool:
            return path in unlooked or os.path.dirname(path) in unlooked

        for item in self._follower.poll(found, keep):
            if isinstance(item, Line):
                out.append(TailLine(item.path, item.data))
            else:
                out.append(TailProblem(item.path, item.reason))
        return out

    def save(self) -> None:
        """Persist the offsets of lines handed out so far; a failure is reported by `poll`."""
        self._follower.save()

    def close(self) -> None:
        """Close every file; a later `save` still records where each one stopped."""
        self._follower.close()

    def _discover(self, out: list[TailItem]) -> tuple[dict[str, os.stat_result], set[str]]:
        """lstat of every spool file; also the dirs and files that could not be looked at."""
        found: dict[str, os.stat_result] = {}
        unlooked: set[str] = set()
        for d in self._dirs:
            try:
                st = os.lstat(d)
                reason = dir_refusal(st)
                if reason is not None:
                    self._say(out, d, reason, st)
                    continue
                with os.scandir(d) as it:
                    names = sorted(
                        e.name for e in it if e.name.endswith(".jsonl") and e.name[0] != "."
                    )
            except FileNotFoundError:
                continue  # may appear later
            except OSError as e:
                unlooked.add(d)
                self._say(out, d, f"cannot list spool directory: {e.strerror}", error=True)
                continue
            for name in names:
                path = os.path.join(d, name)
                with contextlib.suppress(FileNotFoundError):
                    found[path] = os.lstat(path)
        for path in self._explicit:
            try:
                found[path] = os.lstat(path)
            except FileNotFoundError:
                continue
            except OSError as e:
                unlooked.add(path)
                self._say(out, path, f"cannot stat: {e.strerror}", error=True)
        return found, unlooked

    def _say(
        self,
        out: list[TailItem],
        path: str,
        reason: str,
        st: os.stat_result | None = None,
        *,
        error: bool = False,
    ) -> None:
        problem = self._follower.report(path, reason, st, error=error)
        if problem is not None:
            out.append(TailProblem(problem.path, problem.reason))
