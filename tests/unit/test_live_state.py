"""A session's state on its row: exact signals (hooks, OTLP) over its files over its process,
aging, `since` (sessions/live.py through the book and the join)."""

from __future__ import annotations

import pytest

from tui_monitor.models import AgentSample
from tui_monitor.sessions.book import SessionBook
from tui_monitor.sessions.join import join
from tui_monitor.sessions.live import LIVE_WINDOW, SLACK
from tui_monitor.sessions.records import (
    LiveState,
    SessionActivity,
    SessionInfo,
    SessionSignal,
)

T = 1_767_261_600.0
W = 10.0
"""The files' working window."""


def sig(state: LiveState, ts: float, *, sid: str = "s1", reason: str | None = None,
        tool: str | None = None, source: str = "hook") -> SessionSignal:  # fmt: skip
    return SessionSignal("claude-code", sid, ts, state, source, "Event", reason, tool)  # type: ignore[arg-type]


def line(kind: str, ts: float, sid: str = "s1") -> SessionActivity:
    return SessionActivity("claude-code", sid, ts, kind)  # type: ignore[arg-type]


def book_with(*records: object) -> SessionBook:
    book = SessionBook(clock=lambda: T)
    book.add(records)  # type: ignore[arg-type]
    return book


def test_a_signal_outranks_the_files_and_says_why() -> None:
    book = book_with(line("assistant", T - 1), sig("needs_input", T, reason="permission",
                                                    tool="Bash"))  # fmt: skip
    v = book.sessions["s1"].view(T + 1, W)
    assert (v.state, v.state_source, v.state_reason, v.state_tool) == (
        "needs_input", "hook", "permission", "Bash"
    )  # fmt: skip
    assert v.exact and v.state_since == T


def test_an_older_signal_arriving_late_changes_nothing() -> None:
    book = book_with(sig("idle", T))
    book.add([sig("working", T - 5)])
    s = book.sessions["s1"]
    assert s.live.signal is not None and s.live.signal.state == "idle"
    book.add([sig("working", T)])  # the same time: the later arrival wins
    assert s.live.signal.state == "working"


@pytest.mark.parametrize("window", [60.0, LIVE_WINDOW])
def test_working_ages_out_after_the_live_window_then_the_files_say(window: float) -> None:
    book = book_with(line("user", T - 30), sig("working", T, source="otlp"))
    s = book.sessions["s1"]
    held = s.view(T + window, W, window)
    assert (held.state, held.state_source) == ("working", "otlp")
    aged = s.view(T + window + 1, W, window)
    # The files' last line was mid-turn, long before: quiet since its window ran out.
    assert (aged.state, aged.state_source, aged.exact) == ("quiet", "files", False)
    assert aged.state_since == T - 30 + W


@pytest.mark.parametrize("state", ["needs_input", "idle", "error", "ended"])
def test_a_wait_holds_past_the_live_window(state: LiveState) -> None:
    book = book_with(line("assistant", T - 1), sig(state, T))
    v = book.sessions["s1"].view(T + 20 * LIVE_WINDOW, W)
    assert (v.state, v.state_source, v.state_since) == (state, "hook", T)


def test_a_newer_file_line_beats_a_wait_but_not_within_the_slack() -> None:
    book = book_with(sig("needs_input", T, tool="Bash", reason="permission"))
    s = book.sessions["s1"]
    book.add([line("tool", T + SLACK)])  # about the same moment: the wait stands
    assert s.view(T + SLACK, W).state == "needs_input"
    book.add([line("tool", T + SLACK + 0.5)])  # the tool ran: the user approved it
    v = s.view(T + SLACK + 1, W)
    assert (v.state, v.state_source, v.state_since) == ("working", "files", T + SLACK + 0.5)
    book.add([line("turn_end", T + 30)])
    assert s.view(T + 31, W).state == "idle" and not s.view(T + 31, W).exact


def test_files_that_agree_keep_the_exact_word_and_its_since() -> None:
    book = book_with(sig("working", T, source="otlp"))
    s = book.sessions["s1"]
    assert s.view(T, W).state_since == T
    book.add([line("assistant", T + 5)])  # newer, and also working
    v = s.view(T + 6, W)
    assert (v.state, v.state_source, v.state_since) == ("working", "otlp", T)
    book.add([sig("idle", T + 8), line("turn_end", T + 12)])  # Stop, then the turn's last line
    v = s.view(T + 13, W)
    assert (v.state, v.state_source, v.state_since) == ("idle", "hook", T + 8)


def test_since_moves_only_when_the_state_changes() -> None:
    book = book_with(sig("working", T))
    s = book.sessions["s1"]
    assert s.view(T, W).state_since == T
    book.add([sig("working", T + 20)])
    assert s.view(T + 20, W).state_since == T  # still working
    book.add([sig("needs_input", T + 30, reason="permission", tool="Bash")])
    assert s.view(T + 30, W).state_since == T + 30
    book.add([sig("needs_input", T + 40, reason="permission", tool="Bash")])  # a repeat
    assert s.view(T + 40, W).state_since == T + 30
    book.add([sig("needs_input", T + 50, reason="permission", tool="Edit")])  # a new wait
    assert s.view(T + 50, W).state_since == T + 50


def test_signals_are_not_lines_nor_history() -> None:
    book = book_with(SessionInfo("claude-code", "s1", cwd="/p", ts=T - 100))
    book.drain()
    book.add([sig("working", T), sig("idle", T - 1)])
    s = book.sessions["s1"]
    assert s.last_ts == T - 100 and s.latest == T  # lines vs. anything heard
    assert book.drain()[2] == ()  # no session row to rewrite for a signal
    assert book.idle


def test_a_subagents_signal_is_its_roots() -> None:
    book = book_with(
        SessionInfo("claude-code", "s1", cwd="/p", ts=T),
        SessionInfo("claude-code", "sub", parent_id="s1", ts=T),
        sig("needs_input", T + 1, sid="sub", reason="question"),
    )
    assert set(book.sessions) == {"s1"}
    assert book.sessions["s1"].view(T + 1, W).state_reason == "question"


def proc(status: str = "idle") -> AgentSample:
    return AgentSample.model_validate(
        dict(
            name="claude",
            kind="coding",
            source="preset",
            status=status,
            pid=11,
            create_time=T - 1000,
            process="claude",
            cwd="/p",
        )
    )


def test_the_join_puts_the_exact_state_on_the_process_row() -> None:
    book = book_with(SessionInfo("claude-code", "s1", cwd="/p", ts=T - 10),
                     sig("needs_input", T, reason="elicitation"))  # fmt: skip
    (row,) = join(book, (proc(),), T + 1, window=W, linger=300)
    assert row.session is not None and row.session.state == "needs_input"
    assert row.session.state_reason == "elicitation" and row.status == "idle"


def test_a_session_only_row_is_alive_while_a_signal_says_so() -> None:
    """No process seen (not ours to see, or gone): exited, unless a fresh exact state says
    the agent is there; after `ended`, or once working aged out, exited again."""
    book = book_with(SessionInfo("claude-code", "s1", cwd="/elsewhere", ts=T - 10),
                     line("user", T - 10), sig("working", T))  # fmt: skip
    (row,) = join(book, (), T + 1, window=W, linger=300)
    assert (row.source, row.status) == ("session", "unknown")
    assert row.session is not None and row.session.state == "working"
    (row,) = join(book, (), T + LIVE_WINDOW + 1, window=W, linger=3600)
    assert row.status == "exited" and row.session is not None and not row.session.exact
    book.add([sig("ended", T + LIVE_WINDOW + 2)])
    (row,) = join(book, (), T + LIVE_WINDOW + 3, window=W, linger=3600)
    assert row.status == "exited" and row.session is not None
    assert row.session.state == "ended"


def test_a_signal_keeps_a_session_only_row_past_its_last_line() -> None:
    book = book_with(line("user", T - 1000), sig("needs_input", T, reason="question"))
    rows = join(book, (), T + 200, window=W, linger=300)  # the line alone: 1200 s > linger
    assert [r.status for r in rows] == ["unknown"]
    assert join(book, (), T + 301, window=W, linger=300) == ()


def test_a_wait_a_failure_and_the_end_are_kept_as_history_events() -> None:
    """The history can say later that an agent waited for its user, and for what: a `state`
    event when a signal changes the state to needs input, error or ended; working and idle
    are the rows' only (a turn's every step would flood the log)."""
    from tui_monitor.sessions.book import SessionBook

    book = SessionBook()
    sid = "5f1c2d3e-0a1b-4c5d-8e9f-101112131415"

    def say(ts: float, state: str, reason: str | None = None, tool: str | None = None) -> None:
        book.add([SessionSignal("claude-code", sid, ts, state, "hook", "E", reason, tool)])  # type: ignore[arg-type]

    say(100.0, "working", tool="Bash")
    say(101.0, "needs_input", "permission", "Bash")
    say(101.5, "needs_input", "permission", "Bash")  # the same wait said again: nothing new
    say(102.0, "working", tool="Bash")
    say(103.0, "error", "rate_limit")
    say(104.0, "ended")
    events = book.take_events()
    assert [(e.kind, e.level, e.message, e.ts.timestamp()) for e in events] == [
        ("state", "warning", "needs input: Bash (permission)", 101.0),
        ("state", "error", "error: rate_limit", 103.0),
        ("state", "info", "ended", 104.0),
    ]
    assert {e.agent for e in events} == {"claude:5f1c2d3e"}
    assert events[0].data == {"state": "needs_input", "source": "hook", "event": "E",
                              "reason": "permission", "tool": "Bash"}  # fmt: skip
