"""`tui-monitor emit` for real: the console script talking to a `tui-monitor record` process.

One recorder serves the whole module (starting one costs about a second); every test uses its
own agent name, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

from tui_monitor.models import AgentSample
from tui_monitor.store.queries import ErrorRow, History

if TYPE_CHECKING:
    from conftest import SpawnAgent

T = TypeVar("T")
DEADLINE = 15.0
RULED = f"emit-ruled-{uuid.uuid4().hex[:12]}"
"""The tag of the one process the recorder's config rule `ruled` (kind `coding`) finds."""
HOSTILE = "[red]x[/] [@click=app.quit]q[/] \x1b[2J\x1b]0;pwned\x07 \u202eevil\t\\x1b end"


@dataclass
class Running:
    """A `tui-monitor record` subprocess and the files it works with."""

    proc: subprocess.Popen[bytes]
    db: Path
    sock: Path
    config: Path
    env: dict[str, str]
    stderr: Path
    short_dir: Path

    def stderr_text(self) -> str:
        return self.stderr.read_text("utf-8", "replace")


def tui_monitor() -> list[str]:
    exe = Path(sys.executable).parent / "tui-monitor"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "tui_monitor.cli"]


def _clean_env(root: Path, config: Path) -> dict[str, str]:
    """The user's own TUI_MONITOR_* and XDG dirs must not reach the subprocesses."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_MONITOR_")}
    env["TUI_MONITOR_CONFIG"] = str(config)
    for var, sub in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_RUNTIME_DIR", "runtime"),
    ]:
        path = root / sub
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        env[var] = str(path)
    return env


def _wait_for_socket(rec: Running) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(rec.sock).st_mode):
                return
        if rec.proc.poll() is not None:
            pytest.fail(f"recorder exited {rec.proc.returncode}:\n{rec.stderr_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"recorder never listened on {rec.sock}:\n{rec.stderr_text()}")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the recorder flushes and exits), then SIGKILL to the whole group if needed."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("emit")
    short_dir = Path(tempfile.mkdtemp(prefix="tm-", dir="/tmp"))
    sock = short_dir / "run" / "ingest.sock"
    config = root / "config.toml"
    config.write_text(
        "interval = 0.2\n"
        "[presets]\nenabled = false\n"
        "[gpu]\nenabled = false\n"
        "[store]\nflush_interval = 0.1\n"
        f"[ingest]\nsocket = {json.dumps(str(sock))}\n"
        f'[[agents]]\nname = "ruled"\nkind = "coding"\ncmdline = "--tag {RULED}"\n'
    )
    env = _clean_env(root, config)
    db = root / "history.db"
    stderr = root / "recorder.stderr"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [*tui_monitor(), "record", "--db", str(db)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    rec = Running(proc, db, sock, config, env, stderr, short_dir)
    try:
        _wait_for_socket(rec)
        yield rec
    finally:
        _stop(proc)
        socket_left = os.path.lexists(sock)
        shutil.rmtree(short_dir, ignore_errors=True)
    assert proc.returncode == 0, rec.stderr_text()
    assert "Traceback" not in rec.stderr_text()
    assert not socket_left  # the recorder removes its socket on the way out


def emit(
    rec: Running, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*tui_monitor(), "emit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or rec.env,
        stdin=subprocess.DEVNULL,
    )


def ok(out: subprocess.CompletedProcess[str]) -> None:
    assert (out.returncode, out.stdout, out.stderr) == (0, "", ""), out.stderr


def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    """The last stderr line, after checking it is the CLI's one-line error and no traceback."""
    assert "Traceback" not in out.stderr
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert lines and lines[-1].startswith("tui-monitor: error: "), out.stderr
    return lines[-1].removeprefix("tui-monitor: error: ")


def poll(what: str, fetch: Callable[[], T | None]) -> T:
    """What `fetch` returns once it is truthy; fail after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = fetch()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} never reached the database")
        time.sleep(0.05)


def name() -> str:
    return f"agent-{uuid.uuid4().hex[:8]}"


def messages(rec: Running, agent: str) -> list[str]:
    return [e.message for _, e in History(rec.db).events(agent=agent)]


def usage_rows(rec: Running, agent: str) -> list[tuple[str, int, float | None, str | None]]:
    conn = sqlite3.connect(f"file:{rec.db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT model, input_tokens, cost_usd, request_id FROM usage WHERE agent = ?",
            (agent,),
        ).fetchall()
    finally:
        conn.close()
    return [(str(m), int(i), c, r) for m, i, c, r in rows]


def test_an_event_lands_in_the_database(recorder: Running) -> None:
    agent = name()
    ok(emit(recorder, "--agent", agent, "hello"))  # the socket comes from the config file
    [(_, event)] = poll("the event", lambda: History(recorder.db).events(agent=agent))
    assert (event.message, event.level, event.kind, event.data) == ("hello", "info", "message", {})


def test_event_options_and_data(recorder: Running) -> None:
    agent = name()
    data = {"ticket": 42, "tags": ["a", "b"], "nested": {"ok": True}}
    ok(
        emit(
            recorder,
            "--socket", str(recorder.sock),
            "--agent", agent,
            "--level", "warning",
            "--kind", "step",
            "--data", json.dumps(data),
            "picked up ticket 42",
        )
    )  # fmt: skip
    [(_, event)] = poll("the event", lambda: History(recorder.db).events(agent=agent))
    assert (event.message, event.level, event.kind, event.data) == (
        "picked up ticket 42",
        "warning",
        "step",
        data,
    )


def test_an_error_lands_in_the_errors_table(recorder: Running) -> None:
    agent = name()
    stack = 'Traceback (most recent call last):\n  File "x.py", line 1\nTimeout: no reply\n'
    ok(
        emit(
            recorder,
            "--agent", agent,
            "--type", "error",
            "--error-type", "Timeout",
            "--stack", stack,
            "no reply",
        )
    )  # fmt: skip

    def errors() -> list[ErrorRow]:
        return History(recorder.db).unresolved_errors(agent)

    [err] = poll("the error", errors)
    assert (err.agent, err.error_type, err.message, err.stack) == (
        agent,
        "Timeout",
        "no reply",
        stack,
    )
    assert "Timeout: no reply" in messages(recorder, agent)  # and in the event log
    assert History(recorder.db).unresolved_counts()[agent] == 1


def test_an_error_stack_is_in_both_exports(recorder: Running) -> None:
    """Issue 13 item 20: the stack is in `export events` (the error event's data) and in
    `export snapshot` (the errors open at that tick)."""
    agent = name()
    stack = 'Traceback (most recent call last):\n  File "y.py", line 2\nValueError: bad\n'
    ok(emit(recorder, "--agent", agent, "--type", "error", "--error-type", "ValueError",
            "--stack", stack, "bad input"))  # fmt: skip
    poll("the error", lambda: History(recorder.db).unresolved_errors(agent))

    def export(*args: str) -> str:
        done = subprocess.run(
            [*tui_monitor(), "export", *args, "--db", str(recorder.db), "-o", "-"],
            capture_output=True, text=True, timeout=60, env=recorder.env,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    [event] = [json.loads(line) for line in export("events", "--agent", agent).splitlines()]
    assert (event["kind"], event["message"]) == ("error", "ValueError: bad input")
    assert event["data"] == {"error_type": "ValueError", "stack": stack}
    doc = json.loads(export("snapshot"))
    [error] = [e for e in doc["errors"] if e["agent"] == agent]
    assert (error["error_type"], error["message"], error["stack"]) == (
        "ValueError",
        "bad input",
        stack,
    )


def test_a_heartbeat_shows_in_the_next_tick(recorder: Running) -> None:
    agent = name()
    ok(
        emit(
            recorder,
            "--agent", agent,
            "--type", "heartbeat",
            "--status", "busy",
            "--queue-depth", "3",
            "--task", "ticket 42",
        )
    )  # fmt: skip

    def sample() -> AgentSample | None:
        snap = History(recorder.db).latest()
        found = [a for a in snap.agents if a.name == agent] if snap else []
        return found[0] if found else None

    found = poll("the agent's tick", sample)
    assert (found.source, found.queue_depth, found.status) == ("ingest", 3, "running")


def latest_sample(
    rec: Running, agent: str, where: Callable[[AgentSample], bool] = lambda a: True
) -> AgentSample | None:
    """The agent in the newest stored tick, if it is there and `where` holds for it."""
    snap = History(rec.db).latest()
    found = [a for a in snap.agents if a.name == agent] if snap else []
    return found[0] if found and where(found[0]) else None


def test_a_registered_pid_is_measured_as_the_agent(
    recorder: Running, spawn_agent: SpawnAgent
) -> None:
    """PID, CPU and memory of the process (and its tree) an agent registers, as for a rule."""
    proc = spawn_agent("alloc", "64")
    agent = name()
    ok(emit(recorder, "--agent", agent, "--type", "register", "--kind", "worker",
            "--pid", str(proc.pid)))  # fmt: skip

    found = poll(
        "the measured agent",
        lambda: latest_sample(recorder, agent, lambda a: a.cpu_utilization is not None),
    )
    assert (found.pid, found.kind, found.procs) == (proc.pid, "worker", 1)
    assert found.ram_used is not None and found.ram_used >= 64 * 1024 * 1024
    assert found.status == "idle"
    proc.stop()
    poll("the exit", lambda: latest_sample(recorder, agent, lambda a: a.status == "exited"))


def test_register_changes_the_kind_of_an_agent_a_rule_found(
    recorder: Running, spawn_agent: SpawnAgent
) -> None:
    proc = spawn_agent("idle", tag=RULED)
    first = poll(
        "the rule's agent", lambda: latest_sample(recorder, "ruled", lambda a: a.pid == proc.pid)
    )
    assert first.kind == "coding"
    ok(emit(recorder, "--agent", "ruled", "--type", "register", "--kind", "worker"))
    now = poll(
        "the new kind", lambda: latest_sample(recorder, "ruled", lambda a: a.kind == "worker")
    )
    assert (now.pid, now.source) == (proc.pid, "config")


def test_usage_with_a_request_id_is_counted_once(recorder: Running) -> None:
    agent = name()
    args = ["--agent", agent, "--type", "usage", "--model", "m", "--input-tokens", "10"]
    args += ["--cost", "0.5", "--request-id", "r1"]
    ok(emit(recorder, *args))
    ok(emit(recorder, "--socket", str(recorder.sock), *args))
    # Both were accepted before the marker; once it is stored, so is (or is not) the repeat.
    ok(emit(recorder, "--agent", agent, "marker"))
    poll("the marker", lambda: messages(recorder, agent))
    assert usage_rows(recorder, agent) == [("m", 10, 0.5, "r1")]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--type", "heartbeat", "a message"], "unknown field 'message'"),
        (["--type", "register", "--level", "info"], "unknown field 'level'"),
        (["--data", "[1]"], "data: Input should be a valid dictionary"),
        (["--type", "usage", "--input-tokens", "3"], "missing field 'model'"),
    ],
)
def test_the_recorder_refuses_with_its_reason(
    recorder: Running, args: list[str], reason: str
) -> None:
    agent = name()
    out = emit(recorder, "--agent", agent, *args)
    assert out.returncode == 1
    assert out.stderr == f"tui-monitor: error: {reason}\n"
    # Nothing of the refused message was stored; the next one from the same agent is.
    ok(emit(recorder, "--agent", agent, "after"))
    [(_, event)] = poll("the next event", lambda: History(recorder.db).events(agent=agent))
    assert event.message == "after"


def test_data_that_is_not_json_is_a_usage_error(recorder: Running) -> None:
    out = emit(recorder, "--agent", name(), "--data", "not json", "--socket", "/nonexistent")
    assert out.returncode == 2
    line = one_error_line(out)
    assert "--data" in line and "not JSON" in line  # checked before any connection is tried


@pytest.mark.parametrize(
    ("data", "reason"),
    [("[" * 100_000, "nested too deeply"), ('{"n": ' + "9" * 5000 + "}", "not JSON")],
)
def test_data_json_cannot_take_is_a_usage_error(recorder: Running, data: str, reason: str) -> None:
    out = emit(recorder, "--agent", name(), "--data", data, "--socket", "/nonexistent")
    assert out.returncode == 2
    line = one_error_line(out)
    assert "--data" in line and reason in line


def test_nan_data_and_undecodable_arguments_are_usage_errors(recorder: Running) -> None:
    nan = emit(recorder, "--agent", name(), "--data", '{"x": NaN}', "hi")
    assert nan.returncode == 2 and "--data" in nan.stderr and "NaN" in nan.stderr
    raw = subprocess.run(
        [*tui_monitor(), "emit", "--agent", name(), b"\xff\xfe".decode("utf-8", "surrogateescape")],
        capture_output=True,
        text=True,
        timeout=60,
        env=recorder.env,
    )
    assert raw.returncode == 2 and "MESSAGE" in raw.stderr and "not valid UTF-8" in raw.stderr


def test_an_empty_agent_is_refused(recorder: Running) -> None:
    out = emit(recorder, "--agent", "", "hello")
    assert out.returncode == 1
    assert "agent" in one_error_line(out)


def test_no_recorder_listening(recorder: Running) -> None:
    missing = recorder.short_dir / "nobody" / "ingest.sock"
    out = emit(recorder, "--socket", str(missing), "--agent", name(), "hello")
    assert out.returncode == 1
    line = one_error_line(out)
    assert str(missing) in line and "no tui-monitor recorder is listening" in line
    assert len(out.stderr.splitlines()) == 1


def test_a_socket_file_nobody_serves(recorder: Running) -> None:
    dead = recorder.short_dir / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(dead))
    s.close()  # the file stays, nobody listens: what a killed recorder leaves behind
    out = emit(recorder, "--socket", str(dead), "--agent", name(), "hello")
    assert out.returncode == 1
    assert f"no tui-monitor recorder is listening at {dead}" in one_error_line(out)


def test_the_socket_option_wins_over_the_config(recorder: Running, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text(f"[ingest]\nsocket = {json.dumps(str(recorder.short_dir / 'none.sock'))}\n")
    env = dict(recorder.env, TUI_MONITOR_CONFIG=str(other))
    agent = name()
    refused = emit(recorder, "--agent", agent, "via config", env=env)
    assert refused.returncode == 1
    assert "none.sock" in one_error_line(refused)
    ok(emit(recorder, "--socket", str(recorder.sock), "--agent", agent, "via option", env=env))
    assert poll("the event", lambda: messages(recorder, agent)) == ["via option"]


def test_hostile_text_round_trips_exactly(recorder: Running) -> None:
    agent = f"{name()}{HOSTILE}"
    data = {HOSTILE: HOSTILE}
    ok(emit(recorder, "--agent", agent, "--data", json.dumps(data), HOSTILE))
    ok(
        emit(
            recorder,
            "--agent", agent,
            "--type", "error",
            "--error-type", HOSTILE,
            "--stack", HOSTILE,
            HOSTILE,
        )
    )  # fmt: skip
    [err] = poll("the error", lambda: History(recorder.db).unresolved_errors(agent))
    assert (err.agent, err.error_type, err.message, err.stack) == (agent, HOSTILE, HOSTILE, HOSTILE)
    events = History(recorder.db).events(agent=agent)
    [event] = [e for _, e in events if e.kind == "message"]
    assert (event.agent, event.message, event.data) == (agent, HOSTILE, data)
