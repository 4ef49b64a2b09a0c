"""Real agents' sessions on the dashboard (issue 14, items 3 and 5): MODEL and TOKENS on the
rows, the inferred state, rows with no live process, the agent screen's session rows with
hostile strings, and the header's backfill progress and problems."""

from __future__ import annotations

from factories import event, running, screen_text, snapshot, step, table, wait_until
from session_rows import NOW, session, session_fleet, sessions_snapshot
from textual.pilot import Pilot

from tui_monitor.models import SessionsStatus
from tui_monitor.ui.app import MonitorApp
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.widgets.header import HeaderBar


async def open_agent(pilot: Pilot[None], app: MonitorApp, name: str) -> None:
    t = table(app)
    for _ in range(t.get_row_index(name) - t.cursor_row):
        await pilot.press("j")
    await wait_until(pilot, lambda: t.selected == name, what=f"{name} selected")
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent screen")


async def test_session_rows_at_80x24_show_name_status_and_the_session_figures() -> None:
    async with running([sessions_snapshot()], (80, 24)) as (app, _, pilot):
        t = table(app)
        await wait_until(pilot, lambda: t.row_count == 5)
        shown = [str(k.value) for k in t.columns]
        assert shown == ["name", "status", "model", "cpu", "mem", "tokens", "cost"]
        rows = {r[0]: r for r in t.rendered_rows()}
        assert rows["claude"][1:] == (
            "~working",
            "sonnet-4-5",
            "12.5",
            "420.0 MiB",
            "1.3M",
            "$1.25",
        )
        assert rows["codex"][1:3] == ("~idle", "gpt-5-codex")
        assert rows["codex"][6] == "unknown"  # no price: never $0
        # no live process: dashes where a process's figures go, its session's figures kept
        assert rows["claude:9f8e7d6c"][1:] == ("exited", "sonnet-4-5", "-", "-", "1.3M", "$0.40")
        assert rows["planner"][2] == "-" and rows["planner"][5] == "-"


async def test_without_sessions_there_are_no_model_or_tokens_columns() -> None:
    plain = [a for a in session_fleet() if a.session is None]
    async with running([snapshot(1, plain)], (200, 40)) as (app, _, pilot):
        await wait_until(pilot, lambda: table(app).row_count == 2)
        shown = [str(k.value) for k in table(app).columns]
        assert "model" not in shown and "tokens" not in shown


async def test_sort_and_filter_cope_with_session_rows() -> None:
    async with running([sessions_snapshot()], (200, 40)) as (app, _, pilot):
        t = table(app)
        await wait_until(pilot, lambda: t.row_count == 5)
        t.set_sort("tokens", reverse=True)
        assert t.visible_names[:3] == ["codex", "claude:9f8e7d6c", "claude"]
        t.set_sort("model", reverse=False)
        assert t.visible_names[2:] == ["claude", "claude:9f8e7d6c", "codex"]
        await pilot.press("slash", *"opus", "enter")
        await wait_until(pilot, lambda: t.visible_names == ["claude:9f8e7d6c"], what="filter")
        assert t.selected == "claude:9f8e7d6c"  # a row with no pid is selectable
        await pilot.press("escape")
        await wait_until(pilot, lambda: t.row_count == 5, what="filter cleared")


async def test_a_session_row_with_no_process_opens_its_agent_screen() -> None:
    events = [event("claude:9f8e7d6c", "api_error", "overloaded", level="error", ts=-3)]
    snap = sessions_snapshot().model_copy(update={"events": tuple(events)})
    async with running([snap], (120, 50)) as (app, _, pilot):
        await wait_until(pilot, lambda: table(app).row_count == 5)
        await open_agent(pilot, app, "claude:9f8e7d6c")
        await wait_until(pilot, lambda: "Claude Code" in screen_text(app), what="session rows")
        text = screen_text(app)
        for part in (
            "9f8e7d6c-1111-4222",  # the id (it may fold at the width of the pane)
            "/home/dev/old",
            "~quiet",
            "overloaded",
        ):
            assert part in text, part
        assert "pids" not in text  # no process to describe
        await pilot.press("escape")
        await wait_until(pilot, lambda: table(app).selected == "claude:9f8e7d6c")


HOSTILE = "\x1b]0;pwned\x07\x1b[2J\nrm -rf\u202e gnp.exe [b]bold[/b] " + "ẍ" * 3000


async def test_hostile_session_strings_on_the_agent_screen_stay_text() -> None:
    evil = session(
        "claude:evil",
        cwd=HOSTILE,
        models=(HOSTILE,),
        last_tool=HOSTILE,
        last_error=HOSTILE,
        last_error_ts=NOW - 2,
        earlier=(HOSTILE,),
    )
    evil = evil.model_copy(
        update={"meta": evil.meta.model_copy(update={"git_branch": HOSTILE, "version": HOSTILE})}
    )
    agents = [
        a.model_copy(update={"session": evil}) if a.name == "claude" else a for a in session_fleet()
    ]
    async with running([sessions_snapshot(1, agents)], (100, 30)) as (app, _, pilot):
        await wait_until(pilot, lambda: table(app).row_count == 5)
        row = next(r for r in table(app).rendered_rows() if r[0] == "claude")
        assert row[2].startswith("\\x1b]0")  # MODEL: escaped, cut to its column
        assert not any("\x1b" in c for r in table(app).rendered_rows() for c in r)
        await open_agent(pilot, app, "claude")
        await wait_until(pilot, lambda: "\\x1b]0;pwned" in screen_text(app), what="escaped")
        text = screen_text(app)
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
        assert "[b]bold[/b]" in text  # literal text, never markup
        details = app.screen.query_one("#agent-left")
        details.scroll_end(animate=False)
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, AgentScreen)


async def test_the_header_shows_backfill_progress_then_only_problems() -> None:
    problem = "/home/dev/.claude/projects/x/s.jsonl:41: \x1b[31mline over 64 MiB"
    snaps = [
        sessions_snapshot(1, status=SessionsStatus(backfill=True, backlog=12 * 2**20)),
        sessions_snapshot(2, status=SessionsStatus(backfill=False, sessions=4)),
        sessions_snapshot(
            3, status=SessionsStatus(backfill=False, problems=3, last_problem=problem)
        ),
        sessions_snapshot(4, status=None),
    ]

    def header() -> str:
        return screen_text(app).splitlines()[0]

    async with running(snaps, (120, 30)) as (app, source, pilot):
        bar = app.screen.query_one(HeaderBar)
        await wait_until(pilot, lambda: "sessions: importing 12.0 MiB left" in header())
        assert bar.tooltip is None
        await step(pilot, source)
        await wait_until(pilot, lambda: "sessions" not in header(), what="nothing once done")
        await step(pilot, source)
        await wait_until(pilot, lambda: "sessions: 3 problems" in header(), what="problems")
        tip = str(bar.tooltip)
        assert "s.jsonl:41" in tip and "\\x1b[31m" in tip and "\x1b" not in tip
        await step(pilot, source)
        await wait_until(pilot, lambda: "sessions" not in header(), what="not reading")
        assert bar.tooltip is None
