"""Where `tui-monitor export` may write: only regular files are ever replaced (issue 13,
item 15), the real console script against real FIFOs, symlinks, device nodes, directories."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from factories import history
from test_export_cli import check_one_line, run

from tui_monitor.errors import NotAFile
from tui_monitor.export.outfile import write_atomic
from tui_monitor.store.writer import Writer

UNTIL = "2025-01-15T13:00:00Z"
IN_HISTORY = "2025-01-15T12:00:05Z"
METRICS_NAME = "tui-monitor-metrics-20250115T130000Z.csv"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    store = Writer(path)
    try:
        store.write_batch(history())
    finally:
        store.close()
    return path


def _fifo(path: Path) -> Callable[[], bool]:
    os.mkfifo(path)
    return lambda: stat.S_ISFIFO(path.lstat().st_mode)


def _symlink(path: Path) -> Callable[[], bool]:
    victim = path.with_name("victim.txt")
    victim.write_text("precious")
    path.symlink_to(victim)
    return lambda: path.is_symlink() and victim.read_text() == "precious"


def _device(path: Path) -> Callable[[], bool]:
    """A character device like /dev/null, made here (root may, in most containers)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here (test_dev_null_survives covers it)")
    rdev = path.lstat().st_rdev
    return lambda: stat.S_ISCHR(path.lstat().st_mode) and path.lstat().st_rdev == rdev


def _directory(path: Path) -> Callable[[], bool]:
    path.mkdir()
    (path / "inside").write_text("kept")
    return lambda: path.is_dir() and (path / "inside").read_text() == "kept"


KINDS = {
    "fifo": (_fifo, "is a FIFO, not a regular file"),
    "symlink": (_symlink, "is a symbolic link, not a regular file"),
    "device": (_device, "is a character device, not a regular file"),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_export_refuses_to_replace_what_is_not_a_file(
    kind: str, force: bool, db: Path, tmp_path: Path
) -> None:
    make, message = KINDS[kind]
    target = tmp_path / "out" / "target"
    target.parent.mkdir()
    intact = make(target)
    flags = ["--force"] if force else []
    for args in (
        ["metrics", "--since", "1000d", "--until", UNTIL],
        ["snapshot", "--at", IN_HISTORY],  # a recorded moment: no "nothing recorded" notice
    ):
        done = run("export", *args, "--db", str(db), "-o", str(target), *flags)
        check_one_line(done.returncode, done.stderr, f"{target} {message}")
        assert done.returncode == 1
        assert intact(), f"{kind} was replaced"
    left = {p.name for p in target.parent.iterdir()} - {"victim.txt"}
    assert left == {"target"}  # no temp file, no NAME-2 beside it


def test_a_directory_at_the_generated_name_is_refused(db: Path, tmp_path: Path) -> None:
    """`-o DIR` writes a generated name inside DIR; a directory at that name is not replaced."""
    out = tmp_path / "out"
    out.mkdir()
    intact = _directory(out / METRICS_NAME)
    done = run("export", "metrics", "--db", str(db), "--since", "1000d", "--until", UNTIL,
               "-o", str(out), "--force")  # fmt: skip
    check_one_line(done.returncode, done.stderr, "is a directory, not a regular file")
    assert done.returncode == 1 and intact()


def test_a_regular_file_is_still_replaced_with_force(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "m.csv"
    target.write_text("old")
    done = run("export", "metrics", "--db", str(db), "--since", "1000d", "--until", UNTIL,
               "-o", str(target), "--force")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert target.read_text().startswith("ts,tick,scope")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root could replace /dev/null")
def test_dev_null_survives_export_force(db: Path) -> None:
    done = run("export", "metrics", "--db", str(db), "-o", "/dev/null", "--force")
    check_one_line(done.returncode, done.stderr, "/dev/null is a character device")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_name_swapped_for_a_fifo_during_the_write_is_not_replaced(tmp_path: Path) -> None:
    """The check runs again just before the rename: a FIFO that appears meanwhile stays."""
    target = tmp_path / "out" / "late"
    target.parent.mkdir()

    def chunks() -> list[bytes]:
        os.mkfifo(target)  # appears after the first check, before the rename
        return [b"data"]

    with pytest.raises(NotAFile, match="is a FIFO"):
        write_atomic(target, _lazy(chunks), force=True)
    assert stat.S_ISFIFO(target.lstat().st_mode)
    assert [p.name for p in target.parent.iterdir()] == ["late"]


def _lazy(make: Callable[[], list[bytes]]) -> Iterator[bytes]:
    yield from make()
