"""Real agents' files, as a real `tui-monitor record` imports and follows them.

Claude Code transcripts (a parent, a subagent file, repeated response lines) and Codex
rollouts (a fork replaying its parent's history) are written under the test's own
CLAUDE_CONFIG_DIR and CODEX_HOME; the recorder backfills them, follows what is appended, and
the history's tokens and cost per session equal a plain-Python count over what the fixtures
meant. A restart reads nothing twice; deleting the files loses nothing already imported; with
no recorder running, `tui-monitor sessions` imports them itself.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from recorders import rows, run, start_recorder, wait_for, write_config

from tests.claude_transcripts import Ledger, Transcript
from tests.codex_rollouts import V0_58, Rollout

pytestmark = pytest.mark.slow

PRICES = """
[sessions]
poll_every = 0.2
settle = 5.0
[prices."claude-sonnet-4-5*"]
input = 3.0
output = 15.0
cache_read = 0.3
cache_write = 3.75
cache_write_1h = 6.0
[prices."gpt-5-codex"]
input = 1.25
output = 10.0
cache_read = 0.125
"""
M = 1_000_000


def claude_cost(t: tuple[int, int, int, int, int]) -> float:
    inp, out, read, write, write_1h = t
    return (inp * 3.0 + out * 15.0 + read * 0.3 + (write - write_1h) * 3.75 + write_1h * 6.0) / M


def homes() -> tuple[Path, Path]:
    return Path(os.environ["CLAUDE_CONFIG_DIR"]) / "projects", Path(os.environ["CODEX_HOME"])


def sessions_json() -> list[dict[str, object]]:
    done = run("sessions", "--json")
    assert done.returncode == 0, done.stderr
    out: list[dict[str, object]] = json.loads(done.stdout)
    return out


def test_files_are_imported_followed_and_never_counted_twice(
    tmp_path: Path, short_dir: Path
) -> None:
    projects, codex_home = homes()
    project = tmp_path / "project"
    project.mkdir()
    start = time.time() - 3 * 3600  # within the default backfill window, even on the 1st
    truth = Ledger()
    parent = Transcript(projects / "-p" / "s1.jsonl", "s1", cwd=str(project), ledger=truth,
                        start=start)  # fmt: skip
    sub = Transcript(projects / "-p" / "s1" / "subagents" / "agent-a1.jsonl", "s1", agent="a1",
                     cwd=str(project), ledger=truth, start=start + 5)  # fmt: skip
    older = Transcript(projects / "-q" / "s0.jsonl", "s0", version="1.0.17", ledger=truth,
                       start=start - 600)  # fmt: skip
    for i in range(4):
        parent.user()
        parent.response(f"m{i}", output=200 + i, cache_read=1000 * i, cache_write=500,
                        cache_write_1h=200, copies=3, tools=("Bash",))  # fmt: skip
        sub.response(f"sub{i}", root="s1", input=50, output=7 + i)
        older.user()
        older.response(f"o{i}", input=20, output=30, copies=2)
    parent.response("m-last", output=99, end_turn=True)
    main = Rollout(V0_58, start, cwd=str(project)).meta().turn().user()
    main.respond(10_000, 4_000, 300).respond(12_000, 9_000, 200).done()
    fork = Rollout(V0_58, main.now + 60, cwd=str(project)).meta(main).copy_history(main)
    fork.turn().user().respond(15_000, 11_000, 50)
    main.write(codex_home / "sessions")
    fork.write(codex_home / "sessions")
    codex_responses = [*main.responses, *fork.responses]  # the fork rolls into the main thread

    sock, db = short_dir / "ingest.sock", tmp_path / "history.db"
    write_config(Path(os.environ["TUI_MONITOR_CONFIG"]), sock, extra=PRICES)
    claude_keys = len(truth.used)
    wanted = claude_keys + len(codex_responses)
    rec = start_recorder(db, sock, tmp_path / "recorder.log")
    try:
        wait_for(lambda: len(rows(db, "SELECT id FROM usage")) >= wanted, 30, "the backfill")
        # Followed: a response appended now is recorded too, once, its last copy, though its
        # copies arrive a few ticks apart (as Claude Code streams them).
        scratch = Transcript(tmp_path / "scratch.jsonl", "s1", cwd=str(project), ledger=truth,
                             start=time.time())  # fmt: skip
        scratch.response("m-new", output=1234, copies=3)
        with parent.path.open("ab") as f:
            for line in scratch.path.read_bytes().splitlines(keepends=True):
                f.write(line)
                f.flush()
                then = rec.ticks() + 2  # 0.4 s: well inside the 5 s settle set above
                wait_for(lambda t=then: rec.ticks() >= t, 30, "a few ticks")
        wait_for(lambda: len(rows(db, "SELECT id FROM usage")) == wanted + 1, 30, "the new one")
    finally:
        assert rec.stop() == 0, rec.stderr_text()

    totals = truth.totals()
    by_session = {
        sid: (inp, out, read, write, w1h, cost)
        for sid, inp, out, read, write, w1h, cost in rows(
            db,
            "SELECT session, sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), "
            "sum(cache_write_tokens), sum(cache_write_1h_tokens), sum(cost_usd) "
            "FROM usage GROUP BY session",
        )
    }
    for sid in ("s1", "s0"):
        assert by_session[sid][:5] == totals[sid], sid
        assert by_session[sid][5] == pytest.approx(claude_cost(totals[sid]), rel=1e-9)
    codex_in = sum(r.input - r.cached for r in codex_responses)
    codex_read = sum(r.cached for r in codex_responses)
    codex_out = sum(r.output for r in codex_responses)
    codex_cost = (codex_in * 1.25 + codex_read * 0.125 + codex_out * 10.0) / M
    assert by_session[main.thread][:5] == (codex_in, codex_out, codex_read, 0, 0)
    assert by_session[main.thread][5] == pytest.approx(codex_cost, rel=1e-9)
    assert set(by_session) == {"s1", "s0", main.thread}  # the fork has no session of its own
    agents = {a for (a,) in rows(db, "SELECT DISTINCT agent FROM usage")}
    assert agents == {"claude:s1", "claude:s0", f"codex:{main.thread.replace('-', '')[-8:]}"}

    listed = {str(s["session_id"]): s for s in sessions_json()}
    s1 = listed["s1"]
    assert s1["source"] == "claude-code" and s1["cwd"] == str(project)
    assert (s1["input_tokens"], s1["output_tokens"], s1["cache_read_tokens"]) == totals["s1"][:3]
    assert s1["cache_write_tokens"] == totals["s1"][3]
    assert s1["cost_usd"] == pytest.approx(claude_cost(totals["s1"]), rel=1e-9)
    assert listed[main.thread]["models"] == ["gpt-5-codex"]

    # A restart reads on from the saved offsets: nothing again, and what is new once.
    before = len(rows(db, "SELECT id FROM usage"))
    rec = start_recorder(db, sock, tmp_path / "recorder2.log")
    try:
        older.response("o-new", input=1, output=2)
        wait_for(lambda: len(rows(db, "SELECT id FROM usage")) == before + 1, 30, "o-new")
        ticks = rec.ticks()
        wait_for(lambda: rec.ticks() >= ticks + 5, 30, "five more ticks")
    finally:
        assert rec.stop() == 0, rec.stderr_text()
    assert len(rows(db, "SELECT id FROM usage")) == before + 1

    # Claude Code deletes old transcripts: the history keeps what it imported.
    for path in projects.rglob("*.jsonl"):
        path.unlink()
    listed = {str(s["session_id"]): s for s in sessions_json()}
    assert listed["s1"]["output_tokens"] == totals["s1"][1]  # m-new (1234) included


def test_sessions_imports_the_files_itself_when_no_recorder_runs(
    tmp_path: Path, short_dir: Path
) -> None:
    projects, _ = homes()
    truth = Ledger()
    t = Transcript(projects / "-w" / "abc.jsonl", "abc", ledger=truth, start=time.time() - 60)
    t.user()
    t.response("r1", output=42, input=5, copies=4)
    write_config(Path(os.environ["TUI_MONITOR_CONFIG"]), short_dir / "ingest.sock", extra=PRICES)
    done = run("sessions", "--json")
    assert done.returncode == 0, done.stderr
    assert "importing session files" in done.stderr
    (only,) = json.loads(done.stdout)
    assert (only["session_id"], only["input_tokens"], only["output_tokens"]) == ("abc", 5, 42)
    again = run("sessions", "--json")  # nothing new: the same figures, not twice
    assert json.loads(again.stdout) == [only]
