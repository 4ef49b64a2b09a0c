"""The Claude Code transcript reader on real files: every trap, bad input, restarts."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tracemalloc
from collections.abc import Iterable
from dataclasses import astuple
from pathlib import Path

import pytest

from tests.claude_transcripts import (
    SECRET_OUTPUT,
    SECRET_PROMPT,
    SECRET_TEXT,
    Ledger,
    Transcript,
)
from tui_monitor.sessions.claude import ClaudeReader, claude_dirs
from tui_monitor.sessions.records import (
    SessionActivity,
    SessionError,
    SessionInfo,
    SessionRecord,
    SessionUsage,
    supersedes,
)

Totals = dict[str, tuple[int, int, int, int, int]]


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    return tmp_path / "claude" / "projects"


def read_all(reader: ClaudeReader) -> list[SessionRecord]:
    out: list[SessionRecord] = []
    while True:
        got = reader.poll()
        out += got
        if not got and not reader.more:
            return out


def fold(records: Iterable[SessionRecord]) -> Totals:
    """What a consumer does: one usage record per key (the one that supersedes the others),
    summed per top-level session through SessionInfo.parent_id."""
    by_key: dict[str, SessionUsage] = {}
    parent: dict[str, str | None] = {}
    for r in records:
        if isinstance(r, SessionInfo):
            parent[r.session_id] = r.parent_id
        elif isinstance(r, SessionUsage):
            old = by_key.get(r.key)
            if old is None or supersedes(r, old):
                by_key[r.key] = r
    out: dict[str, list[int]] = {}
    for u in by_key.values():
        root = u.session_id
        while parent.get(root) is not None:
            root = parent[root]  # type: ignore[assignment]
        t = out.setdefault(root, [0, 0, 0, 0, 0])
        for i, v in enumerate(
            (
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_write_tokens,
                u.cache_write_1h_tokens,
            )
        ):
            t[i] += v
    return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in out.items()}


def independent_totals(projects: Path) -> Totals:
    """The expected figures, in plain Python over the fixture files (not the reader's code):
    every assistant line's top-level usage, the largest copy per message id, summed per
    sessionId (which subagent lines carry as their parent's)."""
    best: dict[str, tuple[int, str, list[int]]] = {}
    for path in projects.rglob("*.jsonl"):
        for raw in path.read_bytes().splitlines():
            try:
                d = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(d, dict) or d.get("type") != "assistant":
                continue
            m = d["message"]
            if m.get("model") == "<synthetic>" or "usage" not in m:
                continue
            u = m["usage"]
            split = u.get("cache_creation") or {}
            row = [
                u["input_tokens"],
                u["output_tokens"],
                u["cache_read_input_tokens"],
                u["cache_creation_input_tokens"],
                split.get("ephemeral_1h_input_tokens", 0),
            ]
            if m["id"] not in best or row[1] > best[m["id"]][0]:
                best[m["id"]] = (row[1], d["sessionId"], row)
    out: dict[str, list[int]] = {}
    for _, session, row in best.values():
        t = out.setdefault(session, [0, 0, 0, 0, 0])
        for i, v in enumerate(row):
            t[i] += v
    return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in out.items()}


def usages(records: Iterable[SessionRecord]) -> list[SessionUsage]:
    return [r for r in records if isinstance(r, SessionUsage)]


# -- where the files are -----------------------------------------------------------------


def test_claude_dirs_defaults_and_config_dir_list(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert claude_dirs({}, home) == [
        home / ".config" / "claude" / "projects",
        home / ".claude" / "projects",
    ]
    a, b = tmp_path / "a", tmp_path / "b"
    env = {"CLAUDE_CONFIG_DIR": f" {a} ,{b},, {a}"}  # the same one twice is read once
    assert claude_dirs(env, home) == [a / "projects", b / "projects"]
    (home / ".claude").mkdir(parents=True)
    (home / ".config").mkdir()
    (home / ".config" / "claude").symlink_to(home / ".claude")
    assert claude_dirs({}, home) == [home / ".config" / "claude" / "projects"]


# -- the traps -----------------------------------------------------------------------------


def test_repeated_response_lines_count_once_with_the_last_copy(projects: Path) -> None:
    ledger = Ledger()
    t = Transcript(projects / "-p" / "s1.jsonl", "s1", ledger=ledger)
    t.user()
    t.response("msg_a", output=400, cache_write=1000, cache_write_1h=600, tools=("Read", "Bash"))
    t.tool_result("toolu_msg_a_0")
    t.response("msg_b", output=90, cache_read=1000, copies=4, end_turn=True)
    with ClaudeReader([projects]) as reader:
        records = read_all(reader)
    got = usages(records)
    assert {u.key for u in got} == {"msg:msg_a", "msg:msg_b"}
    # Every copy that grew came out (for a live view), each replacing the one before.
    assert [u.output_tokens for u in got if u.key == "msg:msg_b"] == [1, 22, 45, 90]
    assert fold(records) == ledger.totals() == {"s1": (6, 490, 1000, 1000, 600)}
    # The naive sum of every line is what the trap costs.
    assert sum(u.input_tokens for u in got) > 6


def test_one_response_with_and_without_request_id_is_one(projects: Path) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1", version="2.1.9")
    t.response("msg_a", output=50, copies=3)  # 2.1 leaves requestId off the middle copy
    lines = [json.loads(x) for x in t.path.read_text().splitlines()]
    assert ["requestId" in x for x in lines] == [True, False, True]
    with ClaudeReader([projects]) as reader:
        assert fold(read_all(reader)) == {"s1": (3, 50, 0, 0, 0)}


def test_parent_and_subagent_copies_of_one_message_count_once(projects: Path) -> None:
    ledger = Ledger()
    parent = Transcript(projects / "-p" / "s1.jsonl", "s1", ledger=ledger)
    sub = Transcript(
        projects / "-p" / "s1" / "subagents" / "agent-a1b2.jsonl", "s1", agent="a1b2", ledger=ledger
    )
    parent.user()
    parent.response("msg_p", output=30)
    sub.user("do the subtask")
    sub.response("msg_s", output=70, model="claude-haiku-4-5", root="s1")
    # The parent file carries the same subagent message again (a resumed or echoed copy).
    parent.response("msg_s", output=70, model="claude-haiku-4-5", sidechain=True, count=False)
    with ClaudeReader([projects]) as reader:
        records = read_all(reader)
    assert fold(records) == ledger.totals() == independent_totals(projects)
    infos = {r.session_id: r.parent_id for r in records if isinstance(r, SessionInfo)}
    assert infos["s1:agent-a1b2"] == "s1" and infos["s1"] is None
    subs = {u.session_id for u in usages(records) if u.key == "msg:msg_s"}
    assert subs <= {"s1:agent-a1b2", "s1:sidechain"}


def test_inline_sidechains_and_agent_files_beside_the_session_roll_up(projects: Path) -> None:
    ledger = Ledger()
    old = Transcript(projects / "-p" / "s-old.jsonl", "s-old", version="1.0.17", ledger=ledger)
    old.user()
    old.response("msg_1", output=10, root="s-old")
    old.user("subtask", sidechain=True)
    old.response("msg_2", output=20, sidechain=True, root="s-old")  # inline subagent (1.0)
    mid = Transcript(projects / "-p" / "s-mid.jsonl", "s-mid", version="2.0.30", ledger=ledger)
    mid.response("msg_3", output=5)
    beside = Transcript(
        projects / "-p" / "agent-77aa.jsonl",
        "s-mid",
        version="2.0.30",
        agent="77aa",
        ledger=ledger,
    )
    beside.response("msg_4", output=40, root="s-mid")
    with ClaudeReader([projects]) as reader:
        records = read_all(reader)
    assert fold(records) == ledger.totals() == independent_totals(projects)
    parents = {r.session_id: r.parent_id for r in records if isinstance(r, SessionInfo)}
    assert parents == {
        "s-old": None,
        "s-old:sidechain": "s-old",
        "s-mid": None,
        "s-mid:agent-77aa": "s-mid",
    }
    kept = {u.key: u.session_id for u in usages(records)}
    assert kept["msg:msg_2"] == "s-old:sidechain"  # kept, not dropped, and rolled up


def test_iterations_are_never_added(projects: Path) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1", version="2.1.9")
    t.response(
        "msg_a",
        input=10,
        output=100,
        copies=1,
        iterations=[
            {"input_tokens": 10, "output_tokens": 60},
            {"input_tokens": 10, "output_tokens": 40},
        ],
    )
    t.response("msg_b", input=7, output=8, copies=1, iterations=None)  # null in some lines
    with ClaudeReader([projects]) as reader:
        assert fold(read_all(reader)) == {"s1": (17, 108, 0, 0, 0)}


def test_synthetic_lines_are_errors_never_usage(projects: Path) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1")
    t.user()
    t.api_error("API Error: 529 Overloaded", error="server_error")
    t.api_error("Please run /login", error={"type": "error", "error": {"type": "auth_error"}})
    t.no_response()
    t.response("msg_ok", output=5, copies=1)
    with ClaudeReader([projects]) as reader:
        records = read_all(reader)
    assert [u.model for u in usages(records)] == ["claude-sonnet-4-5-20250929"]
    errors = [r for r in records if isinstance(r, SessionError)]
    assert [(e.error_type, e.message) for e in errors] == [
        ("server_error (529)", "API Error: 529 Overloaded"),
        ("auth_error (529)", "Please run /login"),
    ]
    assert reader.counters["errors_seen"] == 2


def test_cache_write_split_and_web_searches(projects: Path) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1", version="1.0.80")
    t.response("msg_a", cache_write=900, cache_write_1h=300, searches=2, copies=1)
    old = Transcript(projects / "-p" / "s2.jsonl", "s2", version="1.0.17")  # no split yet
    old.response("msg_b", cache_write=500, copies=1)
    with ClaudeReader([projects]) as reader:
        got = {u.key: u for u in usages(read_all(reader))}
    a, b = got["msg:msg_a"], got["msg:msg_b"]
    assert (a.cache_write_tokens, a.cache_write_1h_tokens, a.web_search_requests) == (900, 300, 2)
    assert (b.cache_write_tokens, b.cache_write_1h_tokens) == (500, 0)


def test_shapes_across_versions_and_unknown_types_are_skipped(projects: Path) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1", version="1.0.17")
    t.others()
    t.user()
    t.response("msg_a", output=10, copies=1)
    weird = {
        "type": "assistant",
        "sessionId": "s1",
        "timestamp": "not a time",
        "message": {
            "id": "msg_w",
            "model": "m",
            "usage": {
                "input_tokens": "12",
                "output_tokens": -5,
                "cache_read_input_tokens": None,
                "cache_creation_input_tokens": 1.5,
                "cache_creation": [],
                "server_tool_use": "x",
            },
        },
    }
    t.write(weird, {"type": "assistant", "message": "not an object"}, {"type": "user"}, [1, 2])
    with ClaudeReader([projects]) as reader:
        records = read_all(reader)
        assert reader.counters["skipped_types"] == 5
        assert reader.counters["bad_lines"] == 1  # the JSON array
    info = next(r for r in records if isinstance(r, SessionInfo))
    assert (info.cwd, info.git_branch, info.version) == ("/home/dev/project", None, "1.0.17")
    by_key = {u.key: u for u in usages(records)}
    assert astuple(by_key["msg:msg_w"])[5:10] == (0, 0, 0, 0, 0)  # nonsense counts as nothing
    assert by_key["msg:msg_w"].ts == by_key["msg:msg_a"].ts  # a bad time: the file's last good


def test_activity_for_the_state_by_tool_name_and_turn_ends(projects: Path) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1")
    t.user()
    t.response("msg_a", tools=("Bash", "mcp__github__create_issue"))
    t.tool_result("toolu_msg_a_0")
    t.response("msg_b", end_turn=True)
    t.turn_end()
    t.user("[Request interrupted by user]")
    with ClaudeReader([projects]) as reader:
        records = read_all(reader)
    acts = [(a.kind, a.tool) for a in records if isinstance(a, SessionActivity)]
    assert acts == [
        ("user", None),
        ("assistant", None),
        ("tool", "Bash"),
        ("tool", "mcp__github__create_issue"),
        ("assistant", None),
        ("turn_end", None),  # stop_reason end_turn
        ("turn_end", None),  # system turn_duration
        ("turn_end", None),  # interrupted
    ]


def test_no_prompt_code_or_tool_output_is_kept(projects: Path) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1")
    t.user()
    t.response("msg_a", tools=("Bash",))
    t.tool_result("toolu_msg_a_0")
    t.others()
    with ClaudeReader([projects]) as reader:
        text = repr(read_all(reader))
    for secret in (SECRET_PROMPT, SECRET_OUTPUT, SECRET_TEXT, "PROMPT-SECRET", "SECRET"):
        assert secret not in text


def test_hostile_strings_are_kept_exactly(projects: Path) -> None:
    cwd = "/tmp/\x1b[2J\x1b]0;pwned\x07[red]x[/red]\n\u202eevil"
    model = "claude-\x1b[31mred\x00\ud800"
    t = Transcript(projects / "-p" / "s1.jsonl", "s\x1b[1mbold", cwd=cwd, branch="\r\x08main")
    t.response("msg_a", model=model, tools=("[bold]Bash\x1b[0m",), copies=1)
    with ClaudeReader([projects]) as reader:
        records = read_all(reader)
    info = next(r for r in records if isinstance(r, SessionInfo))
    assert (info.session_id, info.cwd, info.git_branch) == ("s\x1b[1mbold", cwd, "\r\x08main")
    assert usages(records)[0].model == model
    assert [a.tool for a in records if isinstance(a, SessionActivity) and a.tool] == [
        "[bold]Bash\x1b[0m"
    ]


def test_exactness_over_every_version_and_trap(projects: Path) -> None:
    ledger = Ledger()
    shapes = ["1.0.17", "1.0.80", "2.0.30", "2.1.9"]
    for n, version in enumerate(shapes):
        session = f"sess-{n}"
        t = Transcript(
            projects / f"-w{n}" / f"{session}.jsonl",
            session,
            version=version,
            ledger=ledger,
            cwd=f"/w/{n}",
        )
        for turn in range(6):
            t.user()
            t.response(
                f"m{n}-{turn}-a",
                input=3 + turn,
                output=50 * turn + 7,
                cache_read=1000 * turn,
                cache_write=300 + turn,
                cache_write_1h=100 if version >= "1.0.50" else 0,
                tools=("Read",),
                copies=3,
            )
            t.tool_result(f"toolu_m{n}-{turn}-a_0")
            t.response(f"m{n}-{turn}-b", output=11 * turn + 1, end_turn=True, copies=2)
            if turn % 2:
                t.api_error()
            if version == "1.0.17":
                t.response(f"m{n}-{turn}-side", output=9, sidechain=True, root=session)
            elif version == "2.0.30":
                side = Transcript(
                    projects / f"-w{n}" / f"agent-{turn}.jsonl",
                    session,
                    version=version,
                    agent=str(turn),
                    ledger=ledger,
                )
                side.response(f"m{n}-{turn}-agent", output=21, root=session)
            elif version == "2.1.9":
                sub = Transcript(
                    projects / f"-w{n}" / session / "subagents" / f"agent-x{turn}.jsonl",
                    session,
                    version=version,
                    agent=f"x{turn}",
                    ledger=ledger,
                )
                sub.response(f"m{n}-{turn}-sub", output=33, cache_read=77, root=session)
                t.response(
                    f"m{n}-{turn}-sub", output=33, cache_read=77, count=False, sidechain=True
                )  # the parent copy
            t.turn_end()
            t.others()
    expected = independent_totals(projects)
    assert expected == ledger.totals()  # the plain count agrees with what the fixture meant
    with ClaudeReader([projects], max_bytes=4096, max_lines=7) as reader:  # many small polls
        got = fold(read_all(reader))
    assert got == expected
    assert len(got) == 4


# -- files that change, restarts ---------------------------------------------------------


@pytest.mark.parametrize("idle_close", [60.0, 0.0])
def test_partial_last_line_waits_for_its_newline(projects: Path, idle_close: float) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1")
    t.response("msg_a", copies=1)
    line = t.path.read_bytes()
    t.path.write_bytes(line[:100])
    with ClaudeReader([projects], idle_close=idle_close, rescan=3600) as reader:
        assert usages(read_all(reader)) == []
        with t.path.open("ab") as f:
            f.write(line[100:-1])
        assert usages(read_all(reader)) == []
        with t.path.open("ab") as f:
            f.write(b"\n")
        assert [u.key for u in usages(read_all(reader))] == ["msg:msg_a"]


def test_restart_continues_from_saved_offsets_and_rereading_never_double_counts(
    projects: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state" / "claude.json"
    ledger = Ledger()
    t = Transcript(projects / "-p" / "s1.jsonl", "s1", ledger=ledger)
    t.response("msg_a", output=40)
    with ClaudeReader([projects], state) as reader:
        first = read_all(reader)
        reader.save()
    t.response("msg_b", output=60)
    with ClaudeReader([projects], state) as reader:
        second = read_all(reader)
        reader.save()
    assert {u.key for u in usages(second)} == {"msg:msg_b"}  # nothing read twice
    assert fold(first + second) == ledger.totals()
    with ClaudeReader([projects]) as reader:  # offsets lost: everything again
        again = read_all(reader)
    assert fold(first + second + again) == ledger.totals()


def test_rotation_and_truncation_are_followed(projects: Path) -> None:
    ledger = Ledger()
    t = Transcript(projects / "-p" / "s1.jsonl", "s1", ledger=ledger)
    t.response("msg_a", output=10)
    with ClaudeReader([projects], rescan=0) as reader:
        records = read_all(reader)
        # A tool rewrites the file (new inode) with its old lines and a new one.
        copy = t.path.with_name("tmp.jsonl.new")
        shutil.copyfile(t.path, copy)
        os.replace(copy, t.path)
        t.response("msg_b", output=20)
        records += read_all(reader)
        assert reader.counters["rotations"] == 1
        t.path.write_bytes(b"")  # truncated in place, then written again
        t.response("msg_c", output=30)
        records += read_all(reader)
        assert reader.counters["truncations"] == 1
    assert fold(records) == ledger.totals() == {"s1": (9, 60, 0, 0, 0)}


def test_deletion_after_import_costs_nothing(projects: Path, tmp_path: Path) -> None:
    state = tmp_path / "claude.json"
    t = Transcript(projects / "-p" / "s1.jsonl", "s1")
    t.response("msg_a", output=10)
    keep = Transcript(projects / "-p" / "s2.jsonl", "s2")
    keep.response("msg_b", output=5)
    with ClaudeReader([projects], state, rescan=0, idle_close=0) as reader:
        assert fold(read_all(reader)) == {"s1": (3, 10, 0, 0, 0), "s2": (3, 5, 0, 0, 0)}
        reader.save()
        t.path.unlink()  # Claude Code's 30-day clean-up
        keep.response("msg_c", output=7)
        assert {u.key for u in usages(read_all(reader))} == {"msg:msg_c"}
        reader.save()
    saved = json.loads(state.read_text())["files"]
    assert list(saved) == [str(keep.path)]


def test_file_deleted_while_being_written_is_drained(projects: Path) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1")
    t.response("msg_a", output=10, copies=1)
    with ClaudeReader([projects], rescan=0, idle_close=60) as reader:
        read_all(reader)
        with t.path.open("ab") as writer:
            t.path.unlink()
            line = json.dumps(
                {
                    "type": "assistant",
                    "sessionId": "s1",
                    "timestamp": "2026-01-01T11:00:00Z",
                    "message": {"id": "late", "model": "m", "usage": {"output_tokens": 3}},
                }
            ).encode()
            writer.write(line + b"\n")
            writer.flush()
            got = read_all(reader)
        assert [u.key for u in usages(got)] == ["msg:late"]
        assert reader.counters["vanished"] == 1


# -- bad input -------------------------------------------------------------------------------


def test_binary_garbage_costs_only_itself(projects: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = projects / "-p" / "garbage.jsonl"
    bad.parent.mkdir(parents=True)
    garbage = bytes(range(256)) * 50 + b'\n\xff\xfe{"type\n' + b"\x00" * 1000 + b"\n"
    bad.write_bytes(garbage)
    t = Transcript(bad, "s1")
    t.response("msg_a", output=10, copies=1)
    other = Transcript(projects / "-p" / "fine.jsonl", "s2")
    other.response("msg_b", output=5, copies=1)
    caplog.set_level(logging.WARNING, "tui_monitor.sessions.claude")
    with ClaudeReader([projects]) as reader:
        got = fold(read_all(reader))
        assert reader.counters["bad_lines"] == garbage.count(b"\n")
    assert got == {"s1": (3, 10, 0, 0, 0), "s2": (3, 5, 0, 0, 0)}
    said = [r.getMessage() for r in caplog.records]
    assert said == [f"claude transcripts: {bad}:1: not a JSON object; skipped"]


def test_a_huge_line_is_skipped_in_bounded_memory(
    projects: Path, caplog: pytest.LogCaptureFixture
) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1")
    t.response("msg_a", output=10, copies=1)
    with t.path.open("ab") as f:  # 64 MiB of tool output on one line
        f.write(b'{"type":"user","toolUseResult":"')
        f.truncate(f.tell() + (64 << 20))
        f.seek(0, os.SEEK_END)
        f.write(b'"}\n')
    t.response("msg_b", output=20, copies=1)
    caplog.set_level(logging.WARNING, "tui_monitor.sessions.claude")
    tracemalloc.start()
    try:
        with ClaudeReader([projects], max_line=1 << 20, max_bytes=256 << 20) as reader:
            got = fold(read_all(reader))
            assert reader.counters["too_long"] == 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == {"s1": (6, 30, 0, 0, 0)}
    assert peak < 8 << 20, peak  # the 64 MiB line never held
    said = [r.getMessage() for r in caplog.records]
    assert said == [f"claude transcripts: {t.path}:2: line longer than 1048576 bytes"]


def test_since_skips_old_files_and_old_lines(projects: Path) -> None:
    old = Transcript(projects / "-p" / "old.jsonl", "old", start=1_700_000_000.0)
    old.response("msg_old", output=10)
    os.utime(old.path, (1_700_000_100.0, 1_700_000_100.0))
    mixed = Transcript(projects / "-p" / "mixed.jsonl", "mixed", start=1_700_000_000.0)
    mixed.response("msg_before", output=10)
    mixed.ts = 1_800_000_000.0
    mixed.response("msg_after", output=20)
    with ClaudeReader([projects], since=1_750_000_000.0) as reader:
        records = read_all(reader)
        assert reader.counters["lines"] == 4  # the old file was not even read
    assert {u.key for u in usages(records)} == {"msg:msg_after"}


def test_lines_recognised_without_parsing_are_never_responses(projects: Path) -> None:
    t = Transcript(projects / "-p" / "s1.jsonl", "s1")
    echoed = projects / "-p" / "s1.jsonl"
    t.response("msg_a", output=10, copies=1)
    a_line = echoed.read_text()
    # A tool's output quoting a whole response line: text, escaped, never counted.
    t.write(
        {
            "type": "user",
            "sessionId": "s1",
            "timestamp": "2026-01-01T12:00:00Z",
            "message": {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "x", "content": a_line}],
            },
        }
    )
    # A response whose text mentions tool results and progress: still a response.
    t.write(
        {
            "type": "assistant",
            "sessionId": "s1",
            "timestamp": "2026-01-01T12:00:01Z",
            "message": {
                "id": "msg_b",
                "model": "m",
                "content": [{"type": "text", "text": '{"type":"tool_result"} {"type":"progress"}'}],
                "usage": {"input_tokens": 1, "output_tokens": 2},
            },
        }
    )
    with ClaudeReader([projects]) as reader:
        assert fold(read_all(reader)) == {"s1": (4, 12, 0, 0, 0)}
