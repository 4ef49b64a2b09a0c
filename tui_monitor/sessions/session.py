"""One root session as the session book knows it (book.py): its metadata, tokens, last
activity and live state, and the row content it becomes (`Session.view`); and the name its
usage is recorded under (`agent_name`). Text from files is kept as written, only bounded."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..models import RateWindow, SessionFamily, SessionMeta, SessionState
from .live import LIVE_WINDOW, Live, infer
from .telemetry import Telemetry
from .tokens import Tokens

PREFIX: dict[str, str] = {"claude-code": "claude", "codex": "codex", "gemini": "gemini"}
"""Family -> the program's name, the first part of a session's agent name."""
TEXT_MAX = 500
NAME_MAX = 128
"""As the ingest protocol bounds a model's name."""
ID_MAX = 200
PATH_MAX = 4096
CWD_MAX = 1024
"""As the agent collector cleans and cuts a process's cwd, so the two compare."""
_ALNUM = re.compile(r"[^0-9A-Za-z]")


def agent_name(family: SessionFamily, session_id: str) -> str:
    """The name a session's usage and errors are recorded under: program and a short id,
    letters and digits only (a hostile id cannot make a name that needs escaping).

    Codex ids are UUIDv7, whose first characters are a timestamp shared by sessions started
    within a minute, so Codex names take the id's last eight characters; the others, random
    from the start, take the first eight (what `claude --resume` lists).
    """
    compact = _ALNUM.sub("", session_id)
    short = compact[-8:] if family == "codex" else compact[:8]
    if not short:
        short = hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()[:8]
    return f"{PREFIX[family]}:{short}"


def cut(value: str, limit: int) -> str:
    """Text from a file is kept as written (the UI and the CLI clean it where they show it),
    only bounded."""
    return value[:limit]


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(slots=True)
class Session:
    """One root session as the book knows it (mutable; frozen into models when shown)."""

    family: SessionFamily
    session_id: str
    agent: str
    cwd: str | None = None
    place: str = ""
    """`cwd` as the agent collector shows a process's (cleaned, cut), for the join."""
    git_branch: str | None = None
    version: str | None = None
    models: list[str] = field(default_factory=list)
    model: str | None = None
    model_ts: float = 0.0
    first_ts: float | None = None
    last_ts: float | None = None
    tokens: Tokens = field(default_factory=Tokens)
    pending: Tokens = field(default_factory=Tokens)
    """Usage still settling: shown on the row already, not yet recorded."""
    last_kind: str | None = None
    """The last activity's kind (user, assistant, tool, turn_end)."""
    last_tool: str | None = None
    last_error: str | None = None
    last_error_ts: float | None = None
    rate_limits: dict[int | None, RateWindow] = field(default_factory=dict)
    children: set[str] = field(default_factory=set)
    live: Live = field(default_factory=Live)
    """Its newest exact signal and the state last shown (live.py)."""
    usage_source: str | None = None
    """"files" or "otlp": the one source this session's usage is counted from
    (telemetry.py)."""
    telemetry: Telemetry | None = None
    """The session's own metrics (OTLP), for its row."""

    def metrics(self) -> dict[str, float]:
        return self.telemetry.metrics() if self.telemetry is not None else {}

    def meta(self) -> SessionMeta:
        return SessionMeta(
            family=self.family,
            session_id=self.session_id,
            agent=self.agent,
            cwd=self.cwd,
            git_branch=self.git_branch,
            version=self.version,
            models=tuple(self.models),
            model=self.model,
            first_ts=self.first_ts,
            last_ts=self.last_ts,
        )

    def seen(self, ts: float | None) -> None:
        if ts is None:
            return
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts

    @property
    def latest(self) -> float | None:
        """The newest thing heard of it: a line, or a signal."""
        sig = self.live.signal
        if sig is None or (self.last_ts is not None and self.last_ts >= sig.ts):
            return self.last_ts
        return sig.ts

    def view(self, now: float, window: float, live_window: float = LIVE_WINDOW) -> SessionState:
        tokens = Tokens()
        tokens.add(self.tokens.freeze())
        tokens.add(self.pending.freeze())
        files = infer(self.last_kind, self.last_ts, now, window)
        shown = self.live.resolve(files, now, live_window)
        return SessionState(
            meta=self.meta(),
            tokens=tokens.freeze(),
            state=None if shown is None else shown.state,
            state_source=None if shown is None else shown.source,
            state_reason=None if shown is None else cut(shown.reason or "", NAME_MAX) or None,
            state_tool=None if shown is None else cut(shown.tool or "", NAME_MAX) or None,
            state_since=None if shown is None else shown.since,
            last_tool=self.last_tool,
            last_error=self.last_error,
            last_error_ts=self.last_error_ts,
            rate_limits=tuple(
                sorted(self.rate_limits.values(), key=lambda w: w.window_minutes or 1 << 30)
            ),
            subagents=len(self.children),
        )
