"""End to end: `enter` on another host's agent in a real terminal (tmux) suspends our
dashboard and runs `[fleet] ssh` with a terminal: here a fake ssh that records its argv and
runs a real `tui-monitor` dashboard of a second data dir; `q` there brings ours back."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import tomli_w
from fleet_snaps import fake_ssh
from tmux_pane import Tmux

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).parent / "tui-monitor"
HERE = Path(__file__).resolve().parent


def test_enter_on_a_remote_row_opens_its_dashboard_and_q_returns(
    tmux: Tmux, tmp_path: Path
) -> None:
    other = tmp_path / "gpu1"
    (other / "runtime").mkdir(parents=True, mode=0o700)
    config = other / "remote-config.toml"
    config.write_text(
        tomli_w.dumps(
            {
                "interval": 0.5,
                "store": {"path": str(other / "history.db")},
                "presets": {"enabled": False},
                "otlp": {"enabled": False},
            }
        )
    )
    remote = f"env XDG_RUNTIME_DIR={other / 'runtime'} TUI_MONITOR_CONFIG={config} {EXE}"
    ssh = fake_ssh(tmp_path, then=remote)
    isolated = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "TUI_MONITOR_"))}
    env = isolated | {"TERM": "xterm-256color"}
    tmux.start([sys.executable, str(HERE / "fleet_dashboard.py"), str(ssh)], env, (100, 30))
    tmux.wait_text("HOST", "gpu1", "testhost")
    # The rows sort by CPU: local claude (50), gpu1's (30), gpu2's (20), coder: down once.
    tmux.keys("j")
    tmux.wait_for(lambda s: "claude@gpu1 CPU %" in s, "gpu1's claude selected")
    tmux.keys("Enter")
    screen = tmux.wait_text("remote-config.toml", timeout=30)  # the other dashboard's own
    assert "HOST" not in screen
    argv = (tmp_path / "argv.txt").read_text().splitlines()
    assert argv[0] == "-t" and argv[-3:] == ["--", "gpu1", "tui-monitor"]
    tmux.keys("q")
    screen, _ = tmux.wait_for(
        lambda s: "HOST" in s and "claude@gpu1 CPU %" in s and "remote-config" not in s,
        "our dashboard back",
        timeout=30,
    )
    assert "ssh" not in screen.split("Events", 1)[-1]  # exit 0: no toast
    tmux.keys("q")
    assert tmux.wait_exit() == 0
