"""Processes `tui-monitor run --name NAME` started: named NAME from the first tick that sees them.

`run` puts the name in the agent's environment ($TUI_MONITOR_AGENT) and then execs it, so the
name is in /proc/<pid>/environ before the agent runs a single instruction, whether or not a
recorder is running yet: no message to send, no race with the first tick, and a recorder
started later names it all the same. The environment is read once per process instance (as the
command line is), only for processes of our own user, and only that one variable is kept:
environments hold secrets, so the rest is never stored or shown.

Until it execs, `run` itself is a process whose program name may be the agent's too (both
`python` in `python -m tui_monitor run -- python agent.py`), and the collector reads a process
again only when its name changes: so `is_run` marks it, to be read again every tick until the
exec.

Children inherit the variable, so the agent's whole tree carries the name and stays one row
(the collector makes a process a root only where its name differs from its parent's). A name
that is not one `run` would accept (`valid_name`) is ignored, as a hostile one would be.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from .. import safe
from ..client import AGENT_ENV
from .claims import base_name
from .rules import Matcher

ENV_MAX = 1 << 20
"""Bytes of an environment read at most (Linux allows a few MiB; ours put the name first)."""
_NEEDLE = AGENT_ENV.encode() + b"="
KIND = "custom"
"""The kind of a named agent no rule or preset matches (a config rule's default, too)."""


def valid_name(name: str) -> bool:
    """Whether `name` may name an agent: 1-128 characters that show as themselves on screen
    (`safe.name` changes nothing), no space (a name is typed as one word: `emit --agent`,
    filters; and a trailing one would not show), no `#N` ending (the collector's instance
    numbers)."""
    return (
        0 < len(name) <= safe.NAME_MAX
        and not any(c.isspace() for c in name)
        and safe.name(name) == name
        and base_name(name) == name
    )


_OURS = frozenset({"tui-monitor", "tui_monitor"})


def is_run(argv: Sequence[str]) -> bool:
    """Whether a command line is `tui-monitor run` (the console script or `-m tui_monitor`)
    that has not exec'd its agent yet. A false positive only costs reading it every tick."""
    for i, arg in enumerate(argv[:4]):  # the interpreter, maybe -m, then the script or module
        if os.path.basename(arg) in _OURS:
            return "run" in argv[i + 1 :]
    return False


def launched_name(pid: int, uid: int | None = None) -> str | None:
    """The name `tui-monitor run` gave process `pid`, or None: not set, not valid, not our
    user's process (`uid`, default ours), or gone."""
    path = f"/proc/{pid}/environ"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None  # another user's (EACCES), gone, or no /proc
    try:
        if os.fstat(fd).st_uid != (os.getuid() if uid is None else uid):
            return None  # root reads everyone's: only our user's agents are ours to name
        data = _read(fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    return name_in(data)


def _read(fd: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < ENV_MAX:
        chunk = os.read(fd, min(65536, ENV_MAX - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def name_in(environ: bytes) -> str | None:
    """The valid $TUI_MONITOR_AGENT in a NUL-separated environment block, or None."""
    for entry in environ.split(b"\0"):
        if entry.startswith(_NEEDLE):
            try:
                value = entry[len(_NEEDLE) :].decode("utf-8")
            except UnicodeDecodeError:
                return None
            return value if valid_name(value) else None
    return None


class LaunchedMatchers:
    """One Matcher per name `run` gave, kept while some process carries it (an agent's
    identity is its matcher: a new one each tick would make it exit and start again)."""

    def __init__(self) -> None:
        self._own: dict[str, Matcher] = {}

    @property
    def names(self) -> frozenset[str]:
        """The names processes carry now: reports under them join those rows."""
        return frozenset(self._own)

    def apply(
        self, matchers: list[Matcher], matched: dict[int, int], launched: Mapping[int, str]
    ) -> list[Matcher]:
        """Point `matched[pid]` at its name's matcher for every named process (over any
        rule's or preset's match); the matchers those indices refer to.

        A name's kind is that of a rule or preset one of its processes also matches (the
        agent `run` started, e.g. `coding` for Claude Code), else `custom`.
        """
        kinds: dict[str, str] = {}
        for pid, name in sorted(launched.items()):
            static = matched.get(pid)
            if static is not None and name not in kinds:
                kinds[name] = matchers[static].kind
        out = list(matchers)
        index: dict[str, int] = {}
        for pid, name in sorted(launched.items()):
            i = index.get(name)
            if i is None:
                matcher = self._own.get(name)
                if matcher is None:
                    matcher = Matcher(name, kinds.get(name, KIND), "run")
                    self._own[name] = matcher
                i = index[name] = len(out)
                out.append(matcher)
            matched[pid] = i
        self._own = {n: m for n, m in self._own.items() if n in index}
        return out
