"""Where the history lives: private modes, files of other programs, read-only places — with
the real console script."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from factories import agent, snapshot
from places import read_only
from recorder_proc import query, recording, tui_monitor, wait_for, write_config

from tui_monitor.store.schema import APPLICATION_ID
from tui_monitor.store.writer import Writer


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tui_monitor(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def one_line(out: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refusal (no traceback, nothing on stdout)."""
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_history(directory: Path) -> None:
    """A valid history with one tick, closed cleanly (no -wal left)."""
    writer = Writer(directory / "h.db")
    writer.write_batch([snapshot(1, [agent("a")])])
    writer.close()


# -- item 14: nobody else reads the history ---------------------------------------------


def test_history_files_are_0600_and_new_directories_0700(short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    db = short_dir / "new" / "sub" / "h.db"
    old = os.umask(0o022)  # the usual one: files 0644 and directories 0755 unless we say
    try:
        with recording(db, sock) as rec:
            wait_for("the -wal and -shm", lambda: Path(f"{db}-wal").exists())
            wait_for("the -shm", lambda: Path(f"{db}-shm").exists())
            files = {n: mode(Path(f"{db}{n}")) for n in ("", "-wal", "-shm", ".lock")}
            dirs = {d.name: mode(d) for d in (db.parent.parent, db.parent)}
            assert rec.stop() == 0
    finally:
        os.umask(old)
    assert files == {"": 0o600, "-wal": 0o600, "-shm": 0o600, ".lock": 0o600}
    assert dirs == {"new": 0o700, "sub": 0o700}
    assert f"created {db.parent.parent} (mode 0700)" in rec.stderr
    assert f"created {db.parent} (mode 0700)" in rec.stderr


def test_files_of_an_older_tui_monitor_are_tightened(short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    db = short_dir / "h.db"
    make_history(short_dir)
    db.chmod(0o644)
    Path(f"{db}.lock").touch(0o644)
    with recording(db, sock) as rec:
        wait_for("the -wal", lambda: Path(f"{db}-wal").exists())
        modes = {n: mode(Path(f"{db}{n}")) for n in ("", "-wal", "-shm", ".lock")}
        assert rec.stop() == 0
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600, ".lock": 0o600}


def test_the_default_data_dir_is_created_0700(short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    data = Path(os.environ["XDG_DATA_HOME"]) / "tui-monitor"
    assert not data.exists()
    out = subprocess.Popen(
        [tui_monitor(), "record"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for("the history", lambda: (data / "history.db-wal").exists())
        wait_for("the spool dir", lambda: (data / "spool").exists())
    finally:
        out.terminate()
        out.wait(15)
    assert mode(data) == 0o700
    assert mode(data / "spool") == 0o700
    assert mode(data / "history.db") == 0o600


# -- item 16: a database that is not ours is refused, untouched ---------------------------


def foreign(path: Path, app_id: int = 0, version: int = 0, table: str = "invoices") -> Path:
    conn = sqlite3.connect(path)
    if table:
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute(f"INSERT INTO {table} VALUES (1, 9.5)")
    conn.execute(f"PRAGMA application_id = {app_id}")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(
    ("app_id", "version", "table", "why"),
    [
        (0, 0, "invoices", "it holds tables invoices"),
        (0, 2, "invoices", "it holds tables invoices"),  # a user_version of its own
        (0x12345678, 0, "", "application id 0x12345678"),
    ],
)
def test_a_database_of_another_program_is_refused_untouched(
    tmp_path: Path, app_id: int, version: int, table: str, why: str
) -> None:
    write_config(tmp_path / "ingest.sock")
    db = foreign(tmp_path / "other.db", app_id, version, table)
    before = digest(db)
    for args in (("record", "--db", str(db)), ("db", "prune", "--db", str(db))):
        out = run(*args)
        assert out.returncode == 2, out.stderr
        line = one_line(out)
        assert line == (
            f"tui-monitor: {db}: not a tui-monitor database ({why}); refusing to touch it"
        )
    out = run("db", "info", "--db", str(db))
    assert out.returncode == 2 and "not a tui-monitor database" in one_line(out)
    assert digest(db) == before
    assert not Path(f"{db}-wal").exists() and not list(tmp_path.glob("other.db.corrupt-*"))
    assert not Path(f"{db}.lock").exists()


def test_a_history_of_an_older_tui_monitor_is_ours_and_gets_our_id(short_dir: Path) -> None:
    sock = short_dir / "ingest.sock"
    write_config(sock)
    make_history(short_dir)
    db = short_dir / "h.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA application_id = 0")  # as tui-monitor wrote it before the id
    conn.commit()
    conn.close()
    with recording(db, sock) as rec:
        wait_for("a new tick", lambda: query(db, "SELECT count(*) FROM ticks")[0][0] > 1)
        assert rec.stop() == 0
    assert query(db, "PRAGMA application_id") == [(APPLICATION_ID,)]


# -- item 27: read-only places --------------------------------------------------------------


def test_record_into_a_read_only_place_is_one_line(short_dir: Path) -> None:
    write_config(short_dir / "ingest.sock")
    with read_only(short_dir / "ro") as ro:
        out = run("record", "--db", str(ro / "new.db"))
        assert out.returncode == 1
        line = one_line(out)
        assert line.startswith(f"tui-monitor: cannot write in {ro}: ")
        assert "Read-only file system" in line or "Permission denied" in line
        out = run("record", "--db", str(ro / "sub" / "new.db"))
        assert out.returncode == 1
        assert one_line(out).startswith(f"tui-monitor: cannot create directory {ro / 'sub'}: ")


def test_db_commands_on_a_history_in_a_read_only_place(short_dir: Path) -> None:
    write_config(short_dir / "ingest.sock")
    with read_only(short_dir / "ro", make_history) as ro:
        db = ro / "h.db"
        info = run("db", "info", "--db", str(db))
        assert info.returncode == 0, info.stderr
        assert "not a tui-monitor database" not in info.stderr
        assert "ticks" in info.stdout
        check = run("db", "check", "--db", str(db))
        assert (check.returncode, check.stdout.strip()) == (0, "ok"), check.stderr
        prune = run("db", "prune", "--db", str(db))
        assert prune.returncode == 1
        assert one_line(prune).startswith(f"tui-monitor: cannot write in {ro}: ")


def test_config_init_into_a_read_only_place_is_one_line(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with read_only(short_dir / "ro") as ro:
        for target in (ro / "config.toml", ro / "sub" / "config.toml"):
            monkeypatch.setenv("TUI_MONITOR_CONFIG", str(target))
            out = run("config", "init")
            assert out.returncode == 1
            assert one_line(out).startswith("tui-monitor: error: cannot write ")
