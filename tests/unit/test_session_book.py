"""The sessions book: records -> history and rows; the join to process rows; the cost."""

from __future__ import annotations

import re
from pathlib import Path

from tests.claude_transcripts import Ledger, Transcript
from tui_monitor.cost.ledger import Ledger as CostLedger
from tui_monitor.cost.tick import with_cost
from tui_monitor.models import AgentSample, SessionMeta, SessionTokens, Snapshot
from tui_monitor.sessions.book import SessionBook, agent_name
from tui_monitor.sessions.claude import ClaudeReader
from tui_monitor.sessions.join import family_of, join
from tui_monitor.sessions.records import (
    RateLimit,
    SessionActivity,
    SessionError,
    SessionInfo,
    SessionUsage,
)


class Clock:
    def __init__(self, t: float = 1_767_261_600.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def usage(sid: str, key: str, out: int, ts: float = 1_767_261_600.0, **kw: int) -> SessionUsage:
    return SessionUsage("claude-code", sid, ts, "claude-sonnet-4-5", key, output_tokens=out, **kw)


def test_growing_copies_count_once_the_largest_after_settling() -> None:
    clock = Clock()
    book = SessionBook(clock=clock)
    book.add([SessionInfo("claude-code", "s1", cwd="/p"), usage("s1", "msg:a", 10)])
    book.add([usage("s1", "msg:a", 90, input_tokens=3), usage("s1", "msg:a", 50)])
    got, _, metas = book.drain()
    assert got == []  # still settling
    assert [m.session_id for m in metas] == ["s1"]
    assert book.sessions["s1"].view(clock(), 10).tokens.output == 90  # shown while settling
    clock.t += 2.5
    got, _, _ = book.drain()
    assert [(u.request_id, u.output_tokens, u.input_tokens) for u in got] == [("msg:a", 90, 3)]
    assert got[0].agent == "claude:s1" and got[0].session == "s1"
    book.add([usage("s1", "msg:a", 95)])  # a late copy of a recorded key: already counted
    clock.t += 3
    assert book.drain()[0] == []
    assert book.sessions["s1"].tokens.output == 90
    assert book.duplicates == 3


def test_subagent_usage_rolls_into_the_root_session() -> None:
    clock = Clock()
    book = SessionBook(clock=clock)
    book.add(
        [
            SessionInfo("claude-code", "root", cwd="/p", git_branch="main", version="2.1.9"),
            SessionInfo("claude-code", "root:agent-1", parent_id="root", cwd="/elsewhere"),
            SessionInfo("claude-code", "root:agent-1:x", parent_id="root:agent-1"),
            usage("root:agent-1", "msg:b", 7),
            usage("root:agent-1:x", "msg:c", 5),
            usage("root", "msg:b", 7),  # the same message in the parent's file
        ]
    )
    clock.t += 3
    got, _, metas = book.drain()
    assert {u.request_id for u in got} == {"msg:b", "msg:c"}
    assert {u.session for u in got} == {"root"}
    assert list(book.sessions) == ["root"]
    s = book.sessions["root"]
    assert s.cwd == "/p" and s.git_branch == "main" and s.version == "2.1.9"  # not the child's
    assert s.tokens.output == 12 and len(s.children) == 2
    assert [m.session_id for m in metas] == ["root"]


def test_parent_loop_in_the_files_does_not_hang() -> None:
    book = SessionBook(clock=Clock())
    book.add(
        [
            SessionInfo("codex", "a", parent_id="b"),
            SessionInfo("codex", "b", parent_id="a"),
            usage("a", "k", 1),
        ]
    )
    assert len(book.sessions) >= 1


def test_seed_keys_keep_a_reread_from_counting_twice() -> None:
    clock = Clock()
    book = SessionBook(clock=clock)
    meta = SessionMeta(family="claude-code", session_id="s1", agent="claude:s1", cwd="/p")
    book.seed([(meta, SessionTokens(output=90))], [("claude:s1", "msg:a")])
    book.add([usage("s1", "msg:a", 90), usage("s1", "msg:new", 5)])
    clock.t += 3
    got, _, _ = book.drain()
    assert [u.request_id for u in got] == ["msg:new"]
    assert book.sessions["s1"].tokens.output == 95


def test_errors_old_ones_only_as_last_error_and_each_once() -> None:
    clock = Clock()
    book = SessionBook(errors_since=clock.t - 60, clock=clock)
    old = SessionError("claude-code", "s1", clock.t - 3600, "rate_limit", "old \x1b[31mred")
    new = SessionError("claude-code", "s1", clock.t - 5, "overloaded", "busy")
    book.add([old, new, new])
    _, errors, _ = book.drain()
    assert [(e.error_type, e.message, e.agent) for e in errors] == [
        ("overloaded", "busy", "claude:s1")
    ]
    s = book.sessions["s1"]
    assert s.last_error == "busy"
    book.add([old])
    assert s.last_error == "busy"  # older than the one shown


def test_inferred_state_working_quiet_idle() -> None:
    clock = Clock()
    book = SessionBook(clock=clock)
    t = clock.t
    book.add(
        [
            SessionActivity("codex", "c1", t - 2, "user"),
            SessionActivity("codex", "c1", t - 1, "tool", "shell"),
        ]
    )
    s = book.sessions["c1"]
    assert s.view(t, 10).state == "working"
    assert s.view(t, 10).last_tool == "shell"
    assert s.view(t + 60, 10).state == "quiet"  # mid-turn, silent past the window
    assert s.view(t + 60, 10).state_since == t - 1 + 10
    assert s.view(t + 60, 10).state_source == "files" and not s.view(t + 60, 10).exact
    book.add([SessionActivity("codex", "c1", t + 61, "turn_end")])
    v = s.view(t + 3600, 10)
    assert (v.state, v.state_since) == ("idle", t + 61)  # the turn finished


def test_rate_limits_latest_per_window_shortest_first() -> None:
    book = SessionBook(clock=Clock())
    book.add(
        [
            RateLimit("codex", "c1", 1.0, 10080, 20.0, 99.0),
            RateLimit("codex", "c1", 2.0, 300, 10.0, 50.0),
            RateLimit("codex", "c1", 3.0, 300, 12.5, 51.0),
        ]
    )
    windows = book.sessions["c1"].view(3.0, 10).rate_limits
    assert [(w.window_minutes, w.used_percent) for w in windows] == [(300, 12.5), (10080, 20.0)]


def test_agent_names() -> None:
    assert agent_name("claude-code", "1a2b3c4d-0000-4000-8000-000000000000") == "claude:1a2b3c4d"
    codex = "0199a1b2-c3d4-7e5f-8a9b-0123456789ab"
    assert agent_name("codex", codex) == "codex:456789ab"
    assert agent_name("gemini", "bad\x1b[2Jsession") == "gemini:bad2Jses"  # letters, digits
    only_junk = agent_name("gemini", "\x1b[\x07")
    assert re.fullmatch(r"gemini:[0-9a-f]{8}", only_junk)


def row(name: str, pid: int, start: float, cwd: str = "/p", **kw: object) -> AgentSample:
    fields: dict[str, object] = dict(
        name=name, kind="coding", source="preset", status="idle", pid=pid, create_time=start,
        process=name.partition("#")[0], cwd=cwd,
    )  # fmt: skip
    fields.update(kw)
    return AgentSample.model_validate(fields)


def test_family_of_rows() -> None:
    assert family_of(row("claude#2", 1, 0)) == "claude-code"
    assert (
        family_of(
            row(
                "x",
                1,
                0,
                process="node",
                cmdline="node /usr/lib/node_modules/@openai/codex/bin/codex.js",
            )
        )
        == "codex"
    )
    assert family_of(row("mine", 1, 0, source="config", process="python")) is None


def test_join_by_cwd_and_start_time() -> None:
    clock = Clock(10_000.0)
    book = SessionBook(clock=clock)
    # Two claude processes in /p (started at 100 and 500), one in /q, one codex in /p.
    rows = (
        row("claude", 11, 100.0),
        row("claude#2", 12, 500.0),
        row("claude#3", 13, 50.0, cwd="/q"),
        row("codex", 14, 50.0),
    )
    book.add(
        [
            SessionInfo("claude-code", "early", cwd="/p", ts=200.0),  # after 100, before 500
            SessionInfo("claude-code", "late", cwd="/p", ts=600.0),  # after both: the younger
            SessionInfo("claude-code", "older", cwd="/p", ts=10.0),  # before both, never after
            SessionInfo("claude-code", "resumed", cwd="/q", ts=10.0),
            SessionActivity("claude-code", "resumed", 9_000.0, "user"),  # written after 50
            SessionInfo("codex", "cx", cwd="/p", ts=9_990.0),
            SessionInfo("gemini", "gone", cwd="/nowhere", ts=9_000.0),
        ]
    )
    out = {a.name: a for a in join(book, rows, clock.t, window=10, linger=3600)}
    assert out["claude"].session is not None and out["claude"].session.meta.session_id == "early"
    assert out["claude#2"].session is not None and out["claude#2"].session.meta.session_id == "late"
    assert out["claude#3"].session is not None
    assert out["claude#3"].session.meta.session_id == "resumed"
    assert out["codex"].session is not None and out["codex"].session.state == "working"
    # No live process: own rows while recent; "older" ended long ago (ts 10 < now - linger).
    gone = out["gemini:gone"]
    assert (gone.source, gone.status, gone.pid, gone.cwd) == ("session", "exited", None, "/nowhere")
    assert "claude:older" not in out and "claude:early" not in out


def test_join_newest_session_shown_earlier_listed() -> None:
    book = SessionBook(clock=Clock())
    book.add(
        [
            SessionInfo("claude-code", "first", cwd="/p", ts=200.0),
            SessionInfo("claude-code", "second", cwd="/p", ts=300.0),  # after /clear
        ]
    )
    (joined,) = join(book, (row("claude", 11, 100.0),), 400.0, window=10, linger=3600)
    assert joined.session is not None
    assert joined.session.meta.session_id == "second"
    assert joined.session.earlier == ("claude:first",)


def test_an_exited_process_does_not_take_sessions() -> None:
    book = SessionBook(clock=Clock())
    book.add([SessionInfo("claude-code", "s", cwd="/p", ts=200.0)])
    dead = row("claude", 11, 100.0, status="exited")
    out = join(book, (dead,), 300.0, window=10, linger=3600)
    assert out[0].session is None and out[1].name == "claude:s"


def test_cost_on_joined_rows_comes_from_their_sessions(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from tui_monitor.models import GpuStatus, HostSample, UsageRecord

    now = datetime.now(UTC)
    book = SessionBook(clock=lambda: now.timestamp())
    book.add(
        [
            SessionInfo("claude-code", "s1", cwd="/p", ts=now.timestamp() - 100),
            SessionInfo("claude-code", "s2", cwd="/p", ts=now.timestamp() - 50),
        ]
    )
    agents = join(
        book, (row("claude", 11, now.timestamp() - 200),), now.timestamp(), window=10, linger=60
    )
    ledger = CostLedger(clock=lambda: now.timestamp())
    for agent, cost in (("claude:s1", 1.25), ("claude:s2", 0.5), ("claude", 100.0)):
        ledger.add(UsageRecord(ts=now, agent=agent, model="m", output_tokens=1, cost_usd=cost))
    host = HostSample(
        hostname="h", boot_time=0, cpu_count=1, cpu_utilization=None, cpu_per_core=None,
        load_1=None, load_5=None, load_15=None, ram_used=0, ram_total=1, ram_available=1,
        swap_used=0, swap_total=0, disk_read_bps=None, disk_write_bps=None, net_rx_bps=None,
        net_tx_bps=None,
    )  # fmt: skip
    snap = Snapshot(seq=1, ts=now, interval=1, lag=0, duration=0, host=host,
                    gpu=GpuStatus(available=False), agents=agents)  # fmt: skip
    (a,) = with_cost(snap, ledger.summary(now.timestamp())).agents
    assert a.session is not None
    # The row: its own name (e.g. it also reports in) plus both sessions; the session: its own.
    assert a.cost == 101.75
    assert (a.session.cost_today, a.session.cost_month) == (0.5, 0.5)


def test_book_totals_from_real_transcripts_match_an_independent_count(tmp_path: Path) -> None:
    projects = tmp_path / "projects"
    truth = Ledger()
    parent = Transcript(projects / "-p" / "s1.jsonl", "s1", ledger=truth)
    sub = Transcript(
        projects / "-p" / "s1" / "subagents" / "agent-a1.jsonl", "s1", agent="a1", ledger=truth
    )
    for i in range(5):
        parent.user()
        parent.response(
            f"m{i}", output=100 + i, cache_read=10 * i, cache_write=7, cache_write_1h=2, copies=3
        )
        sub.response(f"sub{i}", root="s1", output=3 + i, input=11)
    clock = Clock()
    book = SessionBook(clock=clock)
    with ClaudeReader([projects]) as reader:
        book.add(reader.poll())
        book.add(reader.poll())
    clock.t += 10
    got, _, _ = book.drain()
    expected = truth.totals()["s1"]
    summed = (
        sum(u.input_tokens for u in got),
        sum(u.output_tokens for u in got),
        sum(u.cache_read_tokens for u in got),
        sum(u.cache_write_tokens for u in got),
        sum(u.cache_write_1h_tokens for u in got),
    )
    assert summed == expected
    t = book.sessions["s1"].tokens
    assert (t.input, t.output, t.cache_read, t.cache_write, t.cache_write_1h) == expected


def test_current_model_follows_the_latest_response() -> None:
    from tui_monitor.ui.model_names import newest_model

    book = SessionBook(clock=Clock())
    book.add(
        [
            SessionUsage("claude-code", "s", 1.0, "claude-opus-4-6", "a", output_tokens=1),
            SessionUsage("claude-code", "s", 2.0, "claude-sonnet-4-5", "b", output_tokens=1),
            SessionUsage("claude-code", "s", 3.0, "claude-opus-4-6", "c", output_tokens=1),
            SessionUsage("claude-code", "s", 0.5, "claude-haiku-4-5", "d", output_tokens=1),
        ]
    )
    view = book.sessions["s"].view(4.0, 10)
    assert view.meta.models == ("claude-opus-4-6", "claude-sonnet-4-5", "claude-haiku-4-5")
    assert view.meta.model == "claude-opus-4-6"
    sample = AgentSample(name="x", kind="coding", source="session", status="exited", session=view)
    assert newest_model(sample) == "claude-opus-4-6"


def test_an_agent_budget_named_for_the_program_covers_its_sessions() -> None:
    from datetime import UTC, datetime

    from tui_monitor.cost.budgets import BudgetSettings
    from tui_monitor.models import UsageRecord

    now = datetime.now(UTC)
    ledger = CostLedger(
        BudgetSettings(agents={"claude": 10.0, "codex": 10.0}), clock=lambda: now.timestamp()
    )
    for agent, cost in (("claude:aaaa", 2.0), ("claude:bbbb", 3.0), ("claude", 1.0),
                        ("claudette", 50.0), ("codex:cccc", 4.0)):  # fmt: skip
        ledger.add(UsageRecord(ts=now, agent=agent, model="m", output_tokens=1, cost_usd=cost))
    spent = {b.name: b.spent for b in ledger.summary(now.timestamp()).budgets}
    assert spent == {"agent:claude": 6.0, "agent:codex": 4.0}


def test_old_responses_settle_at_their_readers_next_poll_not_after_seconds() -> None:
    clock = Clock()
    book = SessionBook(clock=clock)
    old = clock.t - 3600  # a backfill: the response was finished long ago
    book.add([usage("s1", "msg:a", 10, ts=old)], source=0)
    assert book.drain()[0] == []  # its reader may still hand out a larger copy
    book.add([usage("s1", "msg:b", 5, ts=old)], source=1)  # another reader's poll: no matter
    assert book.drain()[0] == []
    book.add([usage("s1", "msg:a", 30, ts=old)], source=0)  # the copy the budget cut off
    got, _, _ = book.drain()
    assert [(u.request_id, u.output_tokens) for u in got] == [("msg:a", 30)]
    # A live one (a line just written) still waits SETTLE seconds for its copies.
    book.add([usage("s1", "msg:c", 1, ts=clock.t)], source=0)
    book.add([], source=0)
    assert [u.request_id for u in book.drain()[0]] == []
    clock.t += 2.5
    assert sorted(u.request_id for u in book.drain()[0]) == ["msg:b", "msg:c"]
