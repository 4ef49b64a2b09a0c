"""What the command line writes, and how it ends, when its output goes to a pipe or a file
(issue 13, item 29): the real console script in subprocesses with real pipes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import event, history, snapshot
from test_cli import run, tui_monitor, write_config
from test_export_cli import check_one_line

from tui_monitor.cli.commands import main
from tui_monitor.store.queries import History
from tui_monitor.store.writer import Writer
from tui_monitor.ui.app import MonitorApp

if TYPE_CHECKING:
    from conftest import SpawnAgent

MANY = 5000
"""Events of ~250 bytes: over a megabyte, far more than a pipe holds, so the writer meets
the closed pipe."""


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "history.db"
    store = Writer(path)
    try:
        store.write_batch(history())
        notes = [event("planner", "note", "x" * 200, ts=20) for _ in range(MANY)]
        store.write_batch([snapshot(20, (), notes)])
    finally:
        store.close()
    return path


def _read_a_line_and_leave(args: list[str]) -> tuple[int, bytes, bytes]:
    """Run the console script, read one line of its stdout and close the pipe, as `| head -1`
    does; return its exit code, that line, and all it wrote on stderr."""
    proc = subprocess.Popen(
        [*tui_monitor(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    return proc.wait(timeout=60), first, err


def test_a_reader_that_leaves_early_ends_the_export_quietly(big_db: Path) -> None:
    """`tui-monitor export events -o - | head -1` exited 1 in silence: click's own handler
    turned the closed pipe into exit 1 before ours could see it."""
    code, first, err = _read_a_line_and_leave(
        ["export", "events", "--db", str(big_db), "--since", "1000d", "-o", "-"]
    )
    assert first  # it did write
    assert (code, err) == (0, b"")


def test_head_in_a_shell_pipeline(big_db: Path) -> None:
    cmd = f"{tui_monitor()[0]} export events --db {big_db} --since 1000d -o - | head -1"
    done = subprocess.run(
        ["bash", "-c", f"{cmd}; echo rc=${{PIPESTATUS[0]}} >&2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(done.stdout)["id"] == 1
    assert done.stderr == "rc=0\n"


def test_a_pipe_that_breaks_elsewhere_is_still_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], big_db: Path
) -> None:
    """Only a closed stdout is quiet: a BrokenPipeError from anything else (a socket, a
    child's pipe) is reported as the failure it is."""

    def broken(*_: object, **__: object) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("tui_monitor.cli.report.print_db_info", broken)
    code = main(["db", "info", "--db", str(big_db)])
    err = capsys.readouterr().err
    assert code == 70
    assert err.startswith("tui-monitor: internal error: BrokenPipeError")


# -- formats and names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["events", "-o", "out.json"], "out.json: events are written as ndjson or csv, not json"),
        (["events", "-o", "out.CSV", "--format", "ndjson"], "a .csv file cannot hold ndjson"),
        (["metrics", "-o", "m.ndjson"], "metrics are written as csv or json, not ndjson"),
        (["metrics", "-o", "m.json", "--format", "csv"], "a .json file cannot hold csv"),
        (["snapshot", "-o", "s.csv"], "snapshots are written as json, not csv (name it .json)"),
    ],
)
def test_a_suffix_that_names_another_format_is_refused(
    args: list[str], expected: str, big_db: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [*tui_monitor(), "export", *args, "--db", str(big_db)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    check_one_line(done.returncode, done.stderr, expected)
    assert done.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xdg"]  # nothing written


@pytest.mark.parametrize(
    ("name", "first"),
    [("e.jsonl", "{"), ("e.ndjson", "{"), ("e.csv", "id,ts,agent"), ("e.log", "{")],
)
def test_the_suffix_picks_the_events_format(
    name: str, first: str, big_db: Path, tmp_path: Path
) -> None:
    target = tmp_path / name
    done = run("export", "events", "--db", str(big_db), "--since", "1000d", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert target.read_text().startswith(first)


def test_events_of_an_agent_that_never_was_say_so(big_db: Path, tmp_path: Path) -> None:
    """It printed "wrote 0 events", exit 0; `export metrics` already said so."""
    done = run("export", "events", "--db", str(big_db), "--since", "1000d", "--agent", "nosuch",
               "-o", str(tmp_path / "e.ndjson"))  # fmt: skip
    check_one_line(done.returncode, done.stderr, "no agent named 'nosuch' in the history")
    assert done.returncode == 1 and not (tmp_path / "e.ndjson").exists()
    # an agent that is there, with nothing in the range, is an empty export, not an error
    empty = run("export", "events", "--db", str(big_db), "--since", "2020-01-01",
                "--until", "2020-01-02", "--agent", "planner", "-o", "-")  # fmt: skip
    assert (empty.returncode, empty.stdout) == (0, "")
    assert empty.stderr == "wrote 0 events to stdout\n"


# -- plain reports ----------------------------------------------------------------------


def test_agents_into_a_pipe_cuts_nothing_and_pads_nothing() -> None:
    rule = "python .* -m some_long_module_name --with-a-long-flag --and-another-one"
    write_config(f'[[agents]]\nname = "long"\ncmdline = "{rule}"\n')
    out = run("agents")
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout
    row = next(line for line in out.stdout.splitlines() if line.startswith("long "))
    assert f"cmdline={rule}" in row
    assert "program=claude script~@anthropic-ai/claude-code/" in out.stdout
    assert [line for line in out.stdout.splitlines() if line != line.rstrip()] == []


def test_status_lines_have_no_trailing_spaces(spawn_agent: SpawnAgent) -> None:
    idle = spawn_agent("idle")
    write_config(f'interval = 0.2\n[[agents]]\nname = "sleepy"\ncmdline = "{idle.tag}"\n')
    out = run("status")
    assert out.returncode == 0, out.stderr
    assert any(line.startswith("sleepy") for line in out.stdout.splitlines())
    assert [line for line in out.stdout.splitlines() if line != line.rstrip()] == []


# -- --interval -------------------------------------------------------------------------


def test_record_interval(tmp_path: Path) -> None:
    write_config("interval = 5\n[presets]\nenabled = false\n[store]\nflush_interval = 0.1\n")
    db = tmp_path / "h.db"
    proc = subprocess.Popen(
        [*tui_monitor(), "record", "--db", str(db), "--interval", "0.25", "--verbose"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert re.search(r"every 0\.25s", proc.stderr.readline())
        for line in proc.stdout:  # the second committed tick: it ticks at 0.25 s, not 5 s
            if re.search(r"committed ticks \d+-([2-9]|\d\d)", line):
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    latest = History(db).latest()
    assert latest is not None and latest.interval == 0.25


@pytest.mark.parametrize("value", ["0", "0.1", "61", "inf", "nan", "-1", "soon"])
@pytest.mark.parametrize("where", ["record", "dashboard"])
def test_interval_out_of_bounds_is_a_usage_error(value: str, where: str, tmp_path: Path) -> None:
    args = ["record", "--interval", value] if where == "record" else ["--interval", value]
    done = run(*args, "--db", str(tmp_path / "h.db"))
    check_one_line(done.returncode, done.stderr, "Invalid value for '--interval'")
    assert done.returncode == 2
    if value != "soon":
        assert "is not between 0.2 and 60 seconds" in done.stderr
    assert not (tmp_path / "h.db").exists()


def test_dashboard_interval_reaches_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`tui-monitor --interval 2.5` builds the dashboard with that interval (the app's run is
    the one thing replaced: no terminal here)."""
    write_config("interval = 1\n")
    seen: list[float] = []
    monkeypatch.setattr(
        MonitorApp, "run", lambda self, *a, **k: seen.append(self.settings.interval)
    )
    monkeypatch.setenv("TUI_MONITOR_INTERVAL", "3")  # the flag wins over the environment too
    assert main(["--interval", "2.5", "--db", str(tmp_path / "h.db")]) == 0
    assert main(["--db", str(tmp_path / "h.db")]) == 0
    assert seen == [2.5, 3.0]


def test_help_states_the_interval_bounds() -> None:
    for args in (["--help"], ["record", "--help"]):
        out = run(*args)
        assert re.search(r"--interval SECONDS.*\(0\.2-60;", " ".join(out.stdout.split()))
