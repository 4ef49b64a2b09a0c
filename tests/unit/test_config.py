"""Settings: TOML file, env overrides, and one-line errors that name the file and the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui_monitor.config import Settings, config_path, load_settings
from tui_monitor.errors import ConfigError


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "absent.toml")
    assert s.interval == 1.0
    assert s.presets.enabled is True
    assert s.gpu.timeout == 2.0
    assert s.agents == []


def test_config_path_follows_env_and_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_MONITOR_CONFIG", str(tmp_path / "x.toml"))
    assert config_path() == tmp_path / "x.toml"
    monkeypatch.delenv("TUI_MONITOR_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "tui-monitor" / "config.toml"


def test_file_shape_from_design(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
interval = 2.5
[presets]
exclude = ["ollama"]
[[agents]]
name = "planner"
cmdline = "python .* -m planner"
[[agents]]
name = "svc"
kind = "worker"
process = "svc"
cwd = "/srv/svc"
user = "svc"
[[agents]]
name = "daemon"
pidfile = "/run/daemon.pid"
""",
    )
    s = load_settings(path)
    assert s.interval == 2.5
    assert s.presets.exclude == ["ollama"]
    assert [a.name for a in s.agents] == ["planner", "svc", "daemon"]
    assert s.agents[1].kind == "worker"
    assert str(s.agents[2].pidfile) == "/run/daemon.pid"


def test_env_overrides_file_including_nested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "interval = 2\n[gpu]\ntimeout = 1.5\nenabled = true\n")
    monkeypatch.setenv("TUI_MONITOR_INTERVAL", "5")
    monkeypatch.setenv("TUI_MONITOR_GPU__ENABLED", "false")
    s = load_settings(path)
    assert s.interval == 5.0
    assert s.gpu.enabled is False
    assert s.gpu.timeout == 1.5  # untouched file value survives the nested override


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("interval = 0.1\n", "interval: Input should be greater than or equal to 0.2"),
        ("interval = 61\n", "interval: Input should be less than or equal to 60"),
        ("intervall = 1\n", "intervall: unknown key"),
        ('[[agents]]\nname = "a"\ncmdline = "("\n', "agents[0].cmdline: invalid regular"),
        ('[[agents]]\nname = "a"\n', "agents[0]: needs at least one of process, cmdline"),
        ('[[agents]]\nname = "a"\nprocess = "x"\ncmdlin = "y"\n', "agents[0].cmdlin: unknown key"),
        ('[[agents]]\nname = "a b"\nprocess = "x"\n', "agents[0].name: must be 1-64"),
        (
            '[[agents]]\nname = "a"\nprocess = "x"\n[[agents]]\nname = "a"\nprocess = "y"\n',
            "agents: agent name 'a' is defined twice",
        ),
        ("interval = \n", "invalid TOML: Invalid value (at line 1, column 12)"),
        ("[gpu]\ntimeout = 0\n", "gpu.timeout: Input should be greater than or equal to 0.1"),
    ],
)
def test_invalid_file_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, b"interval = 1 # \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(path)


def test_bad_env_is_blamed_on_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUI_MONITOR_INTERVAL", "fast")
    with pytest.raises(ConfigError, match=r"^environment \(TUI_MONITOR_\*\): interval: "):
        load_settings(tmp_path / "absent.toml")


def test_settings_constructible_in_code() -> None:
    assert Settings(interval=0.2).interval == 0.2


def test_env_names_are_case_insensitive_and_nested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("tui_monitor_store__flush_interval", "2.5")
    s = load_settings(tmp_path / "absent.toml")
    assert isinstance(s, Settings)
    assert s.store.flush_interval == 2.5


def test_pydantic_settings_is_imported_only_for_an_override(tmp_path: Path) -> None:
    # ~50 ms of every start: a TUI_MONITOR_* variable that is not a setting must not cost it.
    code = (
        "import sys; from tui_monitor.config import load_settings; "
        "s = load_settings(); print(s.interval, 'pydantic_settings' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TUI_MONITOR_")}
    env |= {"TUI_MONITOR_CONFIG": str(tmp_path / "c.toml"), "TUI_MONITOR_SOCKET": "/x"}
    plain = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert plain.stdout.split() == ["1.0", "False"], plain.stderr
    env["TUI_MONITOR_INTERVAL"] = "3"
    over = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert over.stdout.split() == ["3.0", "True"], over.stderr
