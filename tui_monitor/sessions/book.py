"""What the session readers found, kept per session: the records become history, the sessions
become row content.

The readers (claude.py, codex_files.py, gemini_files.py) hand out records in file order, some
more than once (a response written as several growing lines; a file read again after a lost
offset file). The book:

- rolls every subagent, sidechain and fork into its root session (`SessionInfo.parent_id`),
  so usage is recorded under the root's id and `agent` name (`claude:1a2b3c4d`);
- keeps one usage record per key: a record waits `settle` seconds (of our clock) for a copy
  that supersedes it before it is handed to the history, and a key already handed out (or
  seeded from the history) is never handed out again, so re-reading a file never double
  counts (the history's unique index on (agent, request_id) is the last guard);
- keeps each session's metadata, token totals, last activity, last tool, last error and
  rate-limit windows for the rows (join.py) and the agent screen.

Errors older than `errors_since` (the recorder's start less `exited_linger`) update a session's
last error but are not recorded as open errors: a backfill of a month must not fill the
errors panel with problems long gone.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .. import safe
from ..models import (
    AgentEvent,
    ErrorRecord,
    RateWindow,
    SessionFamily,
    SessionMeta,
    SessionTokens,
    UsageRecord,
)
from .live import state_event
from .records import (
    RateLimit,
    SessionActivity,
    SessionError,
    SessionEvent,
    SessionInfo,
    SessionMetric,
    SessionRecord,
    SessionSignal,
    SessionUsage,
    supersedes,
)
from .session import (
    CWD_MAX,
    ID_MAX,
    NAME_MAX,
    PATH_MAX,
    TEXT_MAX,
    Session,
    agent_name,
    cut,
    utc,
)
from .telemetry import Telemetry, event_record, usage_source
from .tokens import usage_record

SETTLE = 2.0
"""Seconds a usage record waits for a larger copy of itself (Claude Code writes a response's
copies within a second of each other)."""
OLD = 60.0
"""A response whose line is older than this (a backfill) has all its copies written: it is
settled as soon as its reader's next poll has come in (which holds any copy the previous
poll's budget cut off), so a backfill does not wait SETTLE seconds per poll."""
KEYS_KEPT = 100_000
"""Usage keys remembered as handed out (a re-read older than this is caught by the history's
unique index and the ledger instead)."""
ERRORS_KEPT = 10_000


@dataclass(slots=True)
class _Waiting:
    usage: SessionUsage
    root: Session
    since: float
    """Our clock when it arrived."""
    source: int
    poll: int
    """The reader it came from and that reader's poll count then."""


class SessionBook:
    """Records in (`add`, on the loop, from the readers' thread), history out (`drain`),
    sessions for the rows (`sessions`, join.py). Not thread-safe: use it from the loop.

    Args:
        errors_since: Errors stamped before this (epoch s) are not recorded as open errors.
        settle: Seconds a usage record waits for a superseding copy.
        clock: Our clock (epoch s), for settling.
    """

    def __init__(
        self,
        *,
        errors_since: float = 0.0,
        settle: float = SETTLE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions: dict[str, Session] = {}
        self.on_change: Callable[[], None] | None = None
        """Called when a signal changes a session's live state (the sampler ticks then)."""
        """Root sessions by id (ids are UUIDs: unique across families)."""
        self._parents: dict[str, str] = {}
        self._waiting: dict[int, _Waiting] = {}
        """Usage settling, by the hash of (agent, key): in arrival order."""
        self._done: set[int] = set()
        self._done_order: deque[int] = deque()
        """Hashes of (agent, key) handed out (64 bits: a false match among 100k is ~1e-9)."""
        self._polls: dict[int, int] = {}
        self._errors_seen: OrderedDict[tuple[str, float, str], None] = OrderedDict()
        self._ready: deque[tuple[SessionUsage, Session]] = deque()
        """Settled usage, recorded in arrival order as ticks take it."""
        self._returned: list[UsageRecord] = []
        self._errors: list[ErrorRecord] = []
        self._events: list[AgentEvent] = []
        self._changed: set[str] = set()
        self._errors_since = errors_since
        self._settle = settle
        self._clock = clock
        self.records = 0
        """Records taken in, all kinds."""
        self.duplicates = 0
        """Usage records dropped as already counted or superseded."""
        self.overlap = 0
        """Usage records dropped because the session's usage comes from the other source
        (files or OTLP; telemetry.py)."""

    @property
    def waiting(self) -> int:
        """Usage records settling or settled but not drained yet (back-pressure for the
        readers: a backfill must not outrun the writer)."""
        return len(self._waiting) + len(self._ready) + len(self._returned)

    @property
    def idle(self) -> bool:
        """Nothing taken in is still only here: a reader may save its offsets now."""
        return not (
            self._waiting
            or self._ready
            or self._returned
            or self._errors
            or self._events
            or self._changed
        )

    def seed(
        self,
        sessions: Iterable[tuple[SessionMeta, SessionTokens]],
        keys: Iterable[tuple[str, str]],
    ) -> None:
        """What the history already holds: sessions with their totals, and the (agent, key)
        pairs of recent usage, so a file read again after a restart counts nothing twice."""
        for meta, tokens in sessions:
            s = self.sessions.get(meta.session_id)
            if s is None:
                s = self.sessions[meta.session_id] = Session(
                    meta.family, meta.session_id, meta.agent
                )
            s.cwd, s.git_branch, s.version = meta.cwd, meta.git_branch, meta.version
            s.place = safe.clean(s.cwd, CWD_MAX) if s.cwd else ""
            s.models = list(dict.fromkeys([*s.models, *meta.models]))
            s.seen(meta.first_ts)
            s.seen(meta.last_ts)
            s.tokens.add(tokens)
        by_agent = {s.agent: s for s in self.sessions.values()}
        for pair in keys:
            self._remember(hash(pair))
            s = by_agent.get(pair[0])
            if s is not None and s.usage_source is None:
                s.usage_source = usage_source(pair[1])

    def add(self, records: Iterable[SessionRecord], source: int = 0) -> None:
        """Fold one poll of reader `source` in, in the order it gave them."""
        now = self._clock()
        self._polls[source] = poll = self._polls.get(source, 0) + 1
        for r in records:
            self.records += 1
            if isinstance(r, SessionInfo):
                self._info(r)
                continue
            s = self._root(r.family, r.session_id)
            if isinstance(r, SessionSignal):  # not a line: `last_ts` stays the files' own
                said = s.live.signal  # the row's; the history keeps a wait, a failure, an end
                if s.live.take(r) and (
                    said is None
                    or (said.state, said.reason, said.tool) != (r.state, r.reason, r.tool)
                ):
                    if (told := state_event(s.agent, r)) is not None:
                        self._events.append(told)
                    if self.on_change is not None:
                        self.on_change()  # the row should say it now, not at the next tick
                if r.tool and r.reason != "elicitation":  # (an elicitation's is a server)
                    s.last_tool = cut(r.tool, NAME_MAX)
                continue
            s.seen(r.ts)
            if isinstance(r, SessionUsage):
                self._take_usage(s, r, now, source, poll)
            elif isinstance(r, SessionActivity):
                s.last_kind = r.kind
                s.live.note(r.ts)
                if r.kind == "tool" and r.tool:
                    s.last_tool = cut(r.tool, NAME_MAX)
            elif isinstance(r, SessionError):
                self._take_error(s, r)
            elif isinstance(r, SessionMetric):
                if s.telemetry is None:
                    s.telemetry = Telemetry()
                s.telemetry.take(r)
            elif isinstance(r, SessionEvent):
                self._events.append(event_record(s.agent, r))
            elif isinstance(r, RateLimit):
                s.rate_limits[r.window_minutes] = RateWindow(
                    window_minutes=r.window_minutes,
                    used_percent=r.used_percent,
                    resets_at=r.resets_at,
                    ts=r.ts,
                )
            self._changed.add(s.session_id)

    def drain(
        self, *, final: bool = False, limit: int | None = None
    ) -> tuple[list[UsageRecord], list[ErrorRecord], tuple[SessionMeta, ...]]:
        """What the next tick records: settled usage (at most `limit` records unless `final`,
        which takes all, settled or not), new errors and the sessions that changed since the
        last drain. Records are made here, so what waits stays small."""
        now = self._clock()
        cutoff = float("inf") if final else now - self._settle
        old = now - OLD
        while self._waiting:  # in arrival order: the first still settling ends the look
            key, w = next(iter(self._waiting.items()))
            if w.since > cutoff and not (
                w.usage.ts < old and self._polls.get(w.source, 0) > w.poll
            ):
                break
            del self._waiting[key]
            self._settled(key, w)
        usage, self._returned = self._returned, []
        room = len(self._ready) if final or limit is None else max(0, limit - len(usage))
        for _ in range(min(room, len(self._ready))):
            u, root = self._ready.popleft()
            usage.append(usage_record(u, root.agent, root.session_id))
        errors, self._errors = self._errors, []
        changed = tuple(
            self.sessions[sid].meta() for sid in sorted(self._changed) if sid in self.sessions
        )
        self._changed.clear()
        return usage, errors, changed

    def take_events(self) -> list[AgentEvent]:
        """Events since the last call (OTLP's tool results, decisions, prompts)."""
        events, self._events = self._events, []
        return events

    def undrain(
        self,
        usage: list[UsageRecord],
        errors: list[ErrorRecord],
        metas: tuple[SessionMeta, ...],
        events: list[AgentEvent] | None = None,
    ) -> None:
        """Put back what a failed tick took (it never reached the writer)."""
        self._events[:0] = events or []
        self._returned[:0] = usage
        self._errors[:0] = errors
        self._changed.update(m.session_id for m in metas)

    # -- internals -----------------------------------------------------------------------

    def _root(self, family: SessionFamily, session_id: str) -> Session:
        sid = session_id
        for _ in range(32):  # a parent chain, bounded: a loop in the files must not hang us
            parent = self._parents.get(sid)
            if parent is None:
                break
            sid = parent
        s = self.sessions.get(sid)
        if s is None:
            s = self.sessions[sid] = Session(family, cut(sid, ID_MAX), agent_name(family, sid))
            self._changed.add(sid)
        if sid != session_id:
            s.children.add(session_id)
        return s

    def _info(self, r: SessionInfo) -> None:
        if r.parent_id and r.parent_id != r.session_id:
            self._parents.setdefault(r.session_id, r.parent_id)
        s = self._root(r.family, r.session_id)
        if r.session_id == s.session_id:  # a child's cwd/branch/version are not the root's
            if r.cwd:
                s.cwd = cut(r.cwd, PATH_MAX)
                s.place = safe.clean(s.cwd, CWD_MAX)
            if r.git_branch:
                s.git_branch = cut(r.git_branch, NAME_MAX)
            if r.version:
                s.version = cut(r.version, NAME_MAX)
        s.seen(r.ts)
        self._changed.add(s.session_id)

    def _take_usage(self, s: Session, u: SessionUsage, now: float, source: int, poll: int) -> None:
        origin = usage_source(u.key)
        if s.usage_source is None:
            s.usage_source = origin
        elif s.usage_source != origin:
            self.overlap += 1
            return
        key = hash((s.agent, u.key))
        if key in self._done:
            self.duplicates += 1
            return
        w = self._waiting.get(key)
        if w is not None:
            self.duplicates += 1
            if not supersedes(u, w.usage):
                return
            s.pending.add(w.usage, -1)
            w.usage = u
        else:
            self._waiting[key] = _Waiting(u, s, now, source, poll)
        s.pending.add(u)
        model = cut(u.model, NAME_MAX) or "unknown"
        if model not in s.models:
            s.models.append(model)
        if u.ts >= s.model_ts:
            s.model, s.model_ts = model, u.ts

    def _settled(self, key: int, w: _Waiting) -> None:
        w.root.pending.add(w.usage, -1)
        w.root.tokens.add(w.usage)
        self._remember(key)
        self._ready.append((w.usage, w.root))

    def _take_error(self, s: Session, e: SessionError) -> None:
        message = cut(e.message, TEXT_MAX)
        if s.last_error_ts is None or e.ts >= s.last_error_ts:
            s.last_error, s.last_error_ts = message, e.ts
        seen = (s.session_id, e.ts, e.error_type)
        if seen in self._errors_seen or e.ts < self._errors_since:
            return
        self._errors_seen[seen] = None
        if len(self._errors_seen) > ERRORS_KEPT:
            self._errors_seen.popitem(last=False)
        self._errors.append(
            ErrorRecord(
                ts=utc(e.ts),
                agent=s.agent,
                error_type=cut(e.error_type, NAME_MAX) or "error",
                message=message,
            )
        )

    def _remember(self, key: int) -> None:
        if key in self._done:
            return
        self._done.add(key)
        self._done_order.append(key)
        if len(self._done_order) > KEYS_KEPT:
            self._done.discard(self._done_order.popleft())
