"""SVG snapshots of the dashboard with fleet hosts (one live, one unreachable) at 100x30 and
80x24, from scripted fleet snapshots: the HOST column, the Hosts card, greyed rows whose
STATUS says `unreachable 3m`, the host's line in the event log."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from factories import ready, screen_text, step, table, wait_until
from fleet_snaps import build_fleet_app, host_status, two_hosts
from textual.pilot import Pilot

SnapCompare = Callable[..., bool]
WHY = "ssh: connect to host gpu2 port 22: Connection refused"


@pytest.mark.parametrize(
    "size", [pytest.param((100, 30), id="100x30"), pytest.param((80, 24), id="80x24")]
)
def test_dashboard_with_hosts(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    down = host_status("gpu2", "unreachable", seq=200, age=180, reason=WHY)
    app, source = build_fleet_app([two_hosts(1), two_hosts(200, down)])

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot, 1)
        await step(pilot, source)
        await wait_until(pilot, lambda: table(app).row_count == 4, what="four rows")
        await pilot.press("m", "m", "m")  # one chart redraw with both ticks in it
        await pilot.wait_for_scheduled_animations()
        assert "unreachable 3m" in screen_text(app)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
