"""The real `tui-monitor record` process: locks, signals, kill -9, corrupt files, viewers."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import SpawnAgent

INTERVAL = 0.2
FLUSH = 0.3
COMMITTED = re.compile(r"committed ticks (\d+)-(\d+) seq (\d+)-(\d+) agent_rows (\d+)")


def tui_monitor() -> str:
    return str(Path(sys.executable).parent / "tui-monitor")


@dataclass
class Recording:
    """A recorder subprocess whose committed batches are collected as they are reported."""

    proc: subprocess.Popen[str]
    started: float
    batches: list[tuple[int, int]] = field(default_factory=list)
    first_commit: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            m = COMMITTED.search(line)
            if m:
                self.batches.append((int(m.group(1)), int(m.group(2))))
                self.first_commit.set()

    def finish(self, timeout: float = 10) -> tuple[int, str]:
        rc = self.proc.wait(timeout)
        if self.reader is not None:
            self.reader.join(timeout)
        assert self.proc.stderr is not None
        return rc, self.proc.stderr.read()


def write_config(tag: str | None = None) -> None:
    text = f"interval = {INTERVAL}\n[store]\nflush_interval = {FLUSH}\n[presets]\nenabled = false\n"
    if tag:
        text += f'[[agents]]\nname = "w"\ncmdline = "{tag}"\n'
    Path(os.environ["TUI_MONITOR_CONFIG"]).write_text(text)


def start(db: Path) -> Recording:
    proc = subprocess.Popen(
        [tui_monitor(), "record", "--db", str(db), "--verbose"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    rec = Recording(proc, time.time())
    rec.reader = threading.Thread(target=rec._read, daemon=True)
    rec.reader.start()
    return rec


def ro(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)


def test_sigterm_flushes_and_exits_within_two_seconds(tmp_path: Path) -> None:
    write_config()
    db = tmp_path / "h.db"
    rec = start(db)
    assert rec.first_commit.wait(15), rec.proc.stderr and rec.proc.stderr.read()
    time.sleep(0.5)
    sent = time.monotonic()
    rec.proc.send_signal(signal.SIGTERM)
    rc, err = rec.finish()
    assert time.monotonic() - sent < 2.0
    assert rc == 0, err
    m = re.search(r"stopped: (\d+) ticks", err)
    assert m, err
    conn = ro(db)
    assert conn.execute("SELECT count(*) FROM ticks").fetchone()[0] == int(m.group(1))
    conn.close()
    assert not Path(f"{db}.lock").read_text().strip()  # the pid is cleared on a clean exit


def test_second_recorder_is_refused_and_stale_lock_recovered(tmp_path: Path) -> None:
    write_config()
    db = tmp_path / "h.db"
    first = start(db)
    assert first.first_commit.wait(15)
    second = subprocess.run(
        [tui_monitor(), "record", "--db", str(db)], capture_output=True, text=True, timeout=30
    )
    assert second.returncode == 1
    assert second.stderr.strip() == f"tui-monitor: already recording to {db} (pid {first.proc.pid})"
    first.proc.kill()
    first.finish()
    # The lock file still names the dead pid; the kernel dropped the flock with the process.
    assert Path(f"{db}.lock").read_text().strip() == str(first.proc.pid)
    third = start(db)
    assert third.first_commit.wait(15)
    third.proc.terminate()
    assert third.finish()[0] == 0


def has_schema(db: Path) -> bool:
    """Whether the recorder got as far as creating the database and its tables."""
    if not db.exists():
        return False
    conn = ro(db)
    try:
        return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'ticks'").fetchone())
    finally:
        conn.close()


def _incomplete(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    """The ticks that are not whole, with what they hold (for the failure message)."""
    return conn.execute(
        "SELECT t.id, t.ts, (SELECT count(*) FROM host_samples h WHERE h.tick = t.id), "
        "(SELECT group_concat(a.agent || ':' || a.status) FROM agent_samples a "
        "WHERE a.tick = t.id) FROM ticks t WHERE "
        "NOT EXISTS (SELECT 1 FROM host_samples h WHERE h.tick = t.id) OR "
        "(SELECT count(*) FROM agent_samples a WHERE a.tick = t.id) != 2"
    ).fetchall()


def test_kill_9_at_random_moments_loses_at_most_one_flush(
    tmp_path: Path, spawn_agent: SpawnAgent
) -> None:
    tag = f"tuimon-kill9-{uuid.uuid4().hex[:8]}"  # not matched by another run's agents
    for _ in range(2):
        spawn_agent("idle", tag=tag)
    write_config(tag)
    db = tmp_path / "h.db"
    seed = int(os.environ.get("TUIMON_KILL9_SEED") or random.randrange(1 << 30))  # to rerun one
    rng = random.Random(seed)
    reported: list[tuple[int, int]] = []
    for round_ in range(20):
        rec = start(db)
        # Some kills land before the first commit, some mid-batch, some mid-write.
        life = rng.uniform(0.3, 2.5)
        time.sleep(life)
        killed_at = time.time()
        rec.proc.kill()
        rec.finish()
        reported += rec.batches
        if not has_schema(db):
            # Killed before it had created the file and its tables: nothing promised, nothing
            # to check (and the next round starts from scratch again).
            assert not rec.batches, (seed, round_)
            continue
        conn = ro(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], (seed, round_)
            ids = [r[0] for r in conn.execute("SELECT id FROM ticks ORDER BY id")]
            # Batches are all-or-nothing: ticks are contiguous and each one is complete.
            assert ids == list(range(1, len(ids) + 1)), (seed, round_)
            incomplete = conn.execute(
                "SELECT count(*) FROM ticks t WHERE "
                "NOT EXISTS (SELECT 1 FROM host_samples h WHERE h.tick = t.id) OR "
                "(SELECT count(*) FROM agent_samples a WHERE a.tick = t.id) != 2"
            ).fetchone()[0]
            assert incomplete == 0, (seed, round_, _incomplete(conn))  # never half a tick
            for first, last in reported:  # everything the recorder said it committed is there
                assert ids and ids[-1] >= last and first >= 1, (seed, round_, first, last)
            if rec.batches:
                newest = conn.execute("SELECT max(ts) FROM ticks").fetchone()[0] / 1000
                # Lost: at most the batch being gathered (one flush interval) plus one tick,
                # with room for a busy CI box to be slow.
                assert killed_at - newest <= FLUSH + INTERVAL + 1.0, (seed, round_)
        finally:
            conn.close()
    assert reported, "no round lived long enough to commit"


def test_corrupt_database_is_moved_aside(tmp_path: Path) -> None:
    write_config()
    db = tmp_path / "h.db"
    db.write_bytes(b"this is not a database" * 100)
    rec = start(db)
    assert rec.first_commit.wait(15)
    rec.proc.terminate()
    rc, err = rec.finish()
    assert rc == 0
    assert f"tui-monitor: {db} is damaged (" in err
    aside = list(tmp_path.glob("h.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    conn = ro(db)
    assert conn.execute("SELECT count(*) FROM ticks").fetchone()[0] > 0
    conn.close()


def test_damaged_pages_are_found_by_quick_check(tmp_path: Path) -> None:
    write_config()
    db = tmp_path / "h.db"
    rec = start(db)
    assert rec.first_commit.wait(15)
    time.sleep(1.0)
    rec.proc.terminate()
    assert rec.finish()[0] == 0
    size = db.stat().st_size
    assert size > 8 * 4096
    with db.open("r+b") as f:  # scribble over the b-tree header of every page but the first
        for page in range(1, size // 4096):
            f.seek(page * 4096)
            f.write(os.urandom(64))
    rec = start(db)
    assert rec.first_commit.wait(15)
    rec.proc.terminate()
    rc, err = rec.finish()
    assert rc == 0 and "is damaged" in err
    assert len(list(tmp_path.glob("h.db.corrupt-*"))) >= 1


def test_database_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    write_config()
    db = tmp_path / "h.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE future (x)")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    out = subprocess.run(
        [tui_monitor(), "record", "--db", str(db)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2
    assert "newer tui-monitor (schema 99" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert db.read_bytes() == before


VIEWER = textwrap.dedent(
    """
    import sqlite3, sys, time
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from tui_monitor.store.queries import History
    h = History(Path(sys.argv[1]))
    end = time.monotonic() + float(sys.argv[2])
    reads = locked = other = 0
    while time.monotonic() < end:
        try:
            snap = h.latest()
            now = datetime.now(UTC)
            h.series("host", "", "cpu", now - timedelta(minutes=5), now, 100)
            h.events(limit=20)
            reads += 1
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                locked += 1
            else:
                other += 1
                print(exc, file=sys.stderr)
        time.sleep(0.01)
    print(reads, locked, other)
    """
)


@pytest.mark.slow
def test_two_viewers_never_see_database_is_locked(tmp_path: Path) -> None:
    write_config()
    db = tmp_path / "h.db"
    rec = start(db)
    assert rec.first_commit.wait(15)
    viewers = [
        subprocess.Popen(
            [sys.executable, "-c", VIEWER, str(db), "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [v.communicate(timeout=90) for v in viewers]
    rec.proc.terminate()
    assert rec.finish()[0] == 0
    for out, err in results:
        reads, locked, other = map(int, out.split())
        assert locked == 0 and other == 0, err
        assert reads > 100
    assert len(rec.batches) > 50  # the recorder kept committing all along


def test_db_commands(tmp_path: Path) -> None:
    write_config()
    db = tmp_path / "h.db"
    rec = start(db)
    assert rec.first_commit.wait(15)
    info = subprocess.run(
        [tui_monitor(), "db", "info", "--db", str(db)], capture_output=True, text=True, timeout=30
    )
    assert info.returncode == 0, info.stderr
    assert f"running (pid {rec.proc.pid})" in info.stdout
    assert re.search(r"ticks\s+\d+", info.stdout)
    busy = subprocess.run(
        [tui_monitor(), "db", "prune", "--db", str(db)], capture_output=True, text=True, timeout=30
    )
    assert busy.returncode == 1 and f"a recorder (pid {rec.proc.pid}) is writing" in busy.stderr
    rec.proc.terminate()
    assert rec.finish()[0] == 0
    for args, expect in ((["db", "check"], "ok"), (["db", "prune"], "ticks: 0 rows removed")):
        out = subprocess.run(
            [tui_monitor(), *args, "--db", str(db)], capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 0, out.stderr
        assert expect in out.stdout
    info = subprocess.run(
        [tui_monitor(), "db", "info", "--db", str(db)], capture_output=True, text=True, timeout=30
    )
    assert "recorder  none" in info.stdout
    missing = subprocess.run(
        [tui_monitor(), "db", "info", "--db", str(tmp_path / "nope.db")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"tui-monitor: {tmp_path / 'nope.db'}: no such database"
