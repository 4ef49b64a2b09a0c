"""`tui-monitor export`: the real console script (and `main` in-process for the many ways
input can be wrong), against history files written by the real writer."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from factories import agent, at, history, snapshot

from tui_monitor.cli import export as cli_export
from tui_monitor.cli.commands import main
from tui_monitor.export import read_snapshot
from tui_monitor.store.queries import History
from tui_monitor.store.writer import Writer

HOSTILE = ["../../escaped", "/abs/evil", "..", "a/../../b", "\x1b[2J-rf", "x" * 5000]


def tui_monitor() -> list[str]:
    exe = Path(sys.executable).parent / "tui-monitor"
    return [str(exe)] if exe.exists() else [shutil.which("tui-monitor") or "tui-monitor"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*tui_monitor(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    store = Writer(path)
    try:
        store.write_batch(history())
        hostile = [agent(name, cpu=5.0, pid=6000 + i) for i, name in enumerate(HOSTILE)]
        store.write_batch([snapshot(11, hostile)])
    finally:
        store.close()
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# -- the real console script -----------------------------------------------------------


def test_snapshot_file_rereads_as_the_stored_tick(db: Path, out: Path) -> None:
    done = run("export", "snapshot", "--db", str(db), "--at", "2025-01-15T12:00:04.5Z",
               "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    (path,) = out.iterdir()
    assert path.name == "tui-monitor-snapshot-20250115T120004Z.json"
    assert done.stdout == (f"wrote the snapshot of 2025-01-15T12:00:04.000Z (8 agents) to {path}\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    snap = read_snapshot(path)
    assert snap.cost is not None and snap.cost.today == 0.0  # the money shown then: none
    assert snap.model_copy(update={"cost": None}) == History(db).at(at(4.5))
    assert path.read_bytes().isascii()


def test_snapshot_before_the_history_is_its_oldest_tick_and_says_so(db: Path, out: Path) -> None:
    """As the dashboard's `g` does (issue 13 item 24): the oldest tick, and a line saying so,
    in the same words."""
    done = run("export", "snapshot", "--db", str(db), "--at", "@1577836800", "-o", str(out))
    assert done.returncode == 0, done.stderr
    (path,) = out.iterdir()
    assert read_snapshot(path).seq == 1  # the oldest tick
    assert done.stderr == (
        "tui-monitor: nothing recorded at 2020-01-01 00:00:00Z: exported the oldest tick, "
        "2025-01-15 12:00:01Z (1841d12h later)\n"
    )
    assert done.stdout.startswith("wrote the snapshot of 2025-01-15T12:00:01.000Z")
    near = run("export", "snapshot", "--db", str(db), "--at", "2025-01-15T12:00:04.5Z", "-o", "-")
    assert near.returncode == 0 and "nothing recorded" not in near.stderr


def test_metrics_csv_and_events_to_stdout(db: Path, out: Path) -> None:
    target = out / "m.csv"
    done = run("export", "metrics", "--db", str(db), "--since", "2025-01-15T11:00Z",
               "--until", "2025-01-15T12:00:05Z", "-o", str(target))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote 45 rows to {target}\n"  # 5 ticks x (host + 8 agents)
    rows = list(csv.DictReader(target.open(newline="")))
    assert len(rows) == 45 and rows[0]["scope"] == "host" and rows[0]["cpu_percent"] == "18.0"
    events = run("export", "events", "--db", str(db), "--since", "2025-01-15T11:00Z", "-o", "-")
    assert events.returncode == 0, events.stderr
    lines = [json.loads(line) for line in events.stdout.splitlines()]
    stored = History(db).events(start=at(-3600), end=at(3600))
    assert [e["id"] for e in lines] == [i for i, _ in reversed(stored)]
    assert events.stderr == f"wrote {len(lines)} events to stdout\n"


def test_format_follows_the_file_suffix(db: Path, out: Path) -> None:
    assert main(["export", "metrics", "--db", str(db), "--since", "2025-01-15T12:00:10Z",
                 "--until", "2025-01-15T12:00:10Z", "-o", str(out / "m.json")]) == 0  # fmt: skip
    doc = json.loads((out / "m.json").read_text())
    assert doc["format"] == "tui-monitor.metrics" and len(doc["rows"]) == 9
    assert main(["export", "events", "--db", str(db), "--since", "2025-01-15T11:00Z",
                 "--format", "csv", "--agent", "vllm", "-o", str(out)]) == 0  # fmt: skip
    (events,) = out.glob("tui-monitor-events-vllm-*.csv")
    assert [r["message"] for r in csv.DictReader(events.open(newline=""))] == [
        "kv cache 71% used",
        "queue depth 37 above 32",
    ]


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_agent_names_cannot_move_the_file(
    name: str, db: Path, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(out)
    before = tree(tmp_path)
    for output in ([], ["-o", str(out)], ["-o", f"{out}/"]):
        span = ["--since", "2025-01-15T11:00Z", "--until", "2025-01-15T13:00Z"]
        code = main(
            ["export", "metrics", "--db", str(db), *span, "--agent", name, "--force", *output]
        )
        assert code == 0
    (made,) = {p for p in tree(tmp_path) - before if not p.startswith("history.db")}
    path = tmp_path / made
    assert path.parent == out
    assert re.fullmatch(r"tui-monitor-metrics-[\w-]{1,40}-20250115T130000Z\.csv", path.name)
    assert [r["agent"] for r in csv.DictReader(path.open(newline=""))] == [name]


# -- bad input: one line, non-zero, no traceback, nothing written ------------------------


def check_one_line(code: int, err: str, expected: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("Usage:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("tui-monitor: ") and expected in lines[0], err


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["metrics", "--since", "yesterdayish"], 2, "Invalid value for --since: bad time"),
        (["events", "--until", "25:61"], 2, "Invalid value for --until: bad time '25:61'"),
        (["snapshot", "--at", "\x1b[31m"], 2, "bad time '\\x1b[31m'"),
        (["metrics", "--since", "1h", "--until", "2h"], 2, "is after --until"),
        (["metrics", "--format", "xml"], 2, "'xml' is not one of 'csv', 'json'"),
        (["events", "--format", "json"], 2, "'json' is not one of 'ndjson', 'csv'"),
        (["events", "--level", "loud"], 2, "'loud' is not one of"),
        (["metrics", "--agent", "nobody", "--since", "1000d"], 1, "no agent named 'nobody'"),
    ],
)
def test_bad_input(
    args: list[str],
    code: int,
    expected: str,
    db: Path,
    out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    got = main(["export", *args, "--db", str(db), "-o", str(out)])
    err = capsys.readouterr().err
    check_one_line(got, err, expected)
    assert got == code
    assert list(out.iterdir()) == []


def test_an_existing_file_is_kept(db: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = out / "m.csv"
    mine.write_text("mine")
    got = main(["export", "metrics", "--db", str(db), "-o", str(mine)])
    check_one_line(got, capsys.readouterr().err, f"{mine} already exists (use --force)")
    assert got == 1 and mine.read_text() == "mine" and os.listdir(out) == ["m.csv"]
    assert main(["export", "metrics", "--db", str(db), "-o", str(mine), "--force"]) == 0
    assert mine.read_text().startswith("ts,tick,scope")


def test_unwritable_directories(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    for target, why in [
        (tmp_path / "missing" / "m.csv", "No such file or directory"),
        (tmp_path / "file" / "m.csv", "Not a directory"),
    ]:
        got = main(["export", "metrics", "--db", str(db), "-o", str(target)])
        check_one_line(got, capsys.readouterr().err, f"cannot write {target}: {why}")
    if os.geteuid() == 0:
        locked = Path("/proc/tui-monitor-export-test.json")  # even root cannot write there
    else:
        (tmp_path / "locked").mkdir(mode=0o500)
        locked = tmp_path / "locked" / "m.json"
    got = main(["export", "snapshot", "--db", str(db), "-o", str(locked)])
    check_one_line(got, capsys.readouterr().err, f"cannot write {locked}: ")
    assert not locked.exists()


def test_missing_and_damaged_databases(tmp_path: Path, out: Path) -> None:
    missing = tmp_path / "nope.db"
    for kind in ("snapshot", "metrics", "events"):
        done = run("export", kind, "--db", str(missing), "-o", str(out))
        check_one_line(done.returncode, done.stderr, (
            f"tui-monitor: error: no history at {missing} (run tui-monitor record, or the "
            "dashboard, first)"
        ))  # fmt: skip
        assert done.returncode == 1
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    done = run("export", "metrics", "--db", str(junk), "-o", str(out))
    check_one_line(done.returncode, done.stderr, "not a tui-monitor database")
    assert list(out.iterdir()) == [] and not missing.exists()


# -- kill -9 mid-export -------------------------------------------------------------------

SLOW_WRITER = """
import sys, time
from pathlib import Path
from tui_monitor.export.outfile import write_atomic

def chunks():
    for _ in range(40):
        yield b"x" * 65536  # more than the write buffer: on disk, not in memory
    Path(sys.argv[2]).write_text("writing")
    while True:
        time.sleep(0.01)
        yield b"y" * 100

write_atomic(Path(sys.argv[1]), chunks())
"""


def test_kill_9_mid_export_leaves_no_file(out: Path, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(out / "big.csv"), str(flag)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not flag.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the writer never started"
            time.sleep(0.01)
        # the export is under way: an open, unnamed file in the directory holds its bytes
        fds = Path(f"/proc/{proc.pid}/fd")
        open_files = [os.readlink(fd) for fd in fds.iterdir()]
        pending = [f for f in open_files if f.startswith(f"{out}/")]
        assert len(pending) == 1 and pending[0].endswith("(deleted)"), open_files
        assert os.listdir(out) == []
        sizes = [os.stat(fd).st_size for fd in fds.iterdir() if os.readlink(fd) in pending]
        assert sizes[0] >= 32 * 65536  # all but what the write buffer still holds
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    assert os.listdir(out) == []


# -- progress --------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_for_long_exports_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    short = cli_export._Progress("exporting metrics")
    short(0, 100)
    short(100, 100)
    short.close()
    assert tty.getvalue() == ""
    long = cli_export._Progress("exporting metrics")
    for done in range(0, 30_001, 5000):
        long(done, 30_000)
    long.close()
    assert "exporting metrics" in tty.getvalue() and "100%" in tty.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: never a bar
    quiet = cli_export._Progress("exporting metrics")
    quiet(0, 1_000_000)
    assert quiet.bar is None
