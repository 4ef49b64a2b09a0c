"""The fleet on the dashboard, from scripted fleet snapshots (no ssh): rows keyed by host and
name, the HOST column, honest staleness on rows and the Hosts card, the event log, `t`/`K`
refused and `enter` running the real ssh argv (a fake ssh script, a real subprocess)."""

from __future__ import annotations

from pathlib import Path

from factories import agent, event, ready, screen_text, snapshot, step, table, wait_until
from fleet_snaps import (
    build_fleet_app,
    fake_ssh,
    fleet_settings,
    fleet_snapshot,
    host_status,
    remote,
    two_hosts,
)
from textual.pilot import Pilot

from tui_monitor.models import AgentEvent
from tui_monitor.ui.app import MonitorApp
from tui_monitor.ui.fleet import HostEvent, row_key
from tui_monitor.ui.screens.agent import AgentScreen
from tui_monitor.ui.widgets.cards import Card
from tui_monitor.ui.widgets.event_log import EventLog

GPU1 = row_key("gpu1", "claude")
GPU2 = row_key("gpu2", "claude")


def cells(app: MonitorApp) -> dict[str, dict[str, str]]:
    """Each row's cells by column key, by row key."""
    t = table(app)
    keys = [str(c.value) for c in t.columns]
    return {
        k: dict(zip(keys, r, strict=True))
        for k, r in zip(t.visible_names, t.rendered_rows(), strict=True)
    }


def toasts(app: MonitorApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def press_on(pilot: Pilot[None], key: str, *keys: str) -> None:
    t = table(pilot.app)
    t.select(key)
    await wait_until(pilot, lambda: t.selected == key, what=f"{key!r} selected")
    await pilot.press(*keys)


async def test_same_names_on_two_hosts_stay_apart() -> None:
    local_events = [event("claude", "note", "local one", ts=0.5), event("claude", ts=0.6)]
    first = two_hosts(1).model_copy(update={"events": tuple(local_events)})
    app, source = build_fleet_app([first, two_hosts(2, cpu=90.0), two_hosts(3, cpu=95.0)])
    async with app.run_test(size=(160, 40)) as pilot:
        await ready(pilot, 1)
        rows = cells(app)
        assert set(rows) == {"claude", "coder", GPU1, GPU2}
        assert [rows[k]["host"] for k in ("claude", GPU1, GPU2)] == ["testhost", "gpu1", "gpu2"]
        assert [rows[k]["cpu"] for k in ("claude", GPU1, GPU2)] == ["50.0", "30.0", "20.0"]
        # The local claude's events are its own: the remote ones do not borrow them.
        assert rows["claude"]["msgs"] == "2" and rows[GPU1]["msgs"] == rows[GPU2]["msgs"] == "-"
        assert app.stats["claude"].messages == 2 and GPU1 not in app.stats
        table(app).select(GPU1)
        await step(pilot, source)  # gpu1's claude jumps to the top (CPU sort): it is followed
        assert table(app).visible_names[0] == GPU1 and table(app).selected == GPU1
        await step(pilot, source)
        _, _, lines, _, _ = app.chart_data(GPU1, "cpu")
        assert lines["cpu"][-2:] == [90.0, 95.0]
        _, _, lines, _, _ = app.chart_data("claude", "cpu")
        assert lines["cpu"][-2:] == [50.0, 50.0]
        await wait_until(
            pilot, lambda: "claude@gpu1" in str(app.screen.query_one("#chart").border_title)
        )
        # The filter sees the host.
        await pilot.press("slash", *"gpu2", "enter")
        await wait_until(pilot, lambda: table(app).visible_names == [GPU2], what="gpu2 only")


async def test_host_column_only_with_hosts() -> None:
    local = snapshot(1, [agent("claude")])
    app, source = build_fleet_app([local, two_hosts(2)])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, 1)
        assert "host" not in [str(c.value) for c in table(app).columns]
        assert not app.screen.query_one("#card-hosts", Card).display
        await step(pilot, source)
        assert [str(c.value) for c in table(app).columns][:2] == ["host", "name"]
        assert app.screen.query_one("#card-hosts", Card).display
        table(app).set_sort("host")  # re-sorts the rows at once
        assert table(app).visible_names[:2] in (["claude", "coder"], ["coder", "claude"])


async def test_stale_and_unreachable_hosts_say_so_with_their_age() -> None:
    why = "ssh: connect to host gpu2 port 22: Connection refused"
    snaps = [
        two_hosts(1),
        two_hosts(2, host_status("gpu2", "stale", seq=2, age=42)),
        two_hosts(180, host_status("gpu2", "unreachable", seq=180, age=180, reason=why)),
        two_hosts(181, host_status("gpu2", "unreachable", seq=181, age=181, reason=why)),
        two_hosts(182, host_status("gpu2", "connecting", seq=182, age=182)),
        two_hosts(183, host_status("gpu2", "unreachable", seq=183, age=183, reason=why)),
    ]
    app, source = build_fleet_app(snaps)
    async with app.run_test(size=(200, 60)) as pilot:
        await ready(pilot, 1)
        assert cells(app)[GPU2]["status"] == "running"
        await step(pilot, source)
        assert cells(app)[GPU2]["status"] == "stale 42s"
        assert cells(app)[GPU1]["status"] == "running"  # the other host is live
        assert "stale 42s" in screen_text(app)
        for _ in range(4):
            await step(pilot, source)
        assert cells(app)[GPU2]["status"] == "unreachable 3m"
        text = screen_text(app)
        assert "1/2 live" in text and "gpu2 unreachable 3m: ssh: connect" in text
        assert why in str(app.screen.query_one("#card-hosts", Card).tooltip)
        # The row is greyed, STATUS in the state's colour.
        t = table(app)
        name_cell = t.get_cell(GPU2, "name")
        assert "dim" in str(name_cell.style)
        # One line per change: live, stale, unreachable (the retry's connecting is no news).
        said = [e for _, e in app.events if isinstance(e, HostEvent)]
        assert [(e.agent, e.kind) for e in said] == [
            ("gpu1", "live"),
            ("gpu2", "live"),
            ("gpu2", "stale"),
            ("gpu2", "unreachable"),
        ]
        log = "\n".join(line.text for line in app.screen.query_one(EventLog).lines)
        assert f"gpu2 unreachable: {why}" in log


async def test_hosts_card_fits_80x24() -> None:
    why = "ssh: Could not resolve hostname gpu2: Name or service not known"
    snaps = [two_hosts(90, host_status("gpu2", "unreachable", seq=90, age=75, reason=why))]
    app, _ = build_fleet_app(snaps)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, 90)
        card = app.screen.query_one("#card-hosts", Card)
        assert card.display and card.region.width >= 20 and card.region.right <= 80
        text = screen_text(app)
        assert "Hosts 1/2 live" in text
        assert "gpu2 unreach 1m" in text
        assert "unreachable 1m" in cells(app)[GPU2]["status"]
        assert card.tooltip is not None and why in str(card.tooltip)


async def test_hostile_host_names_reasons_and_agent_names_stay_inert() -> None:
    bad_reason = "\x1b[2J\x1b[31m[bold]boom[/bold] [@click=app.quit]\nsecond line\x07"
    bad_agent = "[@click=app.quit]\x1b]0;title\x07"
    hosts = [host_status("gpu1"), host_status("gpu2", "failed", reason=bad_reason, age=5)]
    snap = fleet_snapshot(1, hosts, [remote(bad_agent, "gpu1"), remote("x", "gpu2")])
    app, _ = build_fleet_app([snap])
    async with app.run_test(size=(200, 60)) as pilot:
        await ready(pilot, 1)
        text = screen_text(app)
        assert app.is_running
        for bad in ("\x1b", "\x07"):
            assert bad not in text and bad not in app.export_screenshot()
        assert "[bold]boom[/bold]" in text and "[@click=app.quit]" in text
        assert "second line" in text  # one line: the newline is shown escaped, not obeyed
        log = [e for _, e in app.events if isinstance(e, HostEvent) and e.kind == "failed"]
        assert len(log) == 1 and "\x1b" not in log[0].message


async def test_t_and_k_refuse_remote_rows() -> None:
    app, _ = build_fleet_app([two_hosts(1)])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, 1)
        await press_on(pilot, GPU1, "t")
        await press_on(pilot, GPU1, "K")
        await wait_until(pilot, lambda: len([m for m in toasts(app) if "runs on gpu1" in m]) == 2)
        assert "claude runs on gpu1: t and K act here only" in toasts(app)[0]
        assert len(app.screen_stack) == 2  # no signal dialog, no pane screen


async def test_enter_on_a_remote_row_runs_ssh_and_comes_back(tmp_path: Path) -> None:
    ssh = fake_ssh(tmp_path)
    app, source = build_fleet_app([two_hosts(1), two_hosts(2)], fleet_settings(ssh=str(ssh)))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, 1)
        await press_on(pilot, GPU1, "enter")
        argv_file = tmp_path / "argv.txt"
        await wait_until(pilot, argv_file.exists, 10, "the fake ssh ran")
        argv = argv_file.read_text().splitlines()
        assert argv[0] == "-t" and "BatchMode=yes" not in argv
        assert argv[-3:] == ["--", "gpu1", "tui-monitor"]
        await wait_until(
            pilot,
            lambda: (
                not app.workers or all(w.is_finished for w in app.workers if w.group == "remote")
            ),
        )
        assert not [m for m in toasts(app) if "ssh" in m]  # exit 0: nothing to say
        await step(pilot, source)  # the app is back and following
        assert app.is_running and isinstance(app.screen, type(app.screen))
        # A local row still opens the agent screen.
        await press_on(pilot, "claude", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen), what="agent screen")


async def test_ssh_failure_is_a_toast_with_its_reason(tmp_path: Path) -> None:
    why = "ssh: connect to host gpu1 port 22: Connection refused"
    ssh = fake_ssh(tmp_path, code=255, stderr=f"some noise\n{why}\n")
    app, _ = build_fleet_app([two_hosts(1)], fleet_settings(ssh=str(ssh), read_only=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, 1)
        await press_on(pilot, GPU1, "enter")
        await wait_until(pilot, lambda: any("ssh to gpu1 failed" in m for m in toasts(app)), 10)
        assert f"ssh to gpu1 failed: {why}" in toasts(app)
        # Read-only here: the remote dashboard opens read-only too.
        assert (tmp_path / "argv.txt").read_text().splitlines()[-1] == "tui-monitor --read-only"


async def test_enter_refused_for_unconfigured_or_unreachable_hosts(tmp_path: Path) -> None:
    ssh = fake_ssh(tmp_path)
    down = host_status("gpu2", "unreachable", reason="ssh: Connection timed out", age=30)
    app, _ = build_fleet_app([two_hosts(1, down)], fleet_settings(["gpu2"], ssh=str(ssh)))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, 1)
        await press_on(pilot, GPU1, "enter")
        await wait_until(pilot, lambda: any("no longer configured" in m for m in toasts(app)))
        await press_on(pilot, GPU2, "enter")
        await wait_until(pilot, lambda: any("gpu2 is unreachable" in m for m in toasts(app)))
        assert "ssh: Connection timed out" in toasts(app)[-1]
        assert not (tmp_path / "argv.txt").exists()


async def test_host_events_count_for_no_agent() -> None:
    """A local agent named like a host keeps its own tallies and event list."""
    local = [agent("gpu1", cpu=1.0)]
    snaps = [
        fleet_snapshot(1, [host_status("gpu1")], [], local),
        fleet_snapshot(2, [host_status("gpu1", "stale", seq=2, age=20)], [], local),
    ]
    app, source = build_fleet_app(snaps)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, 1)
        await step(pilot, source)
        assert "gpu1" not in app.stats
        said: list[AgentEvent] = [e for _, e in app.events]
        assert [e.kind for e in said] == ["live", "stale"]
        app.open_agent("gpu1")
        await wait_until(
            pilot,
            # shown a snapshot: its event list is synced (render_snapshot counts its ticks)
            lambda: isinstance(app.screen, AgentScreen) and app.screen._ticks >= 1,
            what="the agent screen showing a snapshot",
        )
        shown = app.screen.query_one("#agent-events", EventLog)
        assert not [line for line in shown.lines if "stale" in line.text]
