"""The agent screen's session section: what a real agent's own files say about its session.

Everything here came out of a transcript (paths, branch names, model and tool names, error
messages): hostile text, so every value goes through `safe` into a `Text`, never markup, and
long ones are bounded before they wrap.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text

from .. import fmt, safe
from ..models import RateWindow, SessionState
from .columns import INFERRED_STYLE, STATE_STYLE, state_label

FAMILY = {"claude-code": "Claude Code", "codex": "Codex", "gemini": "Gemini CLI"}
EARLIER_SHOWN = 5
PATH_MAX = 1024
ERROR_MAX = 600


def _wrap(text: Text) -> Text:
    text.no_wrap = False
    text.overflow = "fold"
    return text


def clock(ts: float, utc: bool) -> str:
    """`14:05:09`, local time (or UTC, with a Z, as the app's clock is)."""
    if utc:
        return f"{datetime.fromtimestamp(ts, UTC):%H:%M:%S}Z"
    return time.strftime("%H:%M:%S", time.localtime(ts))


def when(ts: float | None, now: float, utc: bool) -> Text:
    """`12s ago (14:05:09)`; `-` when not known."""
    if ts is None:
        return Text("-", "dim")
    ago = now - ts
    rel = f"{fmt.duration(ago)} ago" if ago >= 0 else f"in {fmt.duration(-ago)}"
    return Text.assemble(rel, (f" ({clock(ts, utc)})", "dim"))


def window_length(minutes: int | None) -> str:
    """A rate-limit window's length: `5h`, `7d`, `90min`, `?` when the file did not say."""
    if minutes is None:
        return "?"
    if minutes >= 1440 and minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes >= 60 and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}min"


def rate_window(w: RateWindow, now: float, utc: bool) -> Text:
    """`5h window: 42% used, resets 14:05 (in 2h13m)`."""
    text = Text(f"{window_length(w.window_minutes)} window: ", "bold")
    if w.used_percent is None:
        text.append("use not said", "dim")
    else:
        used = w.used_percent
        style = "bold red" if used >= 90 else "yellow" if used >= 70 else ""
        text.append(f"{used:.0f}% used", style)
    if w.resets_at is not None:
        left = w.resets_at - now
        if left > 0:
            text.append(f", resets {clock(w.resets_at, utc)} (in {fmt.duration(left)})")
        else:
            text.append(f", reset at {clock(w.resets_at, utc)}", "dim")
    text.append(f"  as of {fmt.duration(max(0.0, now - w.ts))} ago", "dim")
    return text


def tokens_table(s: SessionState) -> Table:
    """Tokens by kind; cache writes split by their time to live (5 minutes, 1 hour)."""
    t = s.tokens
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    rows = (
        ("input", t.input),
        ("output", t.output),
        ("cache read", t.cache_read),
        ("cache write 5m", t.cache_write - t.cache_write_1h),
        ("cache write 1h", t.cache_write_1h),
        ("total", t.total),
    )
    for label, n in rows:
        grid.add_row(label, f"{n:,}")
    return grid


SAID_BY = {"hook": "said by a hook", "otlp": "said by an OTLP event"}


def state_text(s: SessionState, now: float) -> Text:
    """`needs input: Bash (permission) for 2m 10s (said by a hook)`: the state, what it is
    about, how long, who said it."""
    styles = STATE_STYLE if s.exact else INFERRED_STYLE
    label = state_label(s)
    if s.state_reason and s.state_reason not in label:  # the tool was shown: say why too
        label += f" ({s.state_reason})"
    text = safe.name_text(label, styles.get(s.state or "idle", ""), limit=128)
    if s.state_since is not None:
        text.append(f" for {fmt.duration(max(0.0, now - s.state_since))}")
    said = SAID_BY.get(s.state_source or "", "inferred from its files")
    text.append(f" ({said})", "dim")
    return text


def add_session_rows(t: Table, s: SessionState, now: float, utc: bool = False) -> None:
    """The session's rows, under a `session` heading, added to the agent screen's details
    grid (a label column and a value column that folds); values wrap, the pane scrolls."""
    m = s.meta
    t.add_row(Text("session", "bold underline"), Text(FAMILY.get(m.family, m.family), "bold"))
    if s.state is not None:  # first: what a person opens the screen to see (needs input?)
        t.add_row("state", _wrap(state_text(s, now)))
    t.add_row("id", _wrap(safe.name_text(m.session_id)))
    t.add_row("recorded", _wrap(safe.name_text(m.agent)))
    t.add_row("project", _wrap(safe.text(m.cwd or "-", limit=PATH_MAX)))
    t.add_row("branch", _wrap(safe.name_text(m.git_branch or "-")))
    t.add_row("version", _wrap(safe.name_text(m.version or "-")))
    models = Text()
    for i, model in enumerate(m.models):
        if i:
            models.append(", ")
        newest = i == len(m.models) - 1
        models.append_text(safe.name_text(model, "bold" if newest else ""))
    t.add_row("models" if len(m.models) > 1 else "model", _wrap(models) if m.models else "-")
    t.add_row("activity", _wrap(when(m.last_ts, now, utc)))
    t.add_row("started", _wrap(when(m.first_ts, now, utc)))
    t.add_row("tokens", tokens_table(s))
    t.add_row("cost today", _cost(s.cost_today, s.unpriced))
    t.add_row("cost month", _cost(s.cost_month, s.unpriced))
    if s.unpriced:
        note = f"{s.unpriced} usage records this month have no price (set one in [prices])"
        t.add_row("", _wrap(Text(note, "yellow")))
    if s.subagents:
        t.add_row("subagents", f"{s.subagents} rolled in (their tokens and cost included)")
    if s.earlier:
        earlier = Text(f"{len(s.earlier)}: ")
        for i, name in enumerate(s.earlier[-EARLIER_SHOWN:]):
            if i:
                earlier.append(", ")
            earlier.append_text(safe.name_text(name, limit=64))
        if len(s.earlier) > EARLIER_SHOWN:
            earlier.append(f" (the newest {EARLIER_SHOWN})", "dim")
        t.add_row("earlier", _wrap(earlier))
    for w in s.rate_limits:
        t.add_row("rate limit", _wrap(rate_window(w, now, utc)))
    t.add_row("last tool", _wrap(safe.name_text(s.last_tool or "-", limit=128)))
    if s.last_error is not None:
        error = safe.text(s.last_error, "red", limit=ERROR_MAX)
        if s.last_error_ts is not None:
            error.append("  ")
            error.append_text(when(s.last_error_ts, now, utc))
        t.add_row("last error", _wrap(error))
    t.add_row(Text("process", "bold underline"), "")


def _cost(value: float | None, unpriced: int) -> Text:
    if value is None and not unpriced:
        return Text("-", "dim")
    return Text(fmt.cost(value, unpriced), "yellow" if unpriced else "")
