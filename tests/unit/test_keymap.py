"""`[keymap]` checked against the app's real bindings and Textual's key names (issue 13,
item 26): an unknown id, a key no terminal sends, a key another binding answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.binding import Binding

from tui_monitor.config import Settings
from tui_monitor.demo.fleet import Fleet, demo_settings
from tui_monitor.errors import ConfigError
from tui_monitor.ui.app import MonitorApp, make_app
from tui_monitor.ui.keymap import _declared, binding_classes, binding_ids, check_keymap
from tui_monitor.ui.keymap import key_problem as problem

CONFIG = Path("/home/u/.config/tui-monitor/config.toml")
WAIT = 20.0


def refused(keymap: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        check_keymap(keymap, CONFIG)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{CONFIG}: keymap.")
    return message


def test_unknown_binding_ids_are_refused() -> None:
    assert refused({"dashboard.filtr": "f"}) == (
        f"{CONFIG}: keymap.dashboard.filtr: no binding has this id (did you mean dashboard.filter?)"
    )
    assert "docs/config.md lists them" in refused({"nosuch": "x"})


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("ctrl+shift+meta+banana", "'banana' is not a key name"),
        ("banana", "'banana' is not a key name"),
        ("ctrl+shift+up+", "a '+' with nothing on one side"),
        ("hyperdrive+q", "'hyperdrive' is not a modifier"),
        ("ctrl+ctrl+q", "a modifier given twice"),
        ("shift+ctrl+up", "Textual names it ctrl+shift+up"),
        ("ctrl+A", "with a modifier a letter is lower case: ctrl+a"),
        ("ctrl+?", "with a modifier, name the key: ctrl+question_mark"),
        ("", "no key given"),
    ],
)
def test_keys_that_cannot_be_pressed_are_refused(key: str, why: str) -> None:
    message = refused({"app.quit": f"ctrl+q,{key}" if key else ""})
    assert why in message and "cannot be pressed" in message


def test_a_key_another_binding_answers_is_a_conflict() -> None:
    assert refused({"dashboard.filter": "q"}) == (
        f"{CONFIG}: keymap.dashboard.filter: 'q' is taken by app.quit (Quit) on the same "
        "screen; give one of them another key"
    )
    assert "taken by dashboard.chart_metric" in refused({"dashboard.filter": "m"})
    assert "taken by app.quit" in refused({"agent.back": "q"})  # the agent screen too
    assert "taken by app.help" in refused({"dashboard.filter": "?"})  # ? is question_mark
    # Textual's ctrl+q is a priority binding: on a modal screen it still quits first
    assert "taken by Textual's quit (Quit)" in refused({"help.close": "ctrl+q"})
    assert "taken by dashboard.up" in refused({"dashboard.filter": "x", "dashboard.up": "x"})


@pytest.mark.parametrize(
    "keymap",
    [
        {"dashboard.filter": "f", "app.quit": "q,ctrl+q"},
        {"dashboard.filter": "q", "app.quit": "ctrl+q"},  # quit moved out of the way first
        {"app.quit": "slash", "dashboard.filter": "q", "tasks.filter": "q"},  # swapped
        {"app.quit": "q,ctrl+c"},  # replaces Textual's own ctrl+c of the app (the demo's)
        {"help.close": "x"},  # the help screen is modal: x exports only under it
        {"dashboard.chart_metric": "M", "app.quit": " q , f35"},
        {"dashboard.filter": "ctrl+shift+f", "replay.goto": "alt+g", "agent.back": "é"},
    ],
)
def test_keymaps_that_work_are_accepted(keymap: dict[str, str]) -> None:
    check_keymap(keymap, CONFIG)


def test_every_default_key_is_a_key_the_check_accepts() -> None:
    """The check knows Textual's names: every key the app and Textual bind by default."""
    keys = {b.key for _, b in _declared(binding_classes())}
    assert {"question_mark", "left_curly_bracket", "ctrl+q", "escape", "I"} <= keys
    assert [k for k in keys if problem(k) is not None] == []


def test_the_ids_are_the_ids_the_app_binds() -> None:
    ids = binding_ids()
    assert {"app.quit", "dashboard.filter", "replay.goto", "agent.resolve", "help.close"} <= ids
    assert all(isinstance(b, Binding) for _, b in _declared([MonitorApp]))


def test_the_demo_settings_pass_the_keymap_check(tmp_path: Path) -> None:
    """The demo needs no keymap of its own now that ctrl+c quits everywhere."""
    settings = demo_settings(tmp_path, Fleet(Path("/tmp/tm-x/ingest.sock"), 6))
    assert settings.keymap == {}
    check_keymap(settings.keymap, CONFIG)


def test_make_app_refuses_a_bad_keymap() -> None:
    settings = Settings.model_validate({"keymap": {"dashboard.filter": "q"}})
    with pytest.raises(ConfigError, match=r"taken by app\.quit"):
        make_app(settings, None, config=CONFIG)  # type: ignore[arg-type]


def test_the_dashboard_and_config_show_stop_on_a_bad_keymap(tmp_path: Path) -> None:
    """Exit 2 and one line, before any screen: the dashboard ran with quit lost."""
    config = tmp_path / "c.toml"
    config.write_text('[keymap]\n"dashboard.filter" = "q"\n')
    exe = Path(sys.executable).parent / "tui-monitor"
    for args in ([], ["config", "show"]):
        done = subprocess.run(
            [str(exe), "--config", str(config), "--db", str(tmp_path / "h.db"), *args],
            capture_output=True,
            text=True,
            timeout=WAIT,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr == (
            f"tui-monitor: config error: {config}: keymap.dashboard.filter: 'q' is taken by "
            "app.quit (Quit) on the same screen; give one of them another key\n"
        )
        assert done.stdout == ""
    assert not (tmp_path / "h.db").exists()
