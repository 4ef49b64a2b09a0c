"""One row per agent: a session read from files joins the live process that writes it.

The rule (README, "Sessions on process rows"):

1. A process row is of a family when its program is `claude`, `codex` or `gemini` (its
   executable or the row's preset name), or its command line runs the family's npm package,
   or an interpreter runs a script of that name (`node /usr/bin/claude`).
2. A session joins a live process row of its family whose cwd is the session's cwd: of those
   that started before the session's first line (one second of slack for clock rounding), the
   one that started last. So with several agents in one directory each session goes to the
   process that was running when it began, and a new process never takes an older session.
3. A session that began before every such process (a resumed session: `claude --resume`,
   `codex resume`) joins the one that started last before its latest line.
4. A process with several sessions (`/clear` starts a new one) shows the one written last;
   its cost today sums them all (`SessionState.earlier`).
5. A session with no live process is its own row (`source` "session", status `exited`) while
   its last line (or live signal) is younger than `exited_linger`; it then leaves the table
   (the history keeps it: `tui-monitor sessions`). Where a hook or an OTLP event says it is
   alive (any exact state but `ended`), its process is only not ours to see: status `unknown`,
   and the row shows that state.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict

from ..models import AgentSample, SessionFamily
from .book import SessionBook
from .live import LIVE_WINDOW
from .session import PREFIX, Session

SLACK = 1.0
_PROGRAMS: dict[str, SessionFamily] = {v: k for k, v in PREFIX.items()}  # type: ignore[misc]
_INTERPRETERS = re.compile(r"(node|nodejs|bun|deno|python[0-9.]*)$")
_PACKAGES: tuple[tuple[str, SessionFamily], ...] = (
    ("@anthropic-ai/claude-code", "claude-code"),
    ("@openai/codex", "codex"),
    ("@google/gemini-cli", "gemini"),
)


def family_of(row: AgentSample) -> SessionFamily | None:
    """The agent family a process row runs, if it is one whose files we read."""
    program = os.path.basename(row.process)
    if program in _PROGRAMS:
        return _PROGRAMS[program]
    base = row.name.partition("#")[0]
    if row.source == "preset" and base in _PROGRAMS:
        return _PROGRAMS[base]
    for package, family in _PACKAGES:
        if package in row.cmdline:
            return family
    # An interpreter running the agent's script by the program's name (`node /usr/bin/claude`,
    # what its #! line makes): on a row `tui-monitor run` named, nothing else says it.
    words = row.cmdline.split(maxsplit=2)
    if len(words) > 1 and _INTERPRETERS.match(os.path.basename(words[0])):
        return _PROGRAMS.get(os.path.basename(words[1]))
    return None


def _live(row: AgentSample) -> bool:
    return row.pid is not None and row.create_time is not None and row.status != "exited"


def assign(sessions: list[Session], rows: tuple[AgentSample, ...]) -> dict[str, list[Session]]:
    """Row name -> its sessions, newest-written first, by the rule above."""
    by_place: dict[tuple[SessionFamily, str], list[AgentSample]] = defaultdict(list)
    for row in rows:
        family = family_of(row) if _live(row) else None
        if family is not None and row.cwd:
            by_place[(family, row.cwd)].append(row)
    for group in by_place.values():
        group.sort(key=lambda r: r.create_time or 0.0)
    out: dict[str, list[Session]] = defaultdict(list)
    for s in sessions:
        place = by_place.get((s.family, s.place))
        if not place:
            continue
        writer = _latest_before(place, s.first_ts) or _latest_before(place, s.last_ts)
        if writer is not None:
            out[writer.name].append(s)
    for found in out.values():
        found.sort(key=lambda s: s.last_ts or 0.0, reverse=True)
    return out


def _latest_before(group: list[AgentSample], ts: float | None) -> AgentSample | None:
    if ts is None:
        return None
    best = None
    for row in group:  # sorted by start
        if (row.create_time or 0.0) <= ts + SLACK:
            best = row
    return best


def join(
    book: SessionBook,
    rows: tuple[AgentSample, ...],
    now: float,
    *,
    window: float,
    linger: float,
    live_window: float = LIVE_WINDOW,
) -> tuple[AgentSample, ...]:
    """The rows with their sessions on them, and a row for each recent session that no live
    process writes."""
    candidates = [s for s in book.sessions.values() if s.place]
    assigned = assign(candidates, rows)
    joined: set[str] = set()
    out: list[AgentSample] = []
    for row in rows:
        found = assigned.get(row.name)
        if not found:
            out.append(row)
            continue
        newest = found[0]
        joined.update(s.session_id for s in found)
        view = newest.view(now, window, live_window)
        if len(found) > 1:
            view = view.model_copy(update={"earlier": tuple(s.agent for s in found[1:])})
        update: dict[str, object] = {"session": view}
        if newest.telemetry is not None:
            update["metrics"] = {**row.metrics, **newest.metrics()}
        out.append(row.model_copy(update=update))
    names = {row.name for row in rows}
    for s in book.sessions.values():
        latest = s.latest
        if s.session_id in joined or latest is None or latest < now - linger:
            continue
        if s.agent in names:
            continue  # a config rule named a row like it: that row wins
        view = s.view(now, window, live_window)
        alive = view.exact and view.state != "ended"
        out.append(
            AgentSample(
                name=s.agent,
                kind="coding",
                source="session",
                status="unknown" if alive else "exited",
                process=PREFIX[s.family],
                cwd=s.place or None,
                session=view,
                metrics=s.metrics(),
            )
        )
    return tuple(out)
