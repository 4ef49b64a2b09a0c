"""How a real agent's session reads in the table, the agent screen and `status`: short model
names that never mix two models up, compact tokens, unknown cost never $0, the inferred state
marked `~` and never over a process that says worse (issue 14, items 3 and 5)."""

from __future__ import annotations

import io
import itertools
import json
import random

import pytest
from factories import agent, snapshot
from rich.console import Console
from rich.table import Table
from session_rows import NOW, codex_windows, session, session_fleet

from tui_monitor import fmt
from tui_monitor.cli.report import agent_table, print_status
from tui_monitor.config import SORT_KEYS
from tui_monitor.export import read_snapshot, snapshot_document
from tui_monitor.models import AgentSample, SessionsStatus, SessionTokens
from tui_monitor.ui.columns import (
    BY_KEY,
    COLUMNS,
    INFERRED_STYLE,
    STATE_STYLE,
    STATUS_MAX,
    STATUS_STYLE,
    AgentStats,
    cell,
    compile_filter,
    fitting,
    shown_status,
    status_style,
    status_width,
)
from tui_monitor.ui.model_names import short_models
from tui_monitor.ui.session_section import add_session_rows, window_length
from tui_monitor.ui.widgets.header import _sessions


def render(renderable: object, width: int = 100) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


# -- model names ----------------------------------------------------------------------


def test_short_model_names_drop_the_prefix_and_the_date() -> None:
    shown = short_models(["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "gpt-5"])
    assert shown == {
        "claude-sonnet-4-5-20250929": "sonnet-4-5",
        "claude-opus-4-1-20250805": "opus-4-1",
        "gpt-5": "gpt-5",
    }
    # before a version number the prefix stays (`3-5-sonnet` alone says less); ISO dates go
    assert short_models(["claude-3-5-haiku-20241022"]) == {
        "claude-3-5-haiku-20241022": "claude-3-5-haiku"
    }
    assert short_models(["gpt-4o-2024-08-06"]) == {"gpt-4o-2024-08-06": "gpt-4o"}


def test_two_snapshots_of_one_model_keep_their_dates() -> None:
    a, b = "claude-3-5-sonnet-20240620", "claude-3-5-sonnet-20241022"
    assert short_models([a, b]) == {a: a, b: b}
    dated, alias = "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"
    shown = short_models([dated, alias])
    assert shown == {dated: "sonnet-4-5-20250929", alias: "claude-sonnet-4-5"}
    # a model literally named like another's short form: neither takes it from the other
    shown = short_models(["sonnet-4-5", "claude-sonnet-4-5"])
    assert shown == {"sonnet-4-5": "sonnet-4-5", "claude-sonnet-4-5": "claude-sonnet-4-5"}


def test_short_names_are_never_shared() -> None:
    parts = ["claude-", ""], ["opus", "sonnet", "3-5-sonnet"], ["-4-5", ""], ["-20250929", ""]
    names = ["".join(p) for p in itertools.product(*parts)]
    rng = random.Random(14)
    for _ in range(300):
        pick = rng.sample(names, rng.randint(1, len(names)))
        shown = short_models(pick)
        assert len(set(shown.values())) == len(set(pick)), shown
        assert all(len(shown[m]) <= len(m) for m in pick)


# -- figures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (812, "812"),
        (9_999, "9999"),
        (12_345, "12.3k"),
        (999_949, "999.9k"),
        (999_950, "1.0M"),
        (1_234_567, "1.2M"),
        (999_949_999, "999.9M"),
        (2_600_000_000, "2.6B"),
    ],
)
def test_token_counts_are_compact(n: int, text: str) -> None:
    assert fmt.count(n) == text
    assert len(text) <= 6  # the TOKENS column's width


def test_unpriced_usage_is_unknown_never_zero() -> None:
    assert fmt.cost(None, 3) == "unknown"
    assert fmt.cost(0.0, 3) == "unknown"  # nothing priced: `≥$0.00` would read as free
    assert fmt.cost(1.5, 2) == "≥$1.50"
    assert fmt.cost(None) == "-"
    assert fmt.cost(0.0) == "$0.00"  # priced, and free


# -- the table's cells ----------------------------------------------------------------


def row(name: str) -> AgentSample:
    return next(a for a in session_fleet() if a.name == name)


def cells(a: AgentSample, models: dict[str, str] | None = None) -> dict[str, str]:
    return {c.key: cell(c, a, AgentStats(), NOW, models).plain for c in COLUMNS}


def test_model_tokens_and_cost_cells() -> None:
    claude = cells(row("claude"), short_models(["claude-sonnet-4-5-20250929"]))
    assert (claude["model"], claude["tokens"], claude["cost"]) == ("sonnet-4-5", "1.3M", "$1.25")
    codex = cells(row("codex"))
    assert (codex["model"], codex["tokens"], codex["cost"]) == ("gpt-5-codex", "11.4M", "unknown")
    assert cell(BY_KEY["cost"], row("codex"), AgentStats(), NOW).style == "yellow"
    plain = cells(agent("planner"))
    assert (plain["model"], plain["tokens"]) == ("-", "-")


def test_a_session_row_without_a_process_shows_dashes() -> None:
    gone = cells(row("claude:9f8e7d6c"))
    assert [gone[k] for k in ("pid", "cpu", "mem", "gpu", "procs", "uptime")] == ["-"] * 6
    assert gone["status"] == "exited"  # the process is gone: says worse than `~idle`
    assert gone["model"] == "claude-sonnet-4-5-20250929"  # the newest; no short map given


def test_sorting_by_model_and_tokens() -> None:
    agents = session_fleet()

    def order(key: str, reverse: bool) -> list[str]:
        col = BY_KEY[key]
        ranked = sorted(agents, key=lambda a: (col.sort(a, AgentStats(), NOW), a.name))
        return [a.name for a in (reversed(ranked) if reverse else ranked)]

    assert order("tokens", True)[:3] == ["codex", "claude:9f8e7d6c", "claude"]
    assert set(order("tokens", True)[3:]) == {"planner", "vllm"}  # no session: last
    assert order("model", False)[2:] == ["claude", "claude:9f8e7d6c", "codex"]


def test_sort_keys_name_every_column() -> None:
    assert set(SORT_KEYS) == {c.key for c in COLUMNS}


def test_80_columns_keep_name_status_and_the_session_figures() -> None:
    shown = [c.key for c in fitting(78, len("claude:9f8e7d6c"), frozenset({"gpu", "queue"}))]
    assert shown[:2] == ["name", "status"]
    assert {"model", "cpu", "mem", "tokens", "cost"} <= set(shown)


# -- the inferred state ---------------------------------------------------------------


@pytest.mark.parametrize("status", ["running", "idle", "unknown", "waiting"])
def test_the_inferred_state_stands_in_for_a_live_process(status: str) -> None:
    a = row("codex").model_copy(update={"status": status})
    assert shown_status(a) == "~idle"  # its turn finished
    assert status_style(a) == INFERRED_STYLE["idle"]
    assert status_style(a) not in STATUS_STYLE.values()  # never mistaken for a process's


@pytest.mark.parametrize("status", ["stopped", "zombie", "exited", "stale"])
def test_a_process_that_says_worse_wins(status: str) -> None:
    a = row("claude").model_copy(update={"status": status})
    assert shown_status(a) == status
    assert status_style(a) == STATUS_STYLE[status]


def test_a_reported_status_wins_over_the_inferred_one() -> None:
    a = row("claude").model_copy(update={"reported": "thinking"})
    assert shown_status(a) == "thinking"
    assert shown_status(row("claude")) == "~working"
    assert shown_status(row("claude").model_copy(update={"session": None})) == "running"


def test_the_filter_finds_models_and_inferred_states() -> None:
    agents = session_fleet()
    match = compile_filter("opus")
    assert match is not None and [a.name for a in agents if match(a)] == ["claude:9f8e7d6c"]
    match = compile_filter("~idle")
    assert match is not None and [a.name for a in agents if match(a)] == ["codex"]


# -- the agent screen's rows ----------------------------------------------------------


def session_rows(a: AgentSample, width: int = 120) -> str:
    assert a.session is not None
    t = Table.grid(padding=(0, 1))
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    add_session_rows(t, a.session, NOW, utc=True)
    return render(t, width)


def test_session_rows_say_everything_the_files_told() -> None:
    text = session_rows(row("claude"))
    for part in (
        "Claude Code",
        "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "claude:1a2b3c4d",
        "/home/dev/shop",
        "main",
        "2.0.14",
        "claude-sonnet-4-5-20250929",
        "~working for 30s (inferred from its files)",
        "4s ago (11:59:56Z)",
        "last tool  Bash",
        "$1.25",
        "$18.5",
    ):
        assert part in text, part
    # cache writes split by their time to live: 5m = all writes less the 1h ones
    t = SessionTokens(input=12_000, output=48_000, cache_read=1_150_000, cache_write=90_000,
                      cache_write_1h=30_000)  # fmt: skip
    assert f"{t.cache_write - t.cache_write_1h:,}" in text.split("cache write 5m")[1].split("\n")[0]
    assert f"{t.cache_write_1h:,}" in text.split("cache write 1h")[1].split("\n")[0]
    assert f"{t.input + t.output + t.cache_read + t.cache_write:,}" in text


def test_codex_windows_unknown_cost_earlier_sessions_and_the_last_error() -> None:
    codex = row("codex")
    assert codex.session is not None
    s = codex.session.model_copy(
        update={
            "earlier": ("codex:00000001", "codex:00000002"),
            "subagents": 3,
            "last_error": "stream disconnected before completion",
            "last_error_ts": NOW - 125,
        }
    )
    text = session_rows(codex.model_copy(update={"session": s}))
    assert "5h window: 42% used, resets 14:13:00Z (in 2h13m)" in text
    assert "7d window: 81% used, resets" in text and "(in 3d00h)" in text
    assert text.count("unknown") == 2  # today and this month: never $0
    assert "14 usage records this month have no price" in text
    assert "2: codex:00000001, codex:00000002" in text
    assert "3 rolled in" in text
    assert "stream disconnected before completion  2m05s ago (11:57:55Z)" in text
    assert [window_length(m) for m in (300, 10080, 90, 45, None)] == [
        "5h", "7d", "90min", "45min", "?"
    ]  # fmt: skip


HOSTILE = "\x1b[31mred\x1b[0m\n\u202eevil\u202c [bold]markup[/] " + "x" * 5000


def test_hostile_session_strings_are_escaped_and_bounded() -> None:
    s = session(
        "claude:evil",
        cwd=HOSTILE,
        models=(HOSTILE,),
        last_tool=HOSTILE,
        last_error=HOSTILE,
        last_error_ts=NOW,
    )
    s = s.model_copy(
        update={"meta": s.meta.model_copy(update={"git_branch": HOSTILE, "version": HOSTILE})}
    )
    text = session_rows(row("claude").model_copy(update={"session": s}), width=200)
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b[31mred" in text and "\\u202eevil" in text
    assert "[bold]markup[/]" in text  # literal, never markup
    assert len(text) < 30_000  # each value bounded


# -- the header -----------------------------------------------------------------------


def test_the_header_shows_the_backfill_then_only_problems() -> None:
    backfill = SessionsStatus(backfill=True, backlog=12 * 2**20, problems=2)
    assert _sessions(backfill).plain == "sessions: importing 12.0 MiB left  "
    assert _sessions(SessionsStatus(backfill=False, sessions=4)).plain == ""
    done = SessionsStatus(backfill=False, problems=3, last_problem="x.jsonl:7: bad JSON")
    assert _sessions(done).plain == "sessions: 3 problems  "
    assert _sessions(SessionsStatus(backfill=False, problems=1)).plain == "sessions: 1 problem  "
    assert _sessions(None).plain == ""


# -- status and export ----------------------------------------------------------------


def test_status_shows_model_and_tokens_only_with_sessions() -> None:
    text = render(agent_table(session_fleet(), NOW), 200)
    header = text.splitlines()[0].split()
    assert header[:4] == ["NAME", "KIND", "STATUS", "MODEL"] and "TOKENS" in header
    codex = next(ln for ln in text.splitlines() if ln.startswith("codex"))
    assert "~idle" in codex and "gpt-5-codex" in codex and "11.4M" in codex
    assert "unknown" in codex
    gone = next(ln for ln in text.splitlines() if ln.startswith("claude:9f8e7d6c"))
    assert "sonnet-4-5" in gone and " 0 " not in gone  # no process: dashes, not zeros
    plain = render(agent_table([agent("planner")], NOW), 200)
    assert "MODEL" not in plain and "TOKENS" not in plain


def test_status_says_the_session_readers_state_and_json_has_the_sessions() -> None:
    status = SessionsStatus(
        backfill=True, backlog=3 * 2**20, sessions=5, problems=2,
        last_problem="/home/dev/.claude/projects/x/s.jsonl:41: line over 64 MiB",
    )  # fmt: skip
    snap = snapshot(1, session_fleet()).model_copy(update={"sessions": status})
    out = io.StringIO()
    print_status(snap, {"from": "sampled", "note": "test"}, Console(file=out, width=300))
    line = next(ln for ln in out.getvalue().splitlines() if ln.startswith("sessions"))
    assert "5 sessions  importing" in line and "importing, 3.0 MiB left" in line
    assert "2 problems" in line and "s.jsonl:41: line over 64 MiB" in line
    doc = json.loads(json.dumps(snap.model_dump(mode="json")))  # what `status --json` prints
    codex = next(a for a in doc["agents"] if a["name"] == "codex")
    assert codex["session"]["meta"]["models"] == ["gpt-5-codex"]
    assert codex["session"]["rate_limits"][0]["window_minutes"] == 300
    assert doc["sessions"]["backlog"] == 3 * 2**20


def test_a_live_snapshot_document_keeps_the_sessions_and_reads_back() -> None:
    snap = snapshot(1, session_fleet()).model_copy(
        update={"sessions": SessionsStatus(backfill=False, problems=1)}
    )
    doc = json.loads(json.dumps(snapshot_document(snap, source="live")))
    back = read_snapshot(doc)
    assert back == snap
    codex = next(a for a in back.agents if a.name == "codex")
    assert codex.session is not None and codex.session.rate_limits == codex_windows()


# -- exact states (hooks, OTLP) ----------------------------------------------------------


def exact(state: str, reason: str | None = None, tool: str | None = None,
          status: str = "idle", source: str = "hook") -> AgentSample:  # fmt: skip
    a = row("claude").model_copy(update={"status": status})
    assert a.session is not None
    s = a.session.model_copy(update={"state": state, "state_source": source,
                                      "state_reason": reason, "state_tool": tool})  # fmt: skip
    return a.model_copy(update={"session": s})


@pytest.mark.parametrize(
    ("state", "reason", "tool", "shown"),
    [
        ("needs_input", "permission", "Bash", "needs input: Bash"),
        ("needs_input", "question", None, "needs input: question"),
        ("needs_input", "elicitation", "github", "needs input: elicitation"),
        ("needs_input", None, None, "needs input"),
        ("error", "rate_limit", None, "error: rate_limit"),
        ("error", None, None, "error"),
        ("working", None, "Bash", "working"),
        ("idle", None, None, "idle"),
        ("ended", None, None, "ended"),
    ],
)
def test_exact_states_show_without_the_mark_and_say_what_they_wait_on(
    state: str, reason: str | None, tool: str | None, shown: str
) -> None:
    a = exact(state, reason, tool)
    assert shown_status(a) == shown
    assert status_style(a) == STATE_STYLE[state]  # type: ignore[index]
    inferred = exact(state, reason, tool, source="files")
    assert shown_status(inferred) == "~" + shown


def test_needs_input_has_its_own_colour_and_sorts_first() -> None:
    waiting = exact("needs_input", "permission", "Bash")
    assert "reverse" in status_style(waiting)
    others = {status_style(exact(s)) for s in ("working", "idle", "error", "ended", "quiet")}
    assert status_style(waiting) not in others | set(STATUS_STYLE.values())
    rank = BY_KEY["status"].sort
    stats = AgentStats()
    worst = max(rank(row("planner").model_copy(update={"status": s}), stats, NOW)  # type: ignore[type-var]
                for s in STATUS_STYLE)  # fmt: skip
    assert rank(waiting, stats, NOW) > worst  # type: ignore[operator]  # first, largest first


def test_an_exact_state_outranks_a_reported_one_and_yields_to_a_dead_process() -> None:
    a = exact("needs_input", "question").model_copy(update={"reported": "thinking"})
    assert shown_status(a) == "needs input: question"
    inferred = exact("idle", source="files").model_copy(update={"reported": "thinking"})
    assert shown_status(inferred) == "thinking"
    assert shown_status(exact("needs_input", "question", status="exited")) == "exited"


def test_the_status_column_grows_for_a_long_state_within_its_limit() -> None:
    assert status_width([exact("working")]) == BY_KEY["status"].width
    assert status_width([exact("needs_input", "permission", "Bash")]) == len("needs input: Bash")
    assert status_width([exact("needs_input", "permission", "x" * 80)]) == STATUS_MAX


def test_the_agent_screen_says_the_state_what_it_waits_on_since_and_who_said_it() -> None:
    text = session_rows(exact("needs_input", "permission", "Bash"))
    assert "state      needs input: Bash (permission) for 30s (said by a hook)" in text
    text = session_rows(exact("error", "rate_limit", source="otlp"))
    assert "error: rate_limit for 30s (said by an OTLP event)" in text
    hostile = session_rows(exact("needs_input", "permission", "Ba\x1b[2Jsh"))
    assert "\x1b[2J" not in hostile and "Ba\\x1b[2Jsh" in hostile
