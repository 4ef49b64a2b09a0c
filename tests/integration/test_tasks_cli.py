"""`tui-monitor tasks`: the real console script over real task directories."""

from __future__ import annotations

import json
import os
from pathlib import Path

import tomli_w
from test_cli import run


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def config(boards: list[dict[str, object]]) -> None:
    Path(os.environ["TUI_MONITOR_CONFIG"]).write_text(tomli_w.dumps({"tasks": boards}))


def test_json_lists_every_task_with_its_column_and_problems(tmp_path: Path) -> None:
    root = tmp_path / "work"
    write(root / "inbox/T-1.yaml", "id: T-1\ntitle: parse\npriority: HIGH\nstatus: todo\n")
    write(root / "assigned/w1/T-2.yml", "title: build\n")
    write(root / "done/w1/T-3.yaml", "title: ship\nstatus: COMPLETE\n")
    write(root / "archive/2025-06/T-0.yaml", "title: old\nagent: w9\n")
    write(root / "inbox/bad.yaml", "title: [oops\n")
    config([{"name": "work", "root": str(root), "archive": "archive"}])
    out = run("tasks", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert rows["T-1"] == {
        "board": "work", "id": "T-1", "column": "inbox", "agent": None, "priority": "HIGH",
        "status": "todo", "title": "parse", "path": str(root / "inbox/T-1.yaml"),
    }  # fmt: skip
    assert (rows["T-2"]["column"], rows["T-2"]["agent"]) == ("assigned", "w1")
    assert (rows["T-3"]["column"], rows["T-3"]["status"]) == ("done", "COMPLETE")
    assert (rows["T-0"]["column"], rows["T-0"]["agent"]) == ("archive", "w9")
    assert rows["bad"]["problem"].startswith("invalid YAML")
    assert "problem" not in rows["T-1"]


def test_the_table_and_one_board(tmp_path: Path) -> None:
    write(tmp_path / "a/inbox/T-1.yaml", 'title: "\\e[2Jcleared? [red]no[/red]"\n')
    write(tmp_path / "b/inbox/T-9.yaml", "title: other board\n")
    config([{"name": "a", "root": str(tmp_path / "a")}, {"name": "b", "root": str(tmp_path / "b")}])
    out = run("tasks", "--board", "a")
    assert out.returncode == 0, out.stderr
    assert "T-1" in out.stdout and "T-9" not in out.stdout
    assert "\x1b" not in out.stdout and "\\x1b[2Jcleared? [red]no[/red]" in out.stdout
    both = run("tasks")
    assert "T-9" in both.stdout and "BOARD" in both.stdout


def test_into_a_pipe_nothing_is_folded_or_padded(tmp_path: Path) -> None:
    """As `agents` and `status`: a script reading the table gets each task on one line."""
    title = "a title long enough to be folded at eighty columns " * 3
    write(tmp_path / "a/inbox/T-1.yaml", f"title: {title.strip()}\n")
    config([{"name": "a", "root": str(tmp_path / "a")}])
    out = run("tasks")  # stdout is a pipe here
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and lines[1].endswith(title.strip())
    assert all(line == line.rstrip() for line in lines)


def test_bad_usage_and_missing_boards_are_one_line_and_an_exit_code(tmp_path: Path) -> None:
    none = run("tasks")
    assert none.returncode == 1
    assert none.stderr.startswith("tui-monitor: no task boards configured: add a [[tasks]]")
    config([{"name": "a", "root": str(tmp_path / "missing")}])
    unknown = run("tasks", "--board", "zzz")
    assert unknown.returncode == 2 and "no board named 'zzz' (boards: a)" in unknown.stderr
    missing = run("tasks", "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout) == []
    assert missing.stderr.strip().splitlines() == [
        f"tui-monitor: task board a: root {tmp_path / 'missing'} is not a directory "
        "(it does not exist)"
    ]
    Path(os.environ["TUI_MONITOR_CONFIG"]).write_text(
        '[[tasks]]\nname = "a"\nroot = "/x"\ninbox = "../up"\n'
    )
    bad = run("tasks")
    assert bad.returncode == 2
    assert "tasks[0].inbox: must be a folder name relative to root" in bad.stderr
    assert "Traceback" not in bad.stderr
