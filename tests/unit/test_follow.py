"""The generic follower's own behaviours on real files (the spool's are in test_tail.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_monitor.sessions.follow import Follower, FollowItem, Line, Problem
from tui_monitor.sessions.scan import Scanner


def stats(*paths: Path) -> dict[str, os.stat_result]:
    return {str(p): os.stat(p) for p in paths if p.exists()}


def lines(items: list[FollowItem]) -> list[tuple[bytes, int]]:
    assert all(isinstance(i, Line) for i in items), items
    return [(i.data, i.number) for i in items if isinstance(i, Line)]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def follower(tmp_path: Path) -> Iterator[Follower]:
    with Follower(tmp_path / "state.json") as f:
        yield f


def test_line_numbers_survive_restarts_and_skipped_lines(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_bytes(b"one\n\ntwo\n" + b"x" * 100 + b"\nthree\npart")
    state = tmp_path / "state.json"
    with Follower(state, max_line=50) as fol:
        items = fol.poll(stats(f))
        fol.save()
    assert [(i.data, i.number) if isinstance(i, Line) else (i.reason, i.line) for i in items] == [
        (b"one", 1),
        (b"two", 3),
        ("line longer than 50 bytes", 4),
        (b"three", 5),
    ]
    with f.open("ab") as w:
        w.write(b"ial\n" + b"y" * 200)  # a too-long line cut by the restart
    with Follower(state, max_line=50) as fol:
        items = fol.poll(stats(f))
        assert [(p.reason, p.line) for p in items if isinstance(p, Problem)] == [
            ("line longer than 50 bytes", 7)
        ]
        fol.save()
    with f.open("ab") as w:
        w.write(b"y\nlast\n")
    with Follower(state, max_line=50) as fol:
        assert lines(fol.poll(stats(f))) == [(b"last", 8)]


def test_idle_files_are_closed_and_reopened_only_when_they_grow(tmp_path: Path) -> None:
    files = [tmp_path / f"{n}.jsonl" for n in range(20)]
    for p in files:
        p.write_bytes(b"first\n")
    before = open_fds()
    with Follower(None, idle_close=0) as fol:
        assert len(lines(fol.poll(stats(*files)))) == 20
        assert open_fds() == before  # read to the end and closed at once
        assert fol.poll(stats(*files)) == []
        with files[7].open("ab") as w:
            w.write(b"second\n")
        assert lines(fol.poll(stats(*files))) == [(b"second", 2)]
        assert open_fds() == before


def test_more_files_than_descriptors_wait_their_turn(tmp_path: Path) -> None:
    files = [tmp_path / f"{n:03}.jsonl" for n in range(40)]
    for n, p in enumerate(files):
        p.write_bytes(b"line %d\n" % n)
    before = open_fds()
    got: list[tuple[bytes, int]] = []
    with Follower(None, max_open=4, idle_close=3600) as fol:
        for _ in range(40):
            got += lines(fol.poll(stats(*files)))
            assert open_fds() - before <= 4
            if not fol.more:
                break
        assert fol.counters["deferred"] > 0 and fol.counters["refused"] == 0
    assert sorted(got) == sorted((b"line %d" % n, 1) for n in range(40))


def test_backlog_and_more_report_progress(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_bytes(b"0123456789\n" * 1000)  # 11000 bytes
    with Follower(None, max_bytes=4096) as fol:
        fol.poll(stats(f))
        assert fol.more and 0 < fol.backlog <= 11000 - 4096
        while fol.more:
            fol.poll(stats(f))
        assert fol.backlog == 0


def test_paths_not_looked_at_are_kept(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_bytes(b"1\n")
    with Follower(tmp_path / "s.json") as fol:
        assert lines(fol.poll(stats(f))) == [(b"1", 1)]
        with f.open("ab") as w:
            w.write(b"2\n")
        # Not looked at this time: still followed through its descriptor, not gone.
        assert lines(fol.poll({}, keep=lambda p: True)) == [(b"2", 2)]
        assert fol.counters["vanished"] == 0
        assert fol.poll(stats(f)) == []
        assert fol.poll({}) == []  # looked at and missing: gone
        assert fol.counters["vanished"] == 1


def test_links_are_followed_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "real.jsonl"
    target.write_bytes(b"through the link\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    with Follower(None, follow_links=True) as fol:
        assert lines(fol.poll({str(link): os.stat(link)})) == [(b"through the link", 1)]
    with Follower(None) as fol:
        items = fol.poll({str(link): os.lstat(link)})
        assert items == [Problem(str(link), "refused: symbolic link")]


def test_fifo_is_refused_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with Follower(None, follow_links=True) as fol:
        assert fol.poll(stats(fifo)) == [Problem(str(fifo), "refused: a FIFO, not a regular file")]
        assert fol.poll(stats(fifo)) == []


def test_a_callers_problem_is_said_once_while_it_lasts(tmp_path: Path, follower: Follower) -> None:
    d = str(tmp_path / "dir")
    first = follower.report(d, "cannot list directory: Permission denied", error=True)
    assert first == Problem(d, "cannot list directory: Permission denied")
    follower.poll({})
    assert follower.report(d, "cannot list directory: Permission denied", error=True) is None
    follower.poll({})
    follower.poll({})  # fixed for one poll: forgotten ...
    assert follower.report(d, "cannot list directory: Permission denied", error=True) == first
    assert follower.counters["errors"] == 2


def test_a_sparse_256_mib_line_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    with f.open("wb") as w:
        w.truncate(256 << 20)  # one line of 256 MiB (a hole: cheap on disk, real to read)
        w.seek(0, os.SEEK_END)
        w.write(b"\nafter\n")
    tracemalloc.start()
    try:
        with Follower(None, max_bytes=1 << 30) as fol:
            items = fol.poll(stats(f))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert items[0] == Problem(str(f), "line longer than 65536 bytes", 1)
    assert lines(items[1:]) == [(b"after", 2)]
    assert peak < 1 << 20, peak


# -- finding files -------------------------------------------------------------------------


def test_scanner_reports_a_symlink_loop_once(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "up").symlink_to(root)  # a loop
    (root / "a" / "self.jsonl").symlink_to(root / "a" / "self.jsonl")  # loops on itself
    (root / "a" / "s.jsonl").write_bytes(b"x\n")
    scanner = Scanner([root], lambda n: n.endswith(".jsonl"), depth=4, rescan=0)
    with Follower(None) as fol:
        first = scanner.scan(lambda p, r, st, e: fol.report(p, r, st, error=e))
        again = scanner.scan(lambda p, r, st, e: fol.report(p, r, st, error=e))
    assert list(first.files) == [str(root / "a" / "s.jsonl")]
    assert sorted(p.reason for p in first.problems) == [
        "cannot stat: Too many levels of symbolic links",
        "refused: symbolic link loop (a directory already read)",
    ]
    assert again.problems == []


def test_scanner_sees_new_and_grown_files_between_full_walks(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    (root / "p").mkdir(parents=True)
    a = root / "p" / "a.jsonl"
    a.write_bytes(b"1\n")
    scanner = Scanner([root], lambda n: n.endswith(".jsonl"), depth=4, rescan=3600)

    def scan() -> dict[str, int]:
        return {Path(p).name: st.st_size for p, st in scanner.scan(lambda *a: None).files.items()}

    assert scan() == {"a.jsonl": 2}
    a.write_bytes(b"1\n2\n")  # hot: stat'ed again
    (root / "p" / "sub").mkdir()
    (root / "p" / "sub" / "b.jsonl").write_bytes(b"b\n")  # a new directory, a new file
    assert scan() == {"a.jsonl": 4, "b.jsonl": 2}
    (root / "p" / "sub" / "b.jsonl").unlink()
    assert scan() == {"a.jsonl": 4}


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A directory user 65534 owns (outside pytest's 0700 tmp dirs), for a run as nobody."""
    d = Path(tempfile.mkdtemp(prefix="tui-monitor-follow-"))
    if os.geteuid() == 0:
        os.chown(d, 65534, 65534)
    try:
        yield d
    finally:
        for p in d.rglob("*"):
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(d)


def test_unreadable_directory_is_reported_once_and_the_rest_read(nobody_dir: Path) -> None:
    """As a user without rights to one directory (run as nobody when the tests run as root)."""
    root = nobody_dir / "projects"
    for name in ("open", "closed"):
        (root / name).mkdir(parents=True)
        (root / name / "s.jsonl").write_bytes(b'{"n":1}\n')
    if os.geteuid() == 0:
        for p in [root, *root.rglob("*")]:
            os.chown(p, 65534, 65534)
    script = textwrap.dedent(
        f"""
        import json, os, sys
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from tui_monitor.sessions.follow import Follower, Line
        from tui_monitor.sessions.scan import Scanner
        if os.geteuid() == 0:  # imported first: root's interpreter is not nobody's to read
            os.setgid(65534); os.setuid(65534)
        scanner = Scanner([{str(root)!r}], lambda n: n.endswith(".jsonl"), depth=4, rescan=0)
        out = []
        with Follower(None) as fol:
            for _ in range(2):
                found = scanner.scan(lambda p, r, st, e: fol.report(p, r, st, error=e))
                items = fol.poll(found.files, found.keep)
                out.append({{"problems": [[p.path, p.reason] for p in found.problems],
                            "lines": [i.path for i in items if isinstance(i, Line)]}})
        print(json.dumps(out))
        """
    )
    (root / "closed").chmod(0)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    first, second = json.loads(proc.stdout)
    assert first["problems"] == [[str(root / "closed"), "cannot list directory: Permission denied"]]
    assert first["lines"] == [str(root / "open" / "s.jsonl")]
    assert second == {"problems": [], "lines": []}
