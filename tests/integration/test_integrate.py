"""`tui-monitor integrate` run as the real console script on settings files holding the user's
own hooks (CLAUDE_CONFIG_DIR and CODEX_HOME point into tmp: conftest's isolated_dirs)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_cli import tui_monitor

USER_SETTINGS = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}
        ],
    },
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tui_monitor(), *args], capture_output=True, text=True, timeout=60,
                          env=os.environ.copy(), stdin=subprocess.DEVNULL)  # fmt: skip


def claude_file() -> Path:
    path = Path(os.environ["CLAUDE_CONFIG_DIR"]) / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_claude_code_keeps_user_hooks_is_idempotent_and_uninstall_restores() -> None:
    path = claude_file()
    original = json.dumps(USER_SETTINGS, indent=2) + "\n"
    path.write_text(original)
    os.chmod(path, 0o644)
    dry = run("integrate", "claude-code", "--agent-version", "2.1.80", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert '+            "url": "http://127.0.0.1:4318/hooks/claude-code",' in dry.stdout
    assert "Bearer <hooks token>" in dry.stdout and "nothing written" in dry.stdout
    assert path.read_text() == original and len(list(path.parent.iterdir())) == 1

    done = run("integrate", "claude-code", "--agent-version", "2.1.80")
    assert done.returncode == 0, done.stderr
    token = (Path(os.environ["XDG_DATA_HOME"]) / "tui-monitor" / "hooks.token").read_text()
    assert token.strip() not in done.stdout  # the diff masks it
    doc = json.loads(path.read_text())
    assert doc["model"] == "opus" and doc["permissions"] == USER_SETTINGS["permissions"]
    assert doc["hooks"]["Stop"][0] == USER_SETTINGS["hooks"]["Stop"][0]  # type: ignore[index]
    assert doc["hooks"]["PreToolUse"][0]["matcher"] == "Bash"
    ours = doc["hooks"]["StopFailure"][0]["hooks"][0]
    assert ours["type"] == "http" and ours["headers"]["Authorization"] == f"Bearer {token.strip()}"
    assert "tui_monitor.hookpost" in doc["hooks"]["SessionStart"][0]["hooks"][0]["command"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "0600" in done.stdout
    backups = [p for p in path.parent.iterdir() if p.name.startswith("settings.json.bak-")]
    assert [b.read_text() for b in backups] == [original]

    written = path.read_text()
    again = run("integrate", "claude-code", "--agent-version", "2.1.80")
    assert again.returncode == 0 and "no change" in again.stdout
    assert path.read_text() == written

    gone = run("integrate", "claude-code", "--uninstall")
    assert gone.returncode == 0, gone.stderr
    assert path.read_text() == original


def test_older_claude_code_gets_only_the_events_it_knows() -> None:
    path = claude_file()
    assert run("integrate", "claude-code", "--agent-version", "2.1.70").returncode == 0
    events = set(json.loads(path.read_text())["hooks"])
    assert "PermissionRequest" in events and "StopFailure" not in events
    old = run("integrate", "claude-code", "--agent-version", "2.0.10")
    assert old.returncode == 2 and len(old.stderr.strip().splitlines()) == 1


def test_codex_hooks_json_created_then_removed(tmp_path: Path) -> None:
    path = Path(os.environ["CODEX_HOME"]) / "hooks.json"
    done = run("integrate", "codex")
    assert done.returncode == 0, done.stderr
    assert "/hooks" in done.stdout  # the trust step is said
    doc = json.loads(path.read_text())
    command = doc["hooks"]["PermissionRequest"][0]["hooks"][0]["command"]
    assert "tui_monitor.hookpost" in command and "hooks.token" in command
    assert "Bearer" not in path.read_text()  # the token stays in its file
    assert run("integrate", "codex").stdout.count("no change") == 1
    assert run("integrate", "codex", "--uninstall").returncode == 0
    assert not path.exists()  # it held only ours: as before


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"hooks": []}', "not an object"),
        ('{"hooks": {"Stop": {}}}', "not a list"),
    ],
)
def test_bad_settings_exit_2_one_line_untouched(content: str, why: str) -> None:
    path = claude_file()
    path.write_text(content)
    done = run("integrate", "claude-code", "--agent-version", "2.1.80")
    assert done.returncode == 2 and why in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert path.read_text() == content and len(list(path.parent.iterdir())) == 1


def test_unreadable_settings_exit_2() -> None:
    path = claude_file()
    path.mkdir()  # a directory where the file should be: it cannot be read as one
    done = run("integrate", "claude-code", "--agent-version", "2.1.80")
    assert done.returncode == 2 and "cannot read it" in done.stderr
    assert path.is_dir() and list(path.iterdir()) == []


def test_output_cut_short_still_writes_the_whole_change() -> None:
    """`integrate ... | head -1`: the pipe closes after the diff's first line; the change is
    written before anything is printed, so it is never lost behind an exit status of 0."""
    path = claude_file()
    path.write_text(json.dumps(USER_SETTINGS))
    read, write = os.pipe()
    proc = subprocess.Popen(
        [*tui_monitor(), "integrate", "claude-code", "--agent-version", "2.1.80"],
        stdout=write, stderr=subprocess.PIPE, env=os.environ.copy(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write)
    os.close(read)  # nobody reads: its first write fails with EPIPE
    _, err = proc.communicate(timeout=60)
    doc = json.loads(path.read_text())
    assert (
        "StopFailure" in doc["hooks"]
        and doc["hooks"]["Stop"][0] == USER_SETTINGS["hooks"]["Stop"][0]
    ), err  # type: ignore[index]
    assert b"Traceback" not in err


def test_uninstall_gives_back_the_users_own_layout_byte_for_byte() -> None:
    """A file written by hand (one line, its own key order) comes back as it was, from the
    backup integrate made, when the settings in it are the same; edited since, the settings
    are kept and re-rendered."""
    path = claude_file()
    original = '{"model":"opus",  "hooks":{"Stop":[{"hooks":[{"type":"command","command":"x"}]}]}}'
    path.write_text(original)
    assert run("integrate", "claude-code", "--agent-version", "2.1.80").returncode == 0
    assert run("integrate", "claude-code", "--uninstall").returncode == 0
    assert path.read_text() == original
    assert run("integrate", "claude-code", "--agent-version", "2.1.80").returncode == 0
    doc = json.loads(path.read_text())
    doc["model"] = "sonnet"  # the user changes a setting while our hooks are in
    path.write_text(json.dumps(doc))
    assert run("integrate", "claude-code", "--uninstall").returncode == 0
    assert json.loads(path.read_text()) == json.loads(original) | {"model": "sonnet"}
