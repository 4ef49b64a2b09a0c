"""A session's state on its row: the newest exact signal (hooks, OTLP) over what its files
infer, over what its process says (README, "State").

Precedence. A `SessionSignal` (a hook or an OTLP event) says the state exactly; the newest one
by its own time stands (an older one arriving late changes nothing). It gives way:

- to its files when they wrote a line stamped more than `SLACK` seconds after it (something
  happened that the signal does not know: the user approved the tool and it ran, a new
  prompt was typed, the turn ended); where the files then say the same state as the signal
  (working and working, idle and idle) the exact one stays, so a busy turn does not flicker
  between `working` and `~working`;
- for `working` only, after `live_window` seconds with no newer signal: an agent that crashed
  or hung mid-turn must not show `working` forever. `needs_input`, `idle`, `error` and `ended`
  hold until something newer says otherwise: an agent waiting for you says nothing more;
- to its process when the process has exited (join.py and the table show `exited`).

Files alone infer `~working` (a line within `working_window`), `~idle` (the turn finished and
nothing since) and `~quiet` (mid-turn, silent past the window: a long tool or a slow answer,
or an agent gone without a word; the files cannot tell which, so they do not guess).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..models import AgentEvent, AgentState, EventLevel, InferredState, StateSource
from .records import SessionSignal

LIVE_WINDOW = 300.0
"""Seconds a `working` signal stands with nothing newer. A turn is silent between signals
while a tool runs or a long answer streams (Claude Code's OTLP `api_request` comes when a
request ends; a PreToolUse hook comes once before a ten-minute build); five minutes covers
those, yet a crashed agent's row stops saying `working` within minutes."""
SLACK = 2.0
"""Seconds a file line must be stamped after a signal to count as newer: a line and a hook
about the same moment (the tool_use line, the PermissionRequest hook) may differ by clock
rounding and by when each was stamped."""


STATE_LEVELS: dict[str, EventLevel] = {"needs_input": "warning", "error": "error", "ended": "info"}
"""Live states the history keeps as `state` events (state_event), at these levels."""
NAME_MAX = 128


@dataclass(frozen=True, slots=True)
class Shown:
    """A session's state as its row shows it."""

    state: AgentState
    source: StateSource
    reason: str | None
    tool: str | None
    since: float


@dataclass(slots=True)
class Live:
    """One session's newest signal and its last activity, and the state last shown (for
    `since`: when the shown state last changed)."""

    signal: SessionSignal | None = None
    activity_ts: float | None = None
    """The newest activity line's time (a turn's step, from its files or OTLP)."""
    shown: Shown | None = None

    def take(self, signal: SessionSignal) -> bool:
        """Keep `signal` if it is the newest (a tie goes to the later arrival); False when
        an older one arrived late and changes nothing."""
        if self.signal is not None and signal.ts < self.signal.ts:
            return False
        self.signal = signal
        return True

    def note(self, ts: float) -> None:
        """A turn's step was read (files or OTLP) at `ts`."""
        if self.activity_ts is None or ts > self.activity_ts:
            self.activity_ts = ts

    def resolve(
        self,
        files: tuple[InferredState, float] | None,
        now: float,
        live_window: float = LIVE_WINDOW,
    ) -> Shown | None:
        """The state shown now, by the precedence above (`files`: what they infer and since
        when, None when nothing was read)."""
        shown = _choose(self.signal, self.activity_ts, files, now, live_window)
        if shown is None:
            self.shown = None
            return None
        old = self.shown
        if old is not None and _same(old, shown):
            shown = Shown(shown.state, shown.source, shown.reason, shown.tool, old.since)
        self.shown = shown
        return shown


def _choose(
    sig: SessionSignal | None,
    activity_ts: float | None,
    files: tuple[InferredState, float] | None,
    now: float,
    live_window: float,
) -> Shown | None:
    inferred = None if files is None else Shown(files[0], "files", None, None, files[1])
    if sig is None:
        return inferred
    exact = Shown(sig.state, sig.source, sig.reason, sig.tool, sig.ts)
    newer = activity_ts is not None and activity_ts > sig.ts + SLACK
    aged = sig.state == "working" and now - sig.ts > live_window
    if inferred is None or not (newer or aged):
        return exact
    if newer and not aged and inferred.state == sig.state:
        return exact  # they agree: the exact word stays
    return inferred


def _same(a: Shown, b: Shown) -> bool:
    """The same state for `since`: exact or inferred alike, but a wait for another tool or
    another kind of question is a new wait."""
    if a.state != b.state:
        return False
    return a.state != "needs_input" or (a.reason, a.tool) == (b.reason, b.tool)


def infer(
    last_kind: str | None, last_ts: float | None, now: float, window: float
) -> tuple[InferredState, float] | None:
    """What files alone say (README, "State, inferred from the files"), and since when:
    `idle` once a turn ended, `working` while lines come within `window`, `quiet` after.
    None before any line."""
    if last_ts is None:
        return None
    if last_kind == "turn_end":
        return "idle", last_ts
    if last_ts >= now - window:
        return "working", last_ts
    return "quiet", min(now, last_ts + window)


def state_event(agent: str, r: SessionSignal) -> AgentEvent | None:
    """A signal that changed a session's state, as an event for the history when it is worth
    finding later ("what happened while I was away"): waiting for the user, a failed turn,
    the end; working and idle are the rows' only (a turn's every step would flood the log).
    Names and kinds only, bounded; the UI cleans them where it shows them."""
    level = STATE_LEVELS.get(r.state)
    if level is None:
        return None
    tool, reason = (x[:NAME_MAX] if x else None for x in (r.tool, r.reason))
    about = f"{tool} ({reason})" if tool and reason else tool or reason
    message = r.state.replace("_", " ") + (f": {about}" if about else "")
    data = {"state": r.state, "source": r.source, "event": r.event[:NAME_MAX]}
    data |= {k: v for k, v in (("reason", reason), ("tool", tool)) if v}
    return AgentEvent.model_construct(
        ts=datetime.fromtimestamp(r.ts, UTC), agent=agent, kind="state", level=level,
        message=message, data=data,
    )  # fmt: skip
