"""`tui-monitor stream` against a real recorder: the handshake, a line per tick, a polite
refusal, and a quiet exit whichever way the viewer goes."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from recorders import run, start_recorder, tui_monitor, write_config

from tui_monitor.fleet import protocol


@pytest.fixture
def recorder_db(tmp_path: Path, short_dir: Path) -> Path:
    write_config(
        tmp_path / "config.toml", short_dir / "ingest.sock", extra="[otlp]\nenabled = false\n"
    )
    db = tmp_path / "history.db"
    start_recorder(db, short_dir / "ingest.sock", tmp_path / "recorder.log")
    return db


def _stream(db: Path, stdin: int | None = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [tui_monitor(), "stream", "--db", str(db)],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_no_history_is_refused_politely(tmp_path: Path) -> None:
    result = run("stream", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 2
    line = protocol.decode(result.stdout.encode())
    assert isinstance(line, protocol.ErrorLine) and line.reason.startswith("no history at")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_file_that_is_not_a_history_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.db").write_text("not a database")
    result = run("stream", "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "cannot be read" in result.stdout


def test_handshake_then_snapshots_then_stdin_eof_ends_it(recorder_db: Path) -> None:
    proc = _stream(recorder_db)
    assert proc.stdout is not None and proc.stdin is not None
    hello = protocol.decode(proc.stdout.readline())
    assert isinstance(hello, protocol.Handshake) and hello.interval == 0.2
    seqs = []
    for _ in range(3):
        line = protocol.decode(proc.stdout.readline())
        assert isinstance(line, protocol.SnapshotLine)
        seqs.append(line.snapshot.seq)
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    proc.stdin.close()
    assert proc.wait(15) == 0
    assert proc.stderr is not None and proc.stderr.read() == b""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_ends_it_quietly(recorder_db: Path, sig: int) -> None:
    proc = _stream(recorder_db)
    assert proc.stdout is not None
    json.loads(proc.stdout.readline())
    proc.send_signal(sig)
    assert proc.wait(15) == 0
    assert proc.stderr is not None and proc.stderr.read() == b""
    assert proc.stdin is not None
    proc.stdin.close()


def test_stdout_closing_ends_it_quietly(recorder_db: Path) -> None:
    proc = _stream(recorder_db)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # the viewer went; its next line meets a closed pipe
    assert proc.wait(15) == 0
    assert proc.stderr is not None and proc.stderr.read() == b""
    assert proc.stdin is not None
    proc.stdin.close()
