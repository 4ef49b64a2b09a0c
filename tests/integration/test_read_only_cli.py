"""`--read-only` is the dashboard's: with a command it is a usage error (one line, exit 2);
`TUI_MONITOR_UI__READ_ONLY` sets the same switch as `[ui] read_only`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tui_monitor.config import load_settings

EXE = Path(sys.executable).parent / "tui-monitor"


def test_read_only_with_a_command_is_a_usage_error() -> None:
    done = subprocess.run(
        [str(EXE), "--read-only", "agents"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--read-only applies to the dashboard" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_switch_comes_from_the_file_or_the_environment(
    isolated_dirs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[ui]\nread_only = true\n")
    assert load_settings(config).ui.read_only
    config.write_text("")
    assert not load_settings(config).ui.read_only
    monkeypatch.setenv("TUI_MONITOR_UI__READ_ONLY", "true")
    assert load_settings(config).ui.read_only
