"""Spool-file tailing on real files: partial lines, rotation, truncation, restarts, refusals."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_monitor.errors import TailError
from tui_monitor.ingest.spool import ensure_spool_dir
from tui_monitor.ingest.tail import Tailer, TailItem, TailLine, TailProblem

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    d = tmp_path / "spool"
    ensure_spool_dir(d)
    return d


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "tail.json"


@pytest.fixture
def tailer(spool: Path, state: Path) -> Iterator[Tailer]:
    with Tailer([spool], [], state) as t:
        yield t


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def lines(items: list[TailItem]) -> list[bytes]:
    assert all(isinstance(i, TailLine) for i in items), items
    return [i.data for i in items if isinstance(i, TailLine)]


def problems(items: list[TailItem]) -> list[str]:
    return [f"{i.source}: {i.reason}" for i in items if isinstance(i, TailProblem)]


def test_partial_line_waits_for_its_newline(tailer: Tailer, spool: Path) -> None:
    f = spool / "a.jsonl"
    append(f, b'{"n":1}\n{"n":')
    assert lines(tailer.poll()) == [b'{"n":1}']
    assert tailer.poll() == []
    append(f, b"2}")
    assert tailer.poll() == []
    append(f, b"\n")
    items = tailer.poll()
    assert items == [TailLine(str(f), b'{"n":2}')]
    assert tailer.counters["lines"] == 2


def test_max_lines_per_poll_and_the_rest_next_time(spool: Path, state: Path) -> None:
    f = spool / "a.jsonl"
    append(f, b"".join(b"%d\n" % n for n in range(25)))
    with Tailer([spool], [], state, max_lines=10) as t:
        got = [lines(t.poll()) for _ in range(4)]
    assert [len(g) for g in got] == [10, 10, 5, 0]
    assert [line for g in got for line in g] == [b"%d" % n for n in range(25)]


def test_budget_is_shared_fairly_between_files(spool: Path, state: Path) -> None:
    for name in ("a", "b"):
        append(spool / f"{name}.jsonl", b"".join(b"%s%d\n" % (name.encode(), n) for n in range(30)))
    with Tailer([spool], [], state, max_lines=10) as t:
        first, second = t.poll(), t.poll()
    sources = {i.source for i in first} | {i.source for i in second}
    assert sources == {str(spool / "a.jsonl"), str(spool / "b.jsonl")}


def test_truncation_starts_again_from_zero(tailer: Tailer, spool: Path) -> None:
    f = spool / "a.jsonl"
    append(f, b"one-long-line\ntwo-long-line\n")
    assert lines(tailer.poll()) == [b"one-long-line", b"two-long-line"]
    f.write_bytes(b"new\n")  # same inode, shorter than the offset
    assert lines(tailer.poll()) == [b"new"]
    assert tailer.counters["truncations"] == 1


def test_copytruncate_rotation(tailer: Tailer, spool: Path) -> None:
    f = spool / "a.jsonl"
    with f.open("ab", buffering=0) as writer:  # O_APPEND, as a logging agent would
        writer.write(b"first line\nsecond line\n")
        assert lines(tailer.poll()) == [b"first line", b"second line"]
        shutil.copyfile(f, spool / "a.jsonl.1")
        os.truncate(f, 0)
        writer.write(b"third\n")
        assert lines(tailer.poll()) == [b"third"]
    assert tailer.counters["truncations"] == 1
    assert tailer.poll() == []


def test_rotation_by_rename_drains_the_old_file_first(tailer: Tailer, spool: Path) -> None:
    f = spool / "a.jsonl"
    with f.open("ab", buffering=0) as old:
        old.write(b"before\n")
        assert lines(tailer.poll()) == [b"before"]
        os.rename(f, spool / "a.jsonl.1")
        old.write(b"after rename\n")  # the writer has not reopened yet
        append(f, b"new file\n")
        assert lines(tailer.poll()) == [b"after rename", b"new file"]
    assert tailer.counters["rotations"] == 1
    append(f, b"more\n")
    assert lines(tailer.poll()) == [b"more"]


def test_rotation_seen_while_the_path_is_missing(tailer: Tailer, spool: Path) -> None:
    f = spool / "a.jsonl"
    with f.open("ab", buffering=0) as old:
        old.write(b"1\n")
        assert lines(tailer.poll()) == [b"1"]
        os.rename(f, spool / "a.jsonl.1")
        old.write(b"2\n")
        assert lines(tailer.poll()) == [b"2"]  # path gone, old descriptor still read
        old.write(b"3\n")  # the writer is slow to reopen
        append(f, b"4\n")
        assert lines(tailer.poll()) == [b"3", b"4"]
    assert tailer.counters["vanished"] == 1


def test_renamed_within_the_spool_is_not_read_twice(tailer: Tailer, spool: Path) -> None:
    append(spool / "a.jsonl", b"1\n2\n")
    assert lines(tailer.poll()) == [b"1", b"2"]
    os.rename(spool / "a.jsonl", spool / "b.jsonl")
    append(spool / "b.jsonl", b"3\n")
    assert lines(tailer.poll()) == [b"3"]


def test_restart_continues_from_saved_offset(spool: Path, state: Path) -> None:
    f = spool / "a.jsonl"
    append(f, b"1\n2\n3-partial")
    with Tailer([spool], [], state) as t:
        assert lines(t.poll()) == [b"1", b"2"]
        t.save()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert [p.name for p in state.parent.iterdir()] == [state.name]  # no temp file left
    append(f, b"-done\n4\n")
    with Tailer([spool], [], state) as t:
        assert lines(t.poll()) == [b"3-partial-done", b"4"]
        t.save()
    with Tailer([spool], [], state) as t:
        assert t.poll() == []


def test_save_after_close_keeps_offsets(spool: Path, state: Path) -> None:
    append(spool / "a.jsonl", b"1\n")
    t = Tailer([spool], [], state)
    assert lines(t.poll()) == [b"1"]
    t.close()
    t.save()
    with Tailer([spool], [], state) as t2:
        assert t2.poll() == []


def test_restart_reads_a_replaced_file_from_the_start(spool: Path, state: Path) -> None:
    f = spool / "a.jsonl"
    append(f, b"old\n")
    with Tailer([spool], [], state) as t:
        assert lines(t.poll()) == [b"old"]
        t.save()
    f.unlink()
    keep = spool / "keep.txt"  # hold the old inode so the new file cannot reuse it
    append(keep, b"x")
    append(f, b"new file, first line\n")
    with Tailer([spool], [], state) as t:
        assert lines(t.poll()) == [b"new file, first line"]


def test_restart_detects_a_reused_inode_by_its_first_bytes(spool: Path, state: Path) -> None:
    f = spool / "a.jsonl"
    append(f, b"first content\n")
    with Tailer([spool], [], state) as t:
        assert lines(t.poll()) == [b"first content"]
        t.save()
    # Same inode, other content of the same length: what inode reuse looks like.
    with f.open("r+b") as w:
        w.write(b"other content\nnext\n")
    with Tailer([spool], [], state) as t:
        assert lines(t.poll()) == [b"other content", b"next"]


def test_corrupt_state_file_starts_fresh(spool: Path, state: Path) -> None:
    append(spool / "a.jsonl", b"1\n")
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    with Tailer([spool], [], state) as t:
        items = t.poll()
        assert problems(items) == [
            f"{state}: state file is not valid JSON; reading every spool file from the start"
        ]
        assert [i.data for i in items if isinstance(i, TailLine)] == [b"1"]
        assert t.counters["state_errors"] == 1
        t.save()
    assert json.loads(state.read_text())["version"] == 1


def test_malformed_state_entry_starts_fresh(spool: Path, state: Path) -> None:
    append(spool / "a.jsonl", b"1\n")
    state.parent.mkdir(parents=True)
    entry = {"dev": "x", "ino": 1, "offset": 2}
    state.write_text(json.dumps({"version": 1, "files": {str(spool / "a.jsonl"): entry}}))
    with Tailer([spool], [], state) as t:
        items = t.poll()
    assert len(problems(items)) == 1 and "malformed entry" in problems(items)[0]
    assert [i.data for i in items if isinstance(i, TailLine)] == [b"1"]


def test_save_failure_is_reported_once_by_poll(tmp_path: Path, spool: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"")
    append(spool / "a.jsonl", b"1\n")
    state = blocker / "tail.json"
    with Tailer([spool], [], state) as t:
        assert problems(t.poll()) == [
            f"{state}: state file cannot be read (Not a directory); "
            "reading every spool file from the start"
        ]
        t.save()
        t.save()
        append(spool / "a.jsonl", b"2\n")
        items = t.poll()
    assert problems(items) == [f"{state}: cannot save offsets ({blocker}: File exists)"]
    assert [i.data for i in items if isinstance(i, TailLine)] == [b"2"]
    assert t.counters["errors"] == 1


def test_symlinks_are_refused_once(tmp_path: Path, spool: Path, state: Path) -> None:
    target = tmp_path / "secret"
    target.write_bytes(b"do not read\n")
    (spool / "link.jsonl").symlink_to(target)
    configured = tmp_path / "configured.jsonl"
    configured.symlink_to(target)
    with Tailer([spool], [configured], state) as t:
        assert sorted(problems(t.poll())) == sorted(
            [
                f"{spool / 'link.jsonl'}: refused: symbolic link",
                f"{configured}: refused: symbolic link",
            ]
        )
        assert t.poll() == []
        assert t.counters["refused"] == 2
        assert t.counters["lines"] == 0


def test_fifo_is_refused_without_blocking(spool: Path, state: Path) -> None:
    os.mkfifo(spool / "pipe.jsonl")
    append(spool / "ok.jsonl", b"fine\n")
    result: list[TailItem] = []
    with Tailer([spool], [], state) as t:
        worker = threading.Thread(target=lambda: result.extend(t.poll()), daemon=True)
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), "poll blocked on a FIFO"
    assert problems(result) == [f"{spool / 'pipe.jsonl'}: refused: a FIFO, not a regular file"]
    assert [i.data for i in result if isinstance(i, TailLine)] == [b"fine"]


@root_only
def test_file_of_another_uid_is_refused_until_it_is_ours(spool: Path, tailer: Tailer) -> None:
    f = spool / "a.jsonl"
    append(f, b"theirs\n")
    os.chown(f, 65534, 65534)
    assert problems(tailer.poll()) == [f"{f}: refused: owned by uid 65534, not 0"]
    assert tailer.poll() == []
    os.chown(f, 0, 0)
    assert lines(tailer.poll()) == [b"theirs"]


def test_file_writable_by_others_is_refused(tmp_path: Path, spool: Path, tailer: Tailer) -> None:
    f = spool / "a.jsonl"
    append(f, b"x\n")
    f.chmod(0o646)
    assert problems(tailer.poll()) == [f"{f}: refused: writable by others (chmod o-w to allow it)"]
    f.chmod(0o664)  # group-writable is fine when the group is our own
    assert lines(tailer.poll()) == [b"x"]


def test_chmod_while_open_stops_reading_and_keeps_the_offset(spool: Path, tailer: Tailer) -> None:
    f = spool / "a.jsonl"
    append(f, b"1\n")
    assert lines(tailer.poll()) == [b"1"]
    f.chmod(0o602)
    append(f, b"2\n")
    assert len(problems(tailer.poll())) == 1
    f.chmod(0o600)
    assert lines(tailer.poll()) == [b"2"]


def test_huge_line_is_skipped_with_bounded_memory(spool: Path, tailer: Tailer) -> None:
    f = spool / "a.jsonl"
    append(f, b"ok\n" + b"x" * (1 << 20))
    tracemalloc.start()
    try:
        items = tailer.poll()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines(items[:1]) == [b"ok"]
    assert problems(items[1:]) == [f"{f}: line longer than 65536 bytes"]
    assert peak < 512 * 1024, peak  # the 1 MiB line is never held in full
    append(f, b"x" * (1 << 20))
    assert tailer.poll() == []  # reported once, still skipping
    append(f, b"end of the long line\nvalid\n")
    assert lines(tailer.poll()) == [b"valid"]
    assert tailer.counters["too_long"] == 1


def test_restart_inside_a_huge_line_keeps_skipping_it(spool: Path, state: Path) -> None:
    f = spool / "a.jsonl"
    append(f, b"x" * 200_000)
    with Tailer([spool], [], state) as t:
        assert problems(t.poll()) == [f"{f}: line longer than 65536 bytes"]
        t.save()
    append(f, b"tail of the long line\nnext\n")
    with Tailer([spool], [], state) as t:
        assert lines(t.poll()) == [b"next"]


def test_line_length_limit_is_exact(spool: Path, state: Path) -> None:
    f = spool / "a.jsonl"
    append(f, b"a" * 10 + b"\n" + b"b" * 10 + b"\r\n" + b"c" * 11 + b"\n" + b"d\n")
    with Tailer([spool], [], state, max_line=10) as t:
        items = t.poll()
    assert [getattr(i, "data", None) or i.reason for i in items] == [  # type: ignore[union-attr]
        b"a" * 10,
        b"b" * 10,
        "line longer than 10 bytes",
        b"d",
    ]


def test_crlf_and_blank_lines(tailer: Tailer, spool: Path) -> None:
    append(spool / "a.jsonl", b'{"a":1}\r\n\r\n\n{"b":2}\r\n')
    assert lines(tailer.poll()) == [b'{"a":1}', b'{"b":2}']
    assert tailer.counters["blank"] == 2


def test_file_that_disappears_between_polls(spool: Path, state: Path) -> None:
    f = spool / "a.jsonl"
    append(f, b"1\n")
    with Tailer([spool], [], state, retire_grace=0) as t:
        assert lines(t.poll()) == [b"1"]
        append(f, b"2\nlast, no newline")
        f.unlink()
        assert lines(t.poll()) == [b"2"]
        assert lines(t.poll()) == [b"last, no newline"]  # closed: not lost
        assert t.poll() == []
        assert t.counters["vanished"] == 1
        t.save()
    assert json.loads(state.read_text())["files"] == {}


def test_missing_sources_are_skipped_until_they_appear(tmp_path: Path, state: Path) -> None:
    spool, single = tmp_path / "later", tmp_path / "single.jsonl"
    with Tailer([spool], [single], state) as t:
        assert t.poll() == []
        ensure_spool_dir(spool)
        append(spool / "a.jsonl", b"a\n")
        append(spool / "ignored.txt", b"not jsonl\n")
        append(single, b"s\n")
        assert sorted(lines(t.poll())) == [b"a", b"s"]


def test_ensure_spool_dir(tmp_path: Path) -> None:
    d = tmp_path / "deep" / "spool"
    ensure_spool_dir(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    d.chmod(0o755)
    ensure_spool_dir(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    link = tmp_path / "link"
    link.symlink_to(d)
    with pytest.raises(TailError, match="is a symbolic link; refusing it"):
        ensure_spool_dir(link)


@root_only
def test_ensure_spool_dir_refuses_a_strangers_dir(tmp_path: Path) -> None:
    d = tmp_path / "theirs"
    d.mkdir(mode=0o700)
    os.chown(d, 65534, 65534)
    with pytest.raises(TailError, match="owned by uid 65534"):
        ensure_spool_dir(d)
