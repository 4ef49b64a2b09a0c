"""The UI's agent keys across fleet hosts, and the event log's one line per host change."""

from __future__ import annotations

import logging
import sys

import pytest
from fleet_snaps import host_status, two_hosts

from tui_monitor.ui import remote
from tui_monitor.ui.fleet import HostLog, key_label, row_key, split_key


def test_keys_never_collide_and_read_back() -> None:
    cases = [
        (None, "claude"),
        ("gpu1", "claude"),
        ("gpu2", "claude"),
        (None, "\x00gpu1\x00claude"),  # a local name made to look like a remote key
        (None, "\x00"),
        ("gpu1", "\x00x"),
        (None, ""),
    ]
    keys = [row_key(h, n) for h, n in cases]
    assert len(set(keys)) == len(cases)
    assert [split_key(k) for k in keys] == cases
    assert row_key(None, "claude") == "claude"  # local keys are the names, as before
    assert key_label(row_key("gpu1", "claude")) == "claude@gpu1"
    assert key_label(row_key("gpu1", "\x1b[31m")) == "\\x1b[31m@gpu1"


def test_host_log_says_each_change_once() -> None:
    log = HostLog()
    down = host_status("gpu2", "unreachable", reason="ssh: refused", age=5)
    ticks = [
        two_hosts(1),
        two_hosts(2),
        two_hosts(3, down),
        two_hosts(4, host_status("gpu2", "connecting")),
        two_hosts(5, down),
        two_hosts(6, host_status("gpu2", "unreachable", reason="ssh: timed out")),
        two_hosts(7),
    ]
    said = [(e.agent, e.kind, e.message) for t in ticks for e in log.changes(t)]
    assert said == [
        ("gpu1", "live", "tui-monitor 0.17"),
        ("gpu2", "live", "tui-monitor 0.17"),
        ("gpu2", "unreachable", "ssh: refused"),
        ("gpu2", "unreachable", "ssh: timed out"),
        ("gpu2", "live", "tui-monitor 0.17"),
    ]


def test_nothing_of_ours_reaches_the_terminal_while_a_remote_dashboard_has_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with remote._quiet_stderr():
        logging.getLogger("asyncio").warning("Unknown child process pid 1")  # last resort
        print("stray", file=sys.stderr)
    print("after", file=sys.stderr)
    assert capsys.readouterr().err == "after\n"
