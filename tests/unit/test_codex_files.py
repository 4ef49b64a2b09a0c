"""Codex rollouts followed on disk (CodexFiles): real files in tmp_path, restarts, bad input.

The rollouts come from tests/codex_rollouts.py (hand-written from the public format, several
codex versions); the expected totals are plain sums of what each response really used.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.codex_rollouts import (
    SHAPES,
    V0_14X,
    V0_31,
    V0_45,
    V0_58,
    Rollout,
    Shape,
    expected,
    rollout_name,
)
from tests.session_records import fold, read_all, usages
from tui_monitor.sessions.codex_files import CodexFiles
from tui_monitor.sessions.records import (
    SessionInfo,
)

T0 = 1_780_000_000.0  # 2026-05-28


@pytest.fixture
def codex(tmp_path: Path) -> Path:
    return tmp_path / "codex"


def dirs(codex: Path) -> list[Path]:
    return [codex / "sessions", codex / "archived_sessions"]


def conversation(shape: Shape, born: float = T0, **kw: object) -> Rollout:
    r = Rollout(shape, born, **kw).meta()  # type: ignore[arg-type]
    r.null_count().turn().user().respond(5_000, 0, 300, 120).tool("shell")
    r.respond(7_000, 4_800, 200, 50, cache_write=(300 if shape.cache_write else 0)).agent().done()
    r.turn().user().null_count().respond(9_000, 6_500, 400).repeat().agent().done()
    return r


def write_lines(path: Path, r: Rollout, lines: slice) -> None:
    """Some of a rollout's lines, appended as Codex appends them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as f:
        for line in r.lines[lines]:
            f.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")


# -- totals --------------------------------------------------------------------------------


def test_every_shape_fork_and_archive_counted_once(codex: Path) -> None:
    responses = []
    for n, shape in enumerate(SHAPES):
        r = conversation(shape, T0 + 1000 * n, cwd=f"/w/{n}")
        r.write(codex / "sessions")
        responses += r.responses
    parent = conversation(V0_58, T0 + 50_000)
    parent.write(codex / "sessions")
    fork = Rollout(V0_58, parent.now + 60).meta(parent).copy_history(parent, restamp=True)
    fork.turn().user().respond(3_000, 1_000, 70, gap=20).agent().done()
    fork.write(codex / "sessions")
    shutil.copytree(codex / "sessions", codex / "archived_sessions")  # archived copies too
    responses += parent.responses + fork.responses
    with CodexFiles(dirs(codex), max_bytes=4096, max_lines=7) as reader:  # many small polls
        records = read_all(reader)
        assert reader.counters["duplicates"] > 0  # the archive's copies, recognised
    assert fold(records) == expected(responses)
    infos = {r.session_id: r for r in records if isinstance(r, SessionInfo)}
    assert infos[fork.thread].parent_id == parent.thread


def test_a_partial_last_line_waits_for_its_newline(codex: Path) -> None:
    r = Rollout(V0_58, T0).meta().turn().user().respond(1_000, 200, 10).respond(2_000, 900, 20)
    path = r.write(codex / "sessions")
    data = path.read_bytes()
    cut = data.rindex(b'"type":"token_count"')  # inside the last response's count
    path.write_bytes(data[:cut])
    with CodexFiles(dirs(codex), rescan=0) as reader:
        first = read_all(reader)
        assert fold(first) == expected(r.responses[:-1])
        with path.open("ab") as f:
            f.write(data[cut:-1])
        assert usages(read_all(reader)) == []
        with path.open("ab") as f:
            f.write(b"\n")
        assert fold(first + read_all(reader)) == expected(r.responses)


# -- restarts: offsets and lineage state saved together --------------------------------------


def test_restart_mid_file_reads_on_with_the_files_lineage(codex: Path, tmp_path: Path) -> None:
    """Cut in the middle of a fork's copied history: without the saved lineage the rest of
    the copy would be taken for the fork's own responses (and the model forgotten)."""
    state = tmp_path / "state" / "sessions.codex.json"
    parent = conversation(V0_31, cwd="/w/p")
    parent.respond(11_000, 9_000, 500).respond(12_000, 10_000, 90)
    parent.write(codex / "sessions")
    fork = Rollout(V0_31, parent.now + 60, cwd="/w/p").meta(parent)
    fork.copy_history(parent, restamp=False).turn(model="gpt-5.1-codex")
    fork.user().respond(2_000, 500, 40, gap=30).agent().done()
    name = parent.write(codex / "sessions").with_name(rollout_name(fork.thread, fork.born))
    copied = len(parent.lines) // 2 + 1  # the meta and half the copy
    write_lines(name, fork, slice(0, copied))
    with CodexFiles(dirs(codex), state) as reader:
        first = read_all(reader)
        reader.save()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    saved = json.loads(state.read_text())
    assert saved["files"][str(name)]["line"] == saved["extra"][str(name)]["line"] == copied
    write_lines(name, fork, slice(copied, None))
    with CodexFiles(dirs(codex), state) as reader:
        second = read_all(reader)
        reader.save()
        assert reader.counters["resumed"] == 1
    assert {u.key for u in usages(first)}.isdisjoint(u.key for u in usages(second))
    assert fold(first + second) == expected(parent.responses + fork.responses)
    assert {u.model for u in usages(second)} == {"gpt-5.1-codex"}


def test_restart_goes_on_from_the_baseline_without_missing_an_increase(
    codex: Path, tmp_path: Path
) -> None:
    state = tmp_path / "sessions.codex.json"
    r = Rollout(V0_14X, T0).meta().turn().user().respond(4_000, 1_000, 100)
    path = r.write(codex / "sessions")
    done = len(r.lines)
    r.repeat().respond(6_000, 3_000, 200).respond(8_000, 7_000, 300).done()
    with CodexFiles(dirs(codex), state) as reader:
        first = read_all(reader)
        reader.save()
    write_lines(path, r, slice(done, done + 3))  # the repeat and the next response's halves
    with CodexFiles(dirs(codex), state) as reader:
        second = read_all(reader)
        reader.save()
    write_lines(path, r, slice(done + 3, None))
    with CodexFiles(dirs(codex), state) as reader:
        third = read_all(reader)
        reader.save()
    steps = [u.input_tokens + u.cache_read_tokens for u in usages(first + second + third)]
    assert steps == [4_000, 6_000, 8_000]  # each response's own figure, none twice
    assert fold(first + second + third) == expected(r.responses)
    with CodexFiles(dirs(codex)) as reader:  # no state: everything again, the same keys
        again = read_all(reader)
    assert fold(first + second + third + again) == expected(r.responses)


def test_a_state_file_from_a_replaced_file_is_not_applied(codex: Path, tmp_path: Path) -> None:
    state = tmp_path / "sessions.codex.json"
    r = conversation(V0_58)
    path = r.write(codex / "sessions")
    with CodexFiles(dirs(codex), state) as reader:
        first = read_all(reader)
        reader.save()
    other = conversation(V0_58, thread=r.thread)  # the same name, a new file from line 1
    replacement = path.with_name("new")
    replacement.write_bytes(other.data())
    os.replace(replacement, path)
    with CodexFiles(dirs(codex), state) as reader:
        second = read_all(reader)
        assert reader.counters["resumed"] == 0
    assert fold(second) == expected(other.responses)
    assert fold(first) == expected(r.responses)


# -- the backfill window ------------------------------------------------------------------------


def test_since_drops_old_records_but_keeps_the_baseline(codex: Path) -> None:
    since = T0 + 100
    r = Rollout(V0_45, T0).meta().turn().user().respond(5_000, 1_000, 50, gap=10)
    r.respond(6_000, 2_000, 60, gap=10)
    r.now = since + 50
    r.user().respond(7_000, 3_000, 70).agent().done()
    r.write(codex / "sessions")
    old = conversation(V0_58, T0 - 10_000)
    old_path = old.write(codex / "sessions")
    os.utime(old_path, (since - 1, since - 1))
    with CodexFiles(dirs(codex), since=since) as reader:
        records = read_all(reader)
        assert reader.counters["lines"] == len(r.lines)  # the old file not even opened
    assert fold(records) == expected([x for x in r.responses if x.ts >= since])
    (u,) = usages(records)
    assert u.input_tokens + u.cache_read_tokens == 7_000  # its own step, not the total
    assert all(x.ts >= since for x in records if not isinstance(x, SessionInfo))
    assert any(isinstance(x, SessionInfo) for x in records)  # kept whatever its time
    os.utime(old_path)  # written again: now read, its old lines still give no usage
    with CodexFiles(dirs(codex), since=since) as reader:
        assert {u.session_id for u in usages(read_all(reader))} == {r.thread}
        assert reader.counters["lines"] == len(r.lines) + len(old.lines)


# -- files that change --------------------------------------------------------------------------


def test_truncation_rotation_and_deletion(codex: Path, tmp_path: Path) -> None:
    state = tmp_path / "sessions.codex.json"
    a, b = conversation(V0_58), conversation(V0_58, T0 + 10)
    pa, pb = a.write(codex / "sessions"), b.write(codex / "sessions")
    with CodexFiles(dirs(codex), state, rescan=0, idle_close=60) as reader:
        records = read_all(reader)
        reader.save()
        c = Rollout(V0_58, T0 + 20, thread=a.thread).meta().turn().respond(1_234, 0, 5)
        # a's file started again in place (a thread's counter from zero: new totals)
        pa.write_bytes(c.data()[:10])
        read_all(reader)
        with pa.open("ab") as f:
            f.write(c.data()[10:])
        records += read_all(reader)
        assert reader.counters["truncations"] == 1
        moved = codex / "archived_sessions" / pb.name  # what `codex archive` does
        moved.parent.mkdir()
        os.rename(pb, moved)
        records += read_all(reader)
        pa.unlink()
        records += read_all(reader)
        reader.save()
    assert fold(records) == expected(a.responses + b.responses + c.responses)
    saved = json.loads(state.read_text())
    assert list(saved["files"]) == list(saved["extra"]) == [str(moved)]


def test_a_rollout_moved_to_the_archive_while_closed_counts_once(codex: Path) -> None:
    r = conversation(V0_14X)
    path = r.write(codex / "sessions")
    with CodexFiles(dirs(codex), rescan=0, idle_close=0) as reader:
        records = read_all(reader)
        (codex / "archived_sessions").mkdir()
        os.rename(path, codex / "archived_sessions" / path.name)
        again = read_all(reader)  # read from its start under its new name
        assert reader.counters["moved"] == 1
    assert fold(records + again) == expected(r.responses)
    assert [x for x in again if not isinstance(x, SessionInfo)] == []  # nothing twice


# -- bad input ----------------------------------------------------------------------------------


def test_garbage_and_a_huge_line_cost_only_themselves(
    codex: Path, caplog: pytest.LogCaptureFixture
) -> None:
    r = conversation(V0_58)
    path = r.write(codex / "sessions")
    data = path.read_bytes().split(b"\n")
    with path.open("wb") as f:
        f.write(b"\n".join(data[:3]) + b"\n")
        f.write(bytes(range(11, 256)) * 20 + b"\n")  # binary garbage, line 4
        f.write(b'{"timestamp":"' + b"x" * (3 << 20) + b'"}\n')  # a 3 MiB line, line 5
        f.write(b"\n".join(data[3:]))
    caplog.set_level(logging.WARNING)
    with CodexFiles(dirs(codex), max_line=1 << 20) as reader:
        records = read_all(reader)
        counters = reader.counters
        assert reader.last_problem == f"{path}:5: line longer than 1048576 bytes"
    assert fold(records) == expected(r.responses)
    assert (counters["too_long"], counters["bad_lines"]) == (1, 1)
    said = [x.getMessage() for x in caplog.records]
    assert said == [
        f"codex rollout {str(path)!r} line 4 is not JSON",
        f"codex rollouts: {path}:5: line longer than 1048576 bytes",
    ]


def test_a_symlink_loop_and_a_fifo_are_said_once(
    codex: Path, caplog: pytest.LogCaptureFixture
) -> None:
    r = conversation(V0_58)
    path = r.write(codex / "sessions")
    (path.parent / "up").symlink_to(codex / "sessions")
    fifo = path.with_name(path.name.replace(r.thread, "0" * 8 + r.thread[8:]))
    os.mkfifo(fifo)
    caplog.set_level(logging.WARNING, "tui_monitor.sessions.codex_files")
    with CodexFiles(dirs(codex), rescan=0) as reader:
        records = read_all(reader)
        records += read_all(reader)
        counters = reader.counters
    assert fold(records) == expected(r.responses)
    assert counters["refused"] == 1
    said = sorted(x.getMessage() for x in caplog.records)
    assert len(said) == 1, said
    assert said[0].startswith(f"codex rollouts: {fifo}: refused: a FIFO")


def test_a_file_deleted_while_written_is_drained(codex: Path) -> None:
    r = conversation(V0_58)
    path = r.write(codex / "sessions")
    done = len(r.lines)
    r.turn().respond(1_000, 0, 10, gap=20)
    with CodexFiles(dirs(codex), rescan=0, idle_close=60) as reader:
        records = read_all(reader)
        with path.open("ab") as writer:
            path.unlink()
            for line in r.lines[done:]:
                writer.write(json.dumps(line).encode() + b"\n")
            writer.flush()
            records += read_all(reader)
        assert reader.counters["vanished"] == 1
    assert fold(records) == expected(r.responses)


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A directory user 65534 owns (outside pytest's 0700 tmp dirs), for a run as nobody."""
    d = Path(tempfile.mkdtemp(prefix="tui-monitor-codex-"))
    if os.geteuid() == 0:
        os.chown(d, 65534, 65534)
    try:
        yield d
    finally:
        for p in d.rglob("*"):
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(d)


def test_unreadable_directory_and_file_are_said_once(nobody_dir: Path) -> None:
    """As a user without rights (run as nobody when the tests run as root)."""
    root = nobody_dir / "codex"
    shown = conversation(V0_58)
    shown.write(root / "sessions")
    hidden = conversation(V0_58, T0 + 86_400 * 3)
    closed = hidden.write(root / "sessions").parent
    locked = conversation(V0_58, T0 + 86_400 * 6).write(root / "sessions")
    if os.geteuid() == 0:
        for p in [root, *root.rglob("*")]:
            os.chown(p, 65534, 65534)
    script = textwrap.dedent(
        f"""
        import json, os, sys
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from tui_monitor.sessions.codex_files import CodexFiles
        from tui_monitor.sessions.records import SessionUsage
        if os.geteuid() == 0:
            os.setgid(65534); os.setuid(65534)
        out = []
        with CodexFiles([{str(root / "sessions")!r}], rescan=0) as reader:
            for _ in range(3):
                got = reader.poll()
                out.append([len([r for r in got if isinstance(r, SessionUsage)]),
                            reader.counters["errors"], reader.last_problem])
        print(json.dumps(out))
        """
    )
    closed.chmod(0)
    locked.chmod(0)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    first, second, third = json.loads(proc.stdout)
    assert first[0] == len(shown.responses)
    assert first[1] == second[1] == third[1] == 2  # each said once, not every poll
    assert second[0] == third[0] == 0
    log = proc.stderr.decode()
    assert log.count(str(closed)) == 1 and log.count(str(locked)) == 1
    assert "Permission denied" in log


def test_a_damaged_state_file_costs_only_its_state(codex: Path, tmp_path: Path) -> None:
    state = tmp_path / "sessions.codex.json"
    r = conversation(V0_58)
    path = r.write(codex / "sessions")
    extra = {"elsewhere": 5, str(path): {"line": "x", "mark": "y", "reader": [1], "doc": {}}}
    state.write_text(json.dumps({"version": 1, "files": {}, "extra": extra}))
    with CodexFiles(dirs(codex), state) as reader:
        assert fold(read_all(reader)) == expected(r.responses)
        reader.save()
    assert list(json.loads(state.read_text())["extra"]) == [str(path)]
    state.write_bytes(b"\x00not json")
    with CodexFiles(dirs(codex), state) as reader:
        assert fold(read_all(reader)) == expected(r.responses)  # everything again, same keys
        assert reader.counters["state_errors"] == 1
