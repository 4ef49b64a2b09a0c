"""End to end: `tui-monitor run` in a real terminal (tmux) starting a stand-in agent called
`claude` (tests/agents/standin.py behind a #! line, as the real one is a node script): its
environment carries the name and the telemetry wiring, it owns the pane's terminal, typed keys
and signals reach it and its exit status is the shell's; with a real recorder its row carries
the name from the first tick that records the process, and its OTLP requests are let in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from tmux_pane import Tmux

from tests.recorder_proc import query, recording, wait_for
from tests.recorders import free_port

pytestmark = pytest.mark.slow

EXE = str(Path(sys.executable).parent / "tui-monitor")
AGENTS = Path(__file__).parent.parent / "agents"


def stand_in(bin_dir: Path, program: str = "claude") -> Path:
    """An executable named `program` that runs the stand-in agent."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / program
    path.write_text(
        f"#!{sys.executable}\nimport runpy, sys\nsys.path.insert(0, {str(AGENTS)!r})\n"
        f"runpy.run_path({str(AGENTS / 'standin.py')!r}, run_name='__main__')\n"
    )
    path.chmod(0o755)
    return path


def read_env(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        wait_for(f"{path}", lambda: path.exists() and path.read_text())
    )
    return doc


def token_file() -> Path:
    return Path(os.environ["XDG_RUNTIME_DIR"]) / "tui-monitor" / "otlp.token"


def test_the_agent_owns_the_terminal_keys_signals_and_exit_status(
    tmp_path: Path, tmux: Tmux
) -> None:
    bin_dir = tmp_path / "bin"
    claude = stand_in(bin_dir)
    out = tmp_path / "env.json"
    argv = [EXE, "run", "--name", "reviewer", "--", "claude", "--env-out", str(out)]
    pid = tmux.start(argv, {"PATH": f"{bin_dir}:{os.environ['PATH']}"}, (80, 24))
    tmux.wait_text("READY")
    doc = read_env(out)
    # Exec'd, not spawned: the pid the shell started is the agent's, on the pane's own tty.
    assert doc["pid"] == pid
    assert doc["tty"] == tmux.display("#{pane_tty}")
    assert doc["argv"][1:] == ["--env-out", str(out)]  # nothing added (runpy sets argv[0])
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1] == bytes(claude)
    env = doc["env"]
    assert env["TUI_MONITOR_AGENT"] == "reviewer"
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert env["OTEL_LOGS_EXPORTER"] == env["OTEL_METRICS_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"  # the default listen
    token = token_file().read_text().strip()  # made by run: no recorder has run yet
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == f"Authorization=Bearer {token}"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "tui_monitor.agent=reviewer"

    tmux.type("hello, agent")
    tmux.keys("Enter")
    tmux.wait_text("GOT hello, agent")
    os.kill(pid, signal.SIGUSR1)  # to the pid the shell knows as `tui-monitor run`
    tmux.wait_text("SIGNAL USR1")
    tmux.type("exit 7")
    tmux.keys("Enter")
    assert tmux.wait_exit() == 7


def test_a_signal_that_ends_the_agent_is_its_exit_status(tmp_path: Path, tmux: Tmux) -> None:
    stand_in(tmp_path / "bin", "worker")
    env = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    pid = tmux.start([EXE, "run", "--", "worker"], env, (80, 24))
    tmux.wait_text("READY")
    os.kill(pid, signal.SIGTERM)
    tmux.wait_text("SIGNAL TERM")
    assert tmux.wait_exit() == 128 + signal.SIGTERM


def test_with_a_recorder_the_row_is_the_name_from_its_first_tick(
    tmp_path: Path, short_dir: Path, tmux: Tmux
) -> None:
    db, sock, port = tmp_path / "history.db", short_dir / "ingest.sock", free_port()
    Path(os.environ["TUI_MONITOR_CONFIG"]).write_text(
        tomli_w.dumps(
            {
                "interval": 0.2,
                "gpu": {"enabled": False},
                "store": {"flush_interval": 0.2},
                "ingest": {"socket": str(sock)},
                "otlp": {"listen": f"127.0.0.1:{port}"},
            }
        )
    )  # presets on: without its name, the stand-in would be the `claude` preset's row
    bin_dir = tmp_path / "bin"
    stand_in(bin_dir)
    out = tmp_path / "env.json"
    with recording(db, sock):
        argv = [EXE, "run", "--name", "api-fixer", "--", "claude", "--env-out", str(out), "--otlp"]
        pid = tmux.start(argv, {"PATH": f"{bin_dir}:{os.environ['PATH']}"}, (80, 24))
        tmux.wait_text("READY", "OTLP 200")  # the recorder let its telemetry in
        assert read_env(out)["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://127.0.0.1:{port}"
        sql = (
            "SELECT a.name, a.source, a.kind FROM agent_runs r JOIN agents a ON a.id = r.agent "
            "WHERE r.pid = ?"
        )
        # Every row the history ever had for this process: the first tick's included.
        names = wait_for("the agent's row", lambda: query(db, sql, pid))
        assert names == [("api-fixer", "run", "coding")]
        assert not query(db, "SELECT 1 FROM agents WHERE name LIKE 'claude%'")
        done = subprocess.run(
            [EXE, "status", "--json", "--db", str(db)], capture_output=True, text=True, timeout=60
        )
        doc = json.loads(done.stdout)
        assert doc["source"]["from"] == "recorder"
        rows = [a for a in doc["agents"] if a["pid"] == pid]
        assert [(a["name"], a["source"]) for a in rows] == [("api-fixer", "run")]
        tmux.type("exit 0")
        tmux.keys("Enter")
        assert tmux.wait_exit() == 0
