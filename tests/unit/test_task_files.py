"""Task files as they are found in real repositories: drifted, badly formed and hostile.

Real directories in tmp_path, read by the real scanner; every bad file is an error card with
its reason, and every other task stays on the board.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tui_monitor.config import TaskBoardSettings
from tui_monitor.models import TaskBoard, TaskCard
from tui_monitor.tasks import parse
from tui_monitor.tasks.order import priority_rank, status_disagrees
from tui_monitor.tasks.scan import BoardScanner

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def board_of(root: Path, **kw: object) -> TaskBoard:
    scanner = BoardScanner(TaskBoardSettings(name="b", root=root, **kw))  # type: ignore[arg-type]
    scanner.scan()
    return scanner.board()


def cards(board: TaskBoard) -> dict[str, TaskCard]:
    return {c.key: c for c in board.cards}


GOOD = "id: T-1\ntitle: the good one\npriority: high\n"


def test_drifted_real_world_shapes_are_shown_as_written(tmp_path: Path) -> None:
    write(tmp_path, "inbox/T-1.yaml", "id: T-1\ntitle: first\npriority: HIGH\nestimate: 3\n")
    write(tmp_path, "assigned/w1/T-2.yml", "title: second\nagent: someone-else\nstatus: todo\n")
    write(tmp_path, "done/w2/T-3.yaml", "title: done\nstatus: COMPLETE\nresult:\n  summary: ok\n")
    write(tmp_path, "done/w2/T-4.yaml", "title: drifted\nstatus: assigned\npriority: Low\n")
    write(tmp_path, "archive/2025-05/T-0.yaml", "title: old\nagent: w9\n")
    write(tmp_path, "archive/2025-06/w3/T-5.yaml", "title: older\nerror:\n  message: boom\n")
    got = cards(board_of(tmp_path, archive="archive"))
    assert set(got) == {"T-0", "T-1", "T-2", "T-3", "T-4", "T-5"}
    t1, t2, t3, t4 = got["T-1"], got["T-2"], got["T-3"], got["T-4"]
    assert (t1.column, t1.agent, t1.priority, t1.extra) == ("inbox", None, "HIGH", {"estimate": 3})
    assert priority_rank(t1.priority) == priority_rank("high") == 1
    # the folder decides the column and (its sub-folder) the agent; the fields stay as written
    assert (t2.column, t2.agent, t2.status, t2.path) == (
        "assigned",
        "w1",
        "todo",
        "assigned/w1/T-2.yml",
    )
    assert status_disagrees(t2)
    assert (t3.status, t3.summary, status_disagrees(t3)) == ("COMPLETE", "ok", False)
    assert (t4.column, t4.status, status_disagrees(t4), t4.priority) == (
        "done",
        "assigned",
        True,
        "Low",
    )
    assert (got["T-0"].column, got["T-0"].agent) == ("archive", "w9")  # month folder, agent field
    assert (got["T-5"].agent, got["T-5"].error) == ("w3", "boom")
    assert not any(c.problem for c in got.values())


def test_without_an_archive_folder_configured_there_is_no_archive_column(tmp_path: Path) -> None:
    write(tmp_path, "archive/2025-05/T-0.yaml", "title: old\n")
    write(tmp_path, "inbox/T-1.yaml", GOOD)
    board = board_of(tmp_path)
    assert board.columns == ("inbox", "assigned", "done")
    assert set(cards(board)) == {"T-1"}


def test_missing_id_is_the_file_name_and_unknown_fields_are_kept(tmp_path: Path) -> None:
    write(tmp_path, "inbox/fix-login.yaml", "title: t\nowner: ann\nlinks: {pr: 12}\n")
    card = cards(board_of(tmp_path))["fix-login"]
    assert card.id == "fix-login" and card.problem is None
    assert card.extra == {"owner": "ann", "links": {"pr": 12}}


def test_a_second_file_with_a_taken_id_gets_its_own_key(tmp_path: Path) -> None:
    write(tmp_path, "inbox/T-1.yaml", GOOD)
    write(tmp_path, "done/w/T-1-copy.yaml", GOOD)
    got = cards(board_of(tmp_path))
    assert set(got) == {"T-1", "T-1@done/w/T-1-copy.yaml"}
    assert got["T-1"].column == "inbox"


BAD: dict[str, tuple[str | bytes, str]] = {
    "invalid.yaml": ("title: [unclosed\n", "invalid YAML"),
    "bomb.yaml": (BOMB, "more than 10,000 values"),
    "deep.yaml": ("x: " + "[" * 5000 + "]" * 5000 + "\n", "invalid YAML"),
    "deep-ok-for-libyaml.yaml": ("x: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than 32"),
    "binary.yaml": (b"title: x\x00\x01\x02", "binary file"),
    "latin1.yaml": ("title: caf\xe9\n".encode("latin-1"), "not UTF-8"),
    "list.yaml": ("- a\n- b\n", "not a mapping"),
    "empty.yaml": ("", "empty file"),
    "two-docs.yaml": ("a: 1\n---\nb: 2\n", "invalid YAML"),
    "python-tag.yaml": ("x: !!python/object/apply:os.system ['true']\n", "invalid YAML"),
    "huge-int.yaml": ("x: " + "9" * 6000 + "\n", "invalid YAML"),
}


def test_each_bad_file_is_an_error_card_and_the_good_ones_stay(tmp_path: Path) -> None:
    write(tmp_path, "inbox/T-1.yaml", GOOD)
    for name, (content, _) in BAD.items():
        write(tmp_path, f"inbox/{name}", content)
    started = time.monotonic()
    got = cards(board_of(tmp_path))
    assert time.monotonic() - started < 10  # no bomb may stall the scan (generous: shared CI)
    assert got["T-1"].problem is None and got["T-1"].title == "the good one"
    for name, (_, reason) in BAD.items():
        card = got[name.removesuffix(".yaml")]
        assert card.problem is not None and reason in card.problem, (name, card.problem)
        assert card.path == f"inbox/{name}" and card.column == "inbox"


def test_a_50_mb_file_is_refused_without_being_read(tmp_path: Path) -> None:
    big = write(tmp_path, "inbox/big.yaml", "")
    with big.open("wb") as f:
        f.truncate(50 * 2**20)  # sparse: 50 MB long, nothing to read
    write(tmp_path, "inbox/T-1.yaml", GOOD)
    got = cards(board_of(tmp_path))
    assert got["big"].problem == "too large: 50.0 MiB (limit 256.0 KiB)"
    assert got["T-1"].problem is None


def test_symlinks_inside_the_root_are_read_and_out_of_it_refused(tmp_path: Path) -> None:
    root = tmp_path / "board"
    outside = write(tmp_path, "secret.yaml", "title: secret\n")
    inside = write(root, "shared/T-7.yaml", "title: linked\n")
    (root / "inbox").mkdir(parents=True)
    (root / "inbox" / "evil.yaml").symlink_to(outside)
    (root / "inbox" / "T-7.yaml").symlink_to(inside)
    (root / "inbox" / "dangling.yaml").symlink_to(root / "nowhere.yaml")
    (root / "inbox" / "loop").symlink_to(root / "inbox")  # a folder link is never followed
    got = cards(board_of(root))
    assert got["evil"].problem == "a symlink out of the board's root"
    assert got["evil"].title is None
    assert got["T-7"].title == "linked" and got["T-7"].problem is None
    assert got["dangling"].problem == "a broken symlink"
    assert len(got) == 3


def test_a_directory_or_a_fifo_named_like_a_task(tmp_path: Path) -> None:
    (tmp_path / "inbox" / "T-9.yaml").mkdir(parents=True)
    os.mkfifo(tmp_path / "inbox" / "pipe.yaml")  # opening it for reading would block
    write(tmp_path, "inbox/T-1.yaml", GOOD)
    got = cards(board_of(tmp_path))
    assert got["T-9"].problem == "a directory named like a task file"
    assert got["pipe"].problem == "not a regular file"
    assert got["T-1"].problem is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_and_folder(tmp_path: Path) -> None:
    locked = write(tmp_path, "inbox/locked.yaml", GOOD)
    locked.chmod(0)
    folder = tmp_path / "assigned" / "w1"
    write(tmp_path, "assigned/w1/T-2.yaml", GOOD)
    folder.chmod(0)
    try:
        got = cards(board_of(tmp_path))
    finally:
        folder.chmod(0o700)
    assert got["locked"].problem == "cannot read: Permission denied"
    assert got["w1"].problem == "cannot list: Permission denied"


def test_an_unreadable_file_as_root_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root reads everything, so the refusal is made by hand where the file is opened."""
    write(tmp_path, "inbox/locked.yaml", GOOD)
    write(tmp_path, "inbox/T-1.yaml", GOOD.replace("T-1", "T-1b"))
    real_open = os.open

    def deny(path: str, flags: int, *args: int) -> int:
        if str(path).endswith("locked.yaml"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(parse.os, "open", deny)
    got = cards(board_of(tmp_path))
    assert got["locked"].problem == "cannot read: Permission denied"
    assert got["T-1b"].problem is None


def test_the_missing_root_is_the_boards_problem(tmp_path: Path) -> None:
    board = board_of(tmp_path / "nope")
    assert board.cards == ()
    assert board.problem is not None and "does not exist" in board.problem


def test_a_rescan_reads_only_changed_files(tmp_path: Path) -> None:
    for i in range(20):
        write(tmp_path, f"inbox/T-{i}.yaml", f"title: {i}\n")
    scanner = BoardScanner(TaskBoardSettings(name="b", root=tmp_path))
    scanner.scan()
    assert scanner.reads == 20
    first = scanner.board()
    write(tmp_path, "inbox/T-3.yaml", "title: three, longer now\n")
    scanner.scan()
    assert scanner.reads == 21
    second = cards(scanner.board())
    assert second["T-3"].title == "three, longer now"
    assert second["T-4"] is cards(first)["T-4"]  # unchanged files keep their card object


def test_hidden_files_and_other_extensions_are_not_tasks(tmp_path: Path) -> None:
    write(tmp_path, "inbox/.T-1.yaml.swp", "x")
    write(tmp_path, "inbox/.hidden.yaml", GOOD)
    write(tmp_path, "inbox/notes.md", "# notes")
    write(tmp_path, "inbox/.git/T-2.yaml", GOOD)
    write(tmp_path, "inbox/UPPER.YAML", "title: upper\n")
    assert set(cards(board_of(tmp_path))) == {"UPPER"}


def test_text_stays_as_written_and_bounded(tmp_path: Path) -> None:
    write(
        tmp_path, "inbox/T-1.yaml", 'title: "\\e[31mred\\e[0m [bold]x[/bold]"\nnote: ' + "y" * 9000
    )
    card = cards(board_of(tmp_path))["T-1"]
    assert card.title == "\x1b[31mred\x1b[0m [bold]x[/bold]"  # made safe where it is shown
    assert len(card.extra["note"]) == parse.MAX_STRING


def test_a_move_reported_only_as_its_new_half_is_still_a_move(tmp_path: Path) -> None:
    """inotify reports a move into a folder created a moment before as a creation, and the
    leaving only half a second later: the board must not show the task twice meanwhile."""
    write(tmp_path, "inbox/T-1.yaml", GOOD)
    scanner = BoardScanner(TaskBoardSettings(name="b", root=tmp_path))
    scanner.scan()
    (tmp_path / "assigned" / "w1").mkdir(parents=True)
    os.rename(tmp_path / "inbox/T-1.yaml", tmp_path / "assigned/w1/T-1.yaml")
    assert scanner.update([str(tmp_path / "assigned/w1/T-1.yaml")])
    got = cards(scanner.board())
    assert list(got) == ["T-1"] and got["T-1"].column == "assigned"


TRICKY = """\
hex: 0x1F
octal: 017
under: 1_000
sexa: 1:30
float: 6.8e+3
inf: .inf
nan: .NaN
bools: [yes, No, on, OFF, true, False]
nulls: [~, null, ]
quoted: ["1", '2', "true"]
when: 2025-06-01T12:00:00Z
day: 2025-06-01
bin: !!binary aGVsbG8=
set: !!set {a, b}
omap: !!omap [x: 1, y: 2]
base: &base {a: 1, b: 2}
merged: {<<: *base, b: 3}
many: {<<: [{c: 1}, {c: 2, d: 4}], e: 5}
alias: *base
7: seven
true: yes-key
folded: >
  one
  two
literal: |
  keep
  lines
"""


def test_values_mean_what_yaml_safe_load_makes_of_them() -> None:
    import yaml

    from tui_monitor.tasks import yamlsafe

    ours = yamlsafe.load(TRICKY)
    theirs = yaml.safe_load(TRICKY)
    assert ours["hex"] == theirs["hex"] == 31 and ours["octal"] == theirs["octal"] == 15
    assert ours["under"] == 1000
    assert ours["sexa"] == theirs["sexa"] == 90 and ours["float"] == 6800.0
    assert (ours["inf"], ours["nan"]) == ("inf", "nan")  # JSON has no such numbers
    assert ours["bools"] == theirs["bools"] == [True, False, True, False, True, False]
    assert ours["nulls"] == theirs["nulls"] == [None, None]
    assert ours["quoted"] == ["1", "2", "true"]
    assert ours["when"] == theirs["when"].isoformat() == "2025-06-01T12:00:00+00:00"
    assert ours["day"] == "2025-06-01" and ours["bin"] == "<5 bytes>"
    assert sorted(ours["set"]) == ["a", "b"] and ours["omap"] == [{"x": 1}, {"y": 2}]
    assert ours["merged"] == theirs["merged"] == {"a": 1, "b": 3}
    assert ours["many"] == theirs["many"] == {"c": 1, "d": 4, "e": 5}
    assert ours["alias"] == {"a": 1, "b": 2}
    assert ours["7"] == "seven" and ours["true"] == "yes-key"  # keys are text
    assert ours["folded"] == theirs["folded"] and ours["literal"] == theirs["literal"]
