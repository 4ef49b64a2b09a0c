"""The Gemini CLI recording reader over real files written from the public format."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.codex_rollouts import feed, totals
from tests.gemini_recordings import Call, Recording, chats, gemini_expected
from tui_monitor.sessions.gemini import GeminiReader, chat_dirs, is_chat, project_root
from tui_monitor.sessions.records import SessionActivity, SessionError, SessionInfo, SessionUsage

T0 = 1_780_000_000.0
SID = "4f6c2a10-8d3e-4b8a-9a55-1c2d3e4f5a6b"


def session(sid: str = SID, kind: str | None = None) -> Recording:
    rec = Recording(sid, T0, kind=kind)
    rec.user()
    rec.answer(
        Call(sid, input=12_000, output=300, cached=8_000, thoughts=250, tool=40), ("read_file",)
    )
    rec.answer(Call(sid, input=15_000, output=120, cached=11_000), ("run_shell_command", "glob"))
    rec.answer(Call(sid, input=16_000, output=600, thoughts=90), words="all done")
    rec.user()
    rec.answer(None)  # a message whose usage never arrived
    return rec


def test_a_jsonl_recording_counts_each_call_once(tmp_path: Path) -> None:
    rec = session()
    path = chats(tmp_path) / "session-2026-05-28T00-00-4f6c2a10.jsonl"
    path.write_bytes(rec.jsonl())
    records = feed(GeminiReader(), path)
    assert totals(records) == gemini_expected(rec.calls)
    usage = [r for r in records if isinstance(r, SessionUsage)]
    assert [u.model for u in usage] == ["gemini-2.5-pro"] * 3
    (info,) = [r for r in records if isinstance(r, SessionInfo)]
    assert (info.session_id, info.cwd, info.parent_id) == (SID, "/work/proj", None)
    steps = [(r.kind, r.tool) for r in records if isinstance(r, SessionActivity)]
    assert steps == [
        ("user", None), ("assistant", None), ("tool", "read_file"), ("assistant", None),
        ("tool", "run_shell_command"), ("tool", "glob"), ("assistant", None),
        ("user", None), ("assistant", None),
    ]  # fmt: skip


def test_tokens_in_our_meaning(tmp_path: Path) -> None:
    rec = Recording(SID, T0)
    rec.answer(Call(SID, input=10_000, output=500, cached=7_000, thoughts=400, tool=60))
    path = chats(tmp_path) / "session-a.jsonl"
    path.write_bytes(rec.jsonl())
    (u,) = [r for r in feed(GeminiReader(), path) if isinstance(r, SessionUsage)]
    # cached is part of the prompt; thoughts are billed as output; the tool prompt is input
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens) == (3_060, 7_000, 900)


def test_rewrites_and_rewinds_count_nothing_twice_and_take_nothing_back(tmp_path: Path) -> None:
    rec = session()
    rec.rewrite_all()
    spent = rec.answer(Call(SID, input=20_000, output=50))
    rec.rewind(spent)  # the user rewinds: the call was still paid for
    rec.rewrite_all()
    path = chats(tmp_path) / "session-b.jsonl"
    path.write_bytes(rec.jsonl())
    reader = GeminiReader()
    assert totals(feed(reader, path)) == gemini_expected(rec.calls)
    assert reader.counters["duplicates"] > 0


def test_a_legacy_document_read_again_after_each_rewrite(tmp_path: Path) -> None:
    rec = Recording(SID, T0)
    rec.user()
    rec.answer(Call(SID, input=5_000, output=100, cached=1_000))
    path = chats(tmp_path) / "session-2025-09-01T10-00-4f6c2a10.json"
    reader = GeminiReader()
    path.write_bytes(rec.document())
    records = reader.read_document(str(path), path.read_bytes())
    rec.answer(Call(SID, input=7_000, output=80, cached=4_000), ("write_file",))
    path.write_bytes(rec.document())  # Gemini CLI rewrites the whole file
    records += reader.read_document(str(path), path.read_bytes())
    assert totals(records) == gemini_expected(rec.calls)
    # resumed by a newer version: carried over into a .jsonl with the same message ids
    rec.answer(Call(SID, input=9_000, output=70))
    jsonl = path.with_suffix(".jsonl")
    jsonl.write_bytes(rec.jsonl())
    records += feed(reader, jsonl)
    assert totals(records) == gemini_expected(rec.calls)


def test_a_subagent_rolls_up_to_its_parent(tmp_path: Path) -> None:
    child_id = "9a8b7c6d-0000-4000-8000-000000000001"
    folder = chats(tmp_path) / SID
    folder.mkdir()
    rec = session(child_id, kind="subagent")
    path = folder / f"{child_id}.jsonl"
    path.write_bytes(rec.jsonl())
    records = feed(GeminiReader(), path)
    (info,) = [r for r in records if isinstance(r, SessionInfo)]
    assert (info.session_id, info.parent_id, info.cwd) == (child_id, SID, "/work/proj")
    assert totals(records) == gemini_expected(rec.calls)


def test_without_a_project_root_a_subagent_falls_back_to_its_directories(tmp_path: Path) -> None:
    folder = chats(tmp_path, cwd=None)
    rec = Recording(SID, T0, kind="subagent")
    (folder / "x.jsonl").write_bytes(rec.jsonl())
    (info,) = feed(GeminiReader(), folder / "x.jsonl")
    assert isinstance(info, SessionInfo) and info.cwd == "/work/sub"
    assert project_root(str(folder / "x.jsonl")) is None
    assert project_root("/nowhere/file.jsonl") is None


def test_errors_and_privacy(tmp_path: Path) -> None:
    rec = session()
    rec.user("SECRET prompt")
    rec.error("[API Error: quota exceeded]")
    path = chats(tmp_path) / "session-c.jsonl"
    path.write_bytes(rec.jsonl())
    records = feed(GeminiReader(), path)
    assert "SECRET" not in repr(records) and "/secret/file" not in repr(records)
    (error,) = [r for r in records if isinstance(r, SessionError)]
    assert error.message == "[API Error: quota exceeded]"


def test_bad_lines_cost_only_themselves(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rec = session()
    lines = rec.jsonl().split(b"\n")
    lines[3:3] = [b"\xff\xfe\x00", b'{"id": "broken', b"42", b"", b'{"unknown": true}']
    path = chats(tmp_path) / "session-d.jsonl"
    path.write_bytes(b"\n".join(lines))
    reader = GeminiReader()
    with caplog.at_level(logging.WARNING):
        records = feed(reader, path)
    assert totals(records) == gemini_expected(rec.calls)
    assert reader.counters["bad_json"] == 2 and reader.counters["not_object"] == 1
    assert reader.counters["blank"] == 1 and reader.counters["errors"] == 0
    assert any("line 4" in m for m in caplog.messages)
    broken = chats(tmp_path, "other") / "session-e.json"
    broken.write_bytes(rec.document()[:-20])  # caught mid-rewrite
    assert reader.read_document(str(broken), broken.read_bytes()) == []


def test_hostile_model_and_cwd_are_kept_exactly(tmp_path: Path) -> None:
    cwd = "/w/\x1b]8;;http://x\x07link\x1b]8;;\x07/\u202e"
    rec = Recording(SID, T0)
    rec.model = "gemini[bold]\x1b[2J"
    rec.answer(Call(SID, input=10, output=1))
    path = chats(tmp_path, cwd=cwd) / "session-f.jsonl"
    path.write_bytes(rec.jsonl())
    records = feed(GeminiReader(), path)
    assert next(r for r in records if isinstance(r, SessionInfo)).cwd == cwd
    assert next(r for r in records if isinstance(r, SessionUsage)).model == rec.model


def test_where_gemini_keeps_its_files(tmp_path: Path) -> None:
    assert chat_dirs({}, tmp_path) == tmp_path / ".gemini" / "tmp"
    assert chat_dirs({"GEMINI_CLI_HOME": str(tmp_path / "g")}) == tmp_path / "g" / ".gemini" / "tmp"
    assert is_chat("session-2026-01-01T10-00-abcd1234.jsonl") and is_chat("s.json")
    assert not is_chat("logs.txt")


def test_exactness_over_many_sessions(tmp_path: Path) -> None:
    folder = chats(tmp_path)
    reader = GeminiReader()
    calls: list[Call] = []
    records = []
    for n in range(12):
        sid = f"{n:08x}-aaaa-4bbb-8ccc-{n:012x}"
        rec = Recording(sid, T0 + n * 600)
        for k in range(n % 4 + 1):
            rec.user()
            rec.answer(
                Call(sid, 1_000 * (k + n + 1), 50 + k, cached=500 * k, thoughts=k * 7),
                ("ls",) * (k % 2),
            )
        if n % 3 == 0:
            rec.rewrite_all()
        calls += rec.calls
        path = folder / f"session-{n}.jsonl"
        path.write_bytes(rec.jsonl())
        records += feed(reader, path)
    truth = gemini_expected(calls)
    assert totals(records) == truth
    assert sum(t["input"] + t["read"] for t in truth.values()) == sum(
        c.input + c.tool for c in calls
    )
