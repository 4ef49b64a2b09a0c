"""Gemini CLI recordings followed on disk (GeminiFiles), and `readers()` over an empty home.

The recordings come from tests/gemini_recordings.py (hand-written from the public format:
2025 `.json` documents rewritten whole, 2026 `.jsonl` appends); the expected totals are plain
sums of what each call used.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from tests.gemini_recordings import Call, Recording, chats, gemini_expected
from tests.session_records import fold, read_all, usages
from tui_monitor.sessions.claude import ClaudeReader
from tui_monitor.sessions.codex_files import CodexFiles
from tui_monitor.sessions.gemini_files import GeminiFiles
from tui_monitor.sessions.reader import SessionReader, readers, state_file
from tui_monitor.sessions.records import SessionActivity, SessionInfo, SessionRecord

T0 = 1_780_000_000.0
SID = "4f6c2a10-8d3e-4b8a-9a55-1c2d3e4f5a6b"
SUB = "9a9a9a9a-1111-4222-8333-444455556666"


def session(sid: str = SID, start: float = T0, kind: str | None = None) -> Recording:
    rec = Recording(sid, start, kind=kind)
    rec.user()
    rec.answer(Call(sid, input=12_000, output=300, cached=8_000, thoughts=250, tool=40), ("ls",))
    rec.answer(Call(sid, input=15_000, output=120, cached=11_000), ("run_shell_command", "glob"))
    rec.user()
    rec.answer(Call(sid, input=16_000, output=600, thoughts=90), words="all done")
    return rec


def steps(records: list[SessionRecord]) -> list[tuple[str, str | None]]:
    return [(r.kind, r.tool) for r in records if isinstance(r, SessionActivity)]


def tmp_dir(home: Path) -> list[Path]:
    return [home / ".gemini" / "tmp"]


def test_jsonl_json_and_subagent_recordings_count_each_call_once(tmp_path: Path) -> None:
    folder = chats(tmp_path)
    new = session()
    (folder / "session-2026-05-28T00-00-4f6c2a10.jsonl").write_bytes(new.jsonl())
    old = session("0d0d0d0d-2222-4333-8444-555566667777", T0 - 86_400)
    (folder / "session-2026-05-27T00-00-0d0d0d0d.json").write_bytes(old.document())
    sub = session(SUB, T0 + 60, kind="subagent")
    (folder / SID).mkdir()
    (folder / SID / f"{SUB}.jsonl").write_bytes(sub.jsonl())
    (folder.parent / "logs.json").write_text('[{"message": "my prompt"}]')  # never read
    with GeminiFiles(tmp_dir(tmp_path), max_bytes=2048, max_lines=5) as reader:
        records = read_all(reader)
        assert reader.counters["documents"] == 1
        assert reader.counters["files"] == 3  # logs.json is not a recording
    assert fold(records) == gemini_expected(new.calls + old.calls + sub.calls)
    infos = {r.session_id: r for r in records if isinstance(r, SessionInfo)}
    assert infos[SUB].parent_id == SID and infos[SID].cwd == "/work/proj"
    assert "my prompt" not in repr(records)


def test_restart_mid_jsonl_keeps_the_session_named_on_its_first_line(tmp_path: Path) -> None:
    state = tmp_path / "sessions.gemini.json"
    rec = session()
    path = chats(tmp_path) / "session-a.jsonl"
    lines = rec.jsonl().splitlines(keepends=True)
    cut = 6  # the metadata, the user, the first answer before its tokens arrive
    path.write_bytes(b"".join(lines[:cut]))
    with GeminiFiles(tmp_dir(tmp_path), state) as reader:
        first = read_all(reader)
        reader.save()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert json.loads(state.read_text())["extra"][str(path)]["reader"]["session"] == SID
    with path.open("ab") as f:
        f.write(b"".join(lines[cut:]))
    with GeminiFiles(tmp_dir(tmp_path), state) as reader:
        second = read_all(reader)
        reader.save()
        assert reader.counters["resumed"] == 1
        assert reader.counters["no_session"] == 0
    assert fold(first + second) == gemini_expected(rec.calls)
    # the first answer, written again with its tokens, is not a new step
    assert steps(first + second) == [
        ("user", None), ("assistant", None), ("tool", "ls"), ("assistant", None),
        ("tool", "run_shell_command"), ("tool", "glob"), ("user", None), ("assistant", None),
    ]  # fmt: skip


def test_a_document_is_read_again_when_it_changes_and_counts_once(tmp_path: Path) -> None:
    state = tmp_path / "sessions.gemini.json"
    rec = Recording(SID, T0)
    rec.user()
    rec.answer(Call(SID, input=1_000, output=10))
    path = chats(tmp_path) / "session-a.json"
    path.write_bytes(rec.document())
    with GeminiFiles(tmp_dir(tmp_path), state, rescan=0) as reader:
        records = read_all(reader)
        assert read_all(reader) == []  # unchanged: not read again
        rec.answer(Call(SID, input=2_000, output=20), ("ls",))
        path.write_bytes(rec.document())  # rewritten whole, in place
        records += read_all(reader)
        reader.save()
        assert reader.counters["documents"] == 2
    with GeminiFiles(tmp_dir(tmp_path), state) as reader:  # a restart: as it was, not read
        assert read_all(reader) == []
        assert reader.counters["documents"] == 0
    rec.user()
    rec.answer(Call(SID, input=3_000, output=30))
    path.write_bytes(rec.document())
    with GeminiFiles(tmp_dir(tmp_path), state) as reader:
        again = read_all(reader)
    assert fold(records + again) == gemini_expected(rec.calls)
    assert steps(records + again) == [
        ("user", None), ("assistant", None), ("assistant", None), ("tool", "ls"),
        ("user", None), ("assistant", None),
    ]  # fmt: skip


def test_a_document_half_written_is_read_once_complete(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rec = session()
    path = chats(tmp_path) / "session-a.json"
    data = rec.document()
    path.write_bytes(b"")  # Gemini CLI truncates, then writes
    caplog.set_level(logging.WARNING)
    with GeminiFiles(tmp_dir(tmp_path), rescan=0) as reader:
        assert read_all(reader) == []
        path.write_bytes(data[: len(data) // 2])
        assert usages(read_all(reader)) == []
        assert reader.counters["bad_json"] == 1
        with path.open("ab") as f:
            f.write(data[len(data) // 2 :])
        records = read_all(reader)
    assert fold(records) == gemini_expected(rec.calls)
    said = [r.getMessage() for r in caplog.records]
    assert said == [f"gemini recording {str(path)!r} line 1 is not JSON"]


def test_a_document_too_large_is_counted_logged_once_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = chats(tmp_path)
    big = folder / "session-big.json"
    big.write_bytes(b"{" + b" " * 5000 + b"}")
    fine = session()
    (folder / "session-fine.jsonl").write_bytes(fine.jsonl())
    caplog.set_level(logging.WARNING, "tui_monitor.sessions.gemini_files")
    with GeminiFiles(tmp_dir(tmp_path), rescan=0, max_document=4096) as reader:
        records = read_all(reader)
        assert read_all(reader) == []
        with big.open("ab") as f:
            f.write(b" ")
        records += read_all(reader)
        assert reader.counters["too_large"] == 2  # each version counted
        assert reader.last_problem == f"{big}: 5002 bytes, larger than 4096: not read"
    assert fold(records) == gemini_expected(fine.calls)
    assert [r.getMessage() for r in caplog.records] == [
        f"gemini recordings: {big}: 5002 bytes, larger than 4096: not read"
    ]


def test_since_reads_recent_files_whole_and_hands_out_recent_records(tmp_path: Path) -> None:
    since = T0 + 9
    folder = chats(tmp_path)
    rec = Recording(SID, T0)
    rec.answer(Call(SID, input=1_000, output=10))  # at T0 + 3
    rec.now = since + 100
    rec.answer(Call(SID, input=2_000, output=20))
    (folder / "session-a.jsonl").write_bytes(rec.jsonl())
    old = session("0d0d0d0d-2222-4333-8444-555566667777")
    for name, data in (("old.jsonl", old.jsonl()), ("old.json", old.document())):
        (folder / name).write_bytes(data)
        os.utime(folder / name, (since - 1, since - 1))
    with GeminiFiles(tmp_dir(tmp_path), since=since) as reader:
        records = read_all(reader)
        assert reader.counters["lines"] == len(rec.lines)  # the old files not opened
        assert reader.counters["documents"] == 0
    assert fold(records) == gemini_expected(rec.calls[1:])
    assert all(r.ts >= since for r in records if not isinstance(r, SessionInfo))
    assert any(isinstance(r, SessionInfo) for r in records)  # its session named all the same


def test_truncation_and_deletion(tmp_path: Path) -> None:
    state = tmp_path / "sessions.gemini.json"
    folder = chats(tmp_path)
    a, b = session(), session(SUB)
    pa, pb = folder / "a.jsonl", folder / "b.json"
    pa.write_bytes(a.jsonl())
    pb.write_bytes(b.document())
    with GeminiFiles(tmp_dir(tmp_path), state, rescan=0) as reader:
        records = read_all(reader)
        c = Recording("c0c0c0c0-2222-4333-8444-555566667777", T0 + 500)
        c.answer(Call(c.session, input=7, output=1))
        pa.write_bytes(c.jsonl())  # started again in place, shorter
        records += read_all(reader)
        assert reader.counters["truncations"] == 1
        pa.unlink()
        pb.unlink()
        records += read_all(reader)
        reader.save()
    assert fold(records) == gemini_expected(a.calls + b.calls + c.calls)
    saved = json.loads(state.read_text())
    assert saved["files"] == {} and saved.get("extra", {}) == {}


def test_unreadable_and_looping_files_cost_only_themselves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = chats(tmp_path)
    fine = session()
    (folder / "session-fine.jsonl").write_bytes(fine.jsonl())
    (folder / "loop.json").symlink_to(folder / "loop.json")
    os.mkfifo(folder / "fifo.json")
    (folder / "garbage.jsonl").write_bytes(bytes(range(11, 256)) * 40 + b"\n")
    caplog.set_level(logging.WARNING)
    with GeminiFiles(tmp_dir(tmp_path), rescan=0) as reader:
        records = read_all(reader)
        records += read_all(reader)
        counters = reader.counters
    assert fold(records) == gemini_expected(fine.calls)
    assert counters["bad_lines"] == 1 and counters["refused"] == 1 and counters["errors"] == 1
    said = " | ".join(r.getMessage() for r in caplog.records)
    assert said.count("loop.json") == 1 and said.count("fifo.json") == 1
    assert said.count("garbage.jsonl") == 1


# -- every family -------------------------------------------------------------------------------


def test_readers_returns_the_three_families_each_polling_an_empty_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    state = tmp_path / "state" / "sessions"
    found = readers(state, None, env={}, home=home)
    assert [type(r) for r in found] == [ClaudeReader, CodexFiles, GeminiFiles]
    for reader in found:
        assert reader.poll() == []
        assert not reader.more and reader.backlog == 0 and reader.last_problem is None
        assert reader.counters["lines"] == 0
        reader.save()
        reader.close()
    assert state_file(state, "codex") == tmp_path / "state" / "sessions.codex.json"
    assert state_file(None, "codex") is None


def test_readers_find_each_familys_files_through_the_environment(tmp_path: Path) -> None:
    rec = session()
    (chats(tmp_path / "g") / "session-a.jsonl").write_bytes(rec.jsonl())
    env = {
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"),
        "CODEX_HOME": str(tmp_path / "codex"),
        "GEMINI_CLI_HOME": str(tmp_path / "g"),
    }
    state = tmp_path / "sessions"
    claude, codex, gemini = readers(state, None, env=env, home=tmp_path / "nobody")
    reader: SessionReader = gemini
    assert fold(read_all(reader)) == gemini_expected(rec.calls)
    for r in (claude, codex, gemini):
        assert read_all(r) == []
        r.save()
        r.close()
    assert (tmp_path / "sessions.gemini.json").exists()
