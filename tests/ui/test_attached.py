"""Dashboards attached to a real recorder: every event stored shows, in order, and a
recorder that goes away is taken over (or, where that cannot be, said so in the header)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import screen_text, wait_until
from recorders import RecorderProcess, rows, start_recorder, tui_monitor, wait_for, write_config
from textual.pilot import Pilot

from tui_monitor.client import send
from tui_monitor.config import Settings, load_settings
from tui_monitor.source import AttachedSource, LiveSource, choose_source
from tui_monitor.store.lock import recorder_pid
from tui_monitor.store.queries import History
from tui_monitor.ui.app import MonitorApp, make_app
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.widgets.event_log import EventLog

if TYPE_CHECKING:
    from conftest import SpawnAgent

Viewer = tuple[MonitorApp, Pilot[None]]


def settings_for(tmp_path: Path, sock: Path, flush: float = 0.1) -> Settings:
    """The config the recorder reads (TUI_MONITOR_CONFIG), and the apps with it."""
    config = Path(os.environ["TUI_MONITOR_CONFIG"])
    write_config(config, sock, interval=0.2, flush=flush)
    return load_settings(config)


@asynccontextmanager
async def dashboards(
    settings: Settings, db: Path, count: int, size: tuple[int, int] = (120, 30)
) -> AsyncIterator[list[Viewer]]:
    """`count` dashboards on `db`, each built as the CLI builds it, with a first snapshot."""
    async with AsyncExitStack() as stack:
        viewers: list[Viewer] = []
        for _ in range(count):
            app = make_app(settings, choose_source(settings, db), History(db), utc=True)
            pilot = await stack.enter_async_context(app.run_test(size=size))
            viewers.append((app, pilot))
        for app, pilot in viewers:
            await wait_until(pilot, lambda a=app: a.snapshot is not None, 15, "a first snapshot")
        yield viewers
        for _, pilot in reversed(viewers):
            await pilot.press("q")


def logged(app: MonitorApp, agent: str) -> list[str]:
    """The messages of `agent`'s events in the dashboard's event log, top to bottom."""
    lines = [s.text for s in app.screen.query_one(EventLog).lines]
    prefix = f" {agent} note: "
    return [line.split(prefix, 1)[1] for line in lines if prefix in line]


async def emit_all(sock: Path, agent: str, rec: RecorderProcess | None, n: int) -> list[str]:
    """`n` events: bursts inside one tick, single ones across ticks, some stamped a minute
    back (a sender's own clock); between rounds, wait for the recorder to commit more."""
    sent: list[str] = []
    db_ticks = rec.ticks if rec is not None else None
    for round_ in range(n // 4):
        for i in range(4):
            message = f"event {len(sent) + 1}"
            msg: dict[str, object] = {"v": 1, "type": "event", "agent": agent, "kind": "note"}
            msg["message"] = message
            if i == 3:
                msg["ts"] = time.time() - 60
            await asyncio.to_thread(send, msg, path=sock)
            sent.append(message)
        if db_ticks is not None and round_ % 2:
            before = db_ticks()
            while db_ticks() <= before + 1:
                await asyncio.sleep(0.02)
    return sent


async def test_two_attached_dashboards_show_every_event_in_order(
    tmp_path: Path, short_dir: Path
) -> None:
    sock = short_dir / "ingest.sock"
    # commits of several ticks each: a viewer that looked at the newest tick only missed
    # the events of the others (issue 13: 3 of 8 shown)
    settings = settings_for(tmp_path, sock, flush=0.5)
    db = tmp_path / "history.db"
    rec = start_recorder(db, sock, tmp_path / "recorder.log")
    try:
        async with dashboards(settings, db, 2) as viewers:
            for app, _ in viewers:
                assert isinstance(app.source, AttachedSource)
                assert f"ATTACHED  recorder pid {rec.pid}" in screen_text(app)
            sent = await emit_all(sock, "walker", rec, 24)
            for app, pilot in viewers:
                await wait_until(
                    pilot, lambda a=app: len(logged(a, "walker")) >= len(sent), 15, "all events"
                )
                assert logged(app, "walker") == sent
    finally:
        assert rec.stop() == 0, rec.stderr_text()


async def test_a_recording_dashboard_and_an_attached_one_show_the_same_events(
    tmp_path: Path, short_dir: Path
) -> None:
    sock = short_dir / "ingest.sock"
    settings = settings_for(tmp_path, sock)
    db = tmp_path / "history.db"
    async with dashboards(settings, db, 1) as (recording,):
        app, pilot = recording
        assert isinstance(app.source, LiveSource)
        await wait_until(pilot, lambda: recorder_pid(db) is not None, 15, "the recorder lock")
        await wait_until(pilot, lambda: sock.exists(), 15, "the ingest socket")
        async with dashboards(settings, db, 1) as (attached,):
            assert isinstance(attached[0].source, AttachedSource)
            sent = await emit_all(sock, "walker", None, 12)
            for app, pilot in (recording, attached):
                await wait_until(
                    pilot, lambda a=app: len(logged(a, "walker")) >= len(sent), 15, "all events"
                )
                assert logged(app, "walker") == sent


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_when_the_recorder_stops_one_dashboard_takes_over_and_the_other_follows_it(
    tmp_path: Path, short_dir: Path, sig: int
) -> None:
    sock = short_dir / "ingest.sock"
    settings = settings_for(tmp_path, sock)
    db = tmp_path / "history.db"
    rec = start_recorder(db, sock, tmp_path / "recorder.log")
    async with dashboards(settings, db, 2) as viewers:
        (_, first_pilot), (_, second_pilot) = viewers
        assert rec.stop(sig) == 0, rec.stderr_text()
        last_tick = rec.ticks()

        def live() -> list[MonitorApp]:
            return [app for app, _ in viewers if app.source.mode == "live"]

        await wait_until(first_pilot, lambda: len(live()) == 1, 10, "a dashboard taking over")
        (taker,) = live()
        (other,) = [app for app, _ in viewers if app is not taker]
        assert isinstance(taker.source, AttachedSource) and taker.source.recorder is not None
        # it records: new ticks in the same file, and agents report to it again
        await wait_until(first_pilot, lambda: rec.ticks() > last_tick, 10, "a new tick written")
        await wait_until(first_pilot, lambda: sock.exists(), 10, "the socket again")
        done = await asyncio.to_thread(
            subprocess.run,
            [tui_monitor(), "emit", "--socket", str(sock), "--agent", "walker", "--kind",
             "note", "after the takeover"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        for app, pilot in viewers:
            await wait_until(
                pilot, lambda a=app: logged(a, "walker") == ["after the takeover"], 15, "the event"
            )
        await wait_until(
            first_pilot,
            lambda: f"LIVE  took over from pid {rec.pid}" in screen_text(taker),
            15,
            "the header of the dashboard that took over",
        )
        await wait_until(
            second_pilot,
            lambda: f"ATTACHED  recorder pid {os.getpid()}" in screen_text(other),
            15,
            "the header of the other, following the new recorder",
        )
        assert "recorder stopped" not in screen_text(other)


async def test_a_recorder_that_holds_the_database_but_writes_nothing_is_called_silent(
    tmp_path: Path, short_dir: Path
) -> None:
    sock = short_dir / "ingest.sock"
    settings = settings_for(tmp_path, sock)
    db = tmp_path / "history.db"
    rec = start_recorder(db, sock, tmp_path / "recorder.log")
    try:
        async with dashboards(settings, db, 1) as ((app, pilot),):
            rec.proc.send_signal(signal.SIGSTOP)  # hung: it keeps its lock, writes nothing
            await wait_until(
                pilot, lambda: "no tick from the recorder for" in screen_text(app), 10, "silent"
            )
            assert app.source.mode == "attached"  # the lock is held: nothing to take over
            rec.proc.send_signal(signal.SIGCONT)
            await wait_until(
                pilot, lambda: "no tick from" not in screen_text(app), 10, "ticks again"
            )
    finally:
        rec.proc.send_signal(signal.SIGCONT)
        assert rec.stop() == 0, rec.stderr_text()


@pytest.fixture
def read_only_view(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a directory, a read-only view of it): a bind mount as root, else the same directory
    made unwritable once the recorder runs (then `make_unwritable` below does it)."""
    rw = tmp_path / "rw"
    rw.mkdir()
    if os.geteuid() != 0:
        yield rw, rw
        os.chmod(rw, 0o700)
        return
    view = tmp_path / "ro"
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(rw), str(view)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount as root here: {mounted.stderr.decode().strip()}")
    try:
        made = subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], capture_output=True)
        if made.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {made.stderr.decode().strip()}")
        yield rw, view
    finally:
        if subprocess.run(["umount", str(view)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(view)], capture_output=True)


def make_unwritable(rw: Path, view: Path) -> None:
    if view == rw:  # not root: take our own write permission away
        for path in rw.iterdir():
            os.chmod(path, 0o400)
        os.chmod(rw, 0o500)


async def test_a_dashboard_that_cannot_take_over_says_since_when_the_recorder_is_gone(
    tmp_path: Path, short_dir: Path, read_only_view: tuple[Path, Path]
) -> None:
    rw, view = read_only_view
    sock = short_dir / "ingest.sock"
    settings = settings_for(tmp_path, sock)
    rec = start_recorder(rw / "history.db", sock, tmp_path / "recorder.log")
    make_unwritable(rw, view)
    async with dashboards(settings, view / "history.db", 1) as ((app, pilot),):
        assert isinstance(app.source, AttachedSource)
        await wait_until(
            pilot, lambda: f"recorder pid {rec.pid}" in screen_text(app), 15, "the recorder"
        )
        assert rec.stop(signal.SIGINT) == 0, rec.stderr_text()
        await wait_until(
            pilot, lambda: "recorder stopped" in screen_text(app), 15, "the header saying so"
        )
        source = app.source
        assert isinstance(source, AttachedSource)
        await wait_until(pilot, lambda: source.cannot_record is not None, 10, "a takeover tried")
        assert source.mode == "attached" and "Read-only file system" in str(source.cannot_record)
        assert "ATTACHED" in screen_text(app) and f"pid {rec.pid}" not in screen_text(app)
        # the age goes on counting while nothing else on the screen moves

        def age() -> int:
            found = re.search(r"recorder stopped (\d+)s ago", screen_text(app))
            return -1 if found is None else int(found.group(1))

        shown = age()
        await wait_until(pilot, lambda: age() > shown >= 0, 15, "the age moving")


async def test_attached_and_replayed_agent_screens_show_the_process_tree(
    tmp_path: Path, short_dir: Path, spawn_agent: SpawnAgent
) -> None:
    family = spawn_agent("spawner")
    children = [int(p) for p in family.ready_fields[2:]]
    sock = short_dir / "ingest.sock"
    config = Path(os.environ["TUI_MONITOR_CONFIG"])
    rule = f'[[agents]]\nname = "fam"\ncmdline = "--tag {family.tag}(\\\\s|$)"\n'
    write_config(config, sock, interval=0.2, extra=rule)
    settings = load_settings(config)
    db = tmp_path / "history.db"
    rec = start_recorder(db, sock, tmp_path / "recorder.log")
    tree = f"{family.pid}:{os.getpid()} {children[0]}:{family.pid} {children[1]}:{family.pid}"
    try:
        wait_for(lambda: rows(db, "SELECT tree FROM procsets") == [(tree,)], what="the tree")
        async with dashboards(settings, db, 1, size=(160, 50)) as ((app, pilot),):
            await wait_until(pilot, lambda: " fam " in screen_text(app), 10, "the agent")
            await pilot.press("h")  # replay the moment shown, while the processes live on
            await wait_until(pilot, lambda: app.replaying, 10, "replay")
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), 15, "agent")
            await wait_until(pilot, lambda: "recorded process tree" in screen_text(app), 15, "tree")
            lines = screen_text(app).splitlines()
            assert f"pids    {family.pid} {children[0]} {children[1]}" in "\n".join(lines)
            unnamed = [re.compile(rf"{c}\s+└ \?") for c in children]  # names not recorded
            assert all(any(u.search(ln) for ln in lines) for u in unnamed), lines
            await pilot.press("escape")
            await pilot.press("escape")  # back to live: the attached screen asks the processes
            await wait_until(pilot, lambda: not app.replaying, 15, "live")
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), 15, "agent")
            await wait_until(pilot, lambda: "process tree" in screen_text(app), 15, "the tree")
            text = screen_text(app)
            assert "recorded process tree" not in text
            assert all(str(p) in text for p in (family.pid, *children))
            assert not any(u.search(text) for u in unnamed)  # here they are known
    finally:
        assert rec.stop() == 0, rec.stderr_text()


async def test_an_attached_dashboard_shows_the_recorders_sessions_and_receiver(
    tmp_path: Path, short_dir: Path
) -> None:
    """What the history does not keep per tick (a session's tokens on its row, the OTLP
    counters) comes to attached dashboards through the recorder's live file."""
    import json
    import socket
    import urllib.request
    import uuid

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sock = short_dir / "ingest.sock"
    config = Path(os.environ["TUI_MONITOR_CONFIG"])
    extra = f'[sessions]\nenabled = false\n[otlp]\nlisten = "127.0.0.1:{port}"\n'
    write_config(config, sock, interval=0.2, flush=0.1, extra=extra)
    settings = load_settings(config)
    db = tmp_path / "history.db"
    rec = start_recorder(db, sock, tmp_path / "recorder.log")
    try:
        token = (short_dir / "otlp.token").read_text().strip()
        sid = str(uuid.uuid4())
        attrs = {"session.id": sid, "model": "claude-sonnet-4-5", "input_tokens": "4321",
                 "output_tokens": "1234", "cost_usd": "0.25"}  # fmt: skip
        body = {"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "claude-code"}}]},
            "scopeLogs": [{"logRecords": [{
                "timeUnixNano": str(time.time_ns()),
                "body": {"stringValue": "claude_code.api_request"},
                "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
            }]}]}]}  # fmt: skip
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/logs",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        agent = f"claude:{sid.replace('-', '')[:8]}"
        async with dashboards(settings, db, 1, size=(160, 30)) as ((app, pilot),):
            assert isinstance(app.source, AttachedSource)

            def row_tokens() -> int | None:
                snap = app.snapshot
                row = next((a for a in snap.agents if a.name == agent), None) if snap else None
                return None if row is None or row.session is None else row.session.tokens.total

            await wait_until(pilot, lambda: row_tokens() == 5555, 15, "the session's tokens")
            await wait_until(pilot, lambda: "otlp 1 in" in screen_text(app), 15, "otlp counters")
            await wait_until(pilot, lambda: agent in screen_text(app), 15, "the session's row")
    finally:
        assert rec.stop() == 0, rec.stderr_text()
