"""Our hook entries in an agent's own settings (`tui-monitor integrate`): added, refreshed,
removed, and never anything else of the user's touched.

Claude Code (`$CLAUDE_CONFIG_DIR/settings.json`, default `~/.claude/settings.json`) gets HTTP
hooks posting to `/hooks/claude-code`, the hooks token written into their `Authorization`
header, so the file is made readable by its owner only. The token could have come from the
environment instead (`allowedEnvVars` + `$VAR`), but only agents started with that variable
set would then report, and integrating once must cover every Claude Code session on the box.
SessionStart alone runs `tui_monitor.hookpost` as a command hook: Claude Code never fires an
HTTP hook for it (anthropics/claude-code#30170). Claude Code rejects a whole settings file
that names an event it does not know (e.g. StopFailure before 2.1.78), so the events written
follow the installed version.

Codex (`$CODEX_HOME/hooks.json`, default `~/.codex/hooks.json`) gets command hooks running
`tui_monitor.hookpost`, which reads the token from its file at each call: no secret in the
file. Ours are recognised by what they do (an HTTP hook whose URL path is our endpoint, a
command running `tui_monitor.hookpost`), never by a marker key: Claude Code strips unknown
keys from hook entries when it rewrites the file (anthropics/claude-code#88113).
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import TuiMonitorError

HOOKPOST = "tui_monitor.hookpost"
HTTP_TIMEOUT = 2
"""Seconds Claude Code waits for our answer (we answer in milliseconds; a refused connection
fails at once): a hung recorder costs an event at most this."""
COMMAND_TIMEOUT = 5
"""Seconds an agent gives our command hook (it gives up by itself after 1.5)."""
HTTP_MIN = (2, 1, 63)
"""The first Claude Code known to run HTTP hooks (anthropics/claude-code#30170 tested it)."""
CLAUDE_EVENTS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("UserPromptSubmit", HTTP_MIN),
    ("PreToolUse", HTTP_MIN),
    ("PermissionRequest", HTTP_MIN),
    ("PostToolUse", HTTP_MIN),
    ("PostToolUseFailure", HTTP_MIN),
    ("Notification", HTTP_MIN),
    ("SubagentStart", HTTP_MIN),
    ("SubagentStop", HTTP_MIN),
    ("PreCompact", HTTP_MIN),
    ("Stop", HTTP_MIN),
    ("SessionEnd", HTTP_MIN),
    ("Elicitation", (2, 1, 78)),
    ("ElicitationResult", (2, 1, 78)),
    ("PostCompact", (2, 1, 78)),
    ("StopFailure", (2, 1, 78)),
)
"""Event -> the first version we write it for (StopFailure came in 2.1.78; the others of that
row are written from there too, to be sure the installed version knows them)."""
CODEX_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "Stop",
)
"""The events every Codex with hooks.json has (codex-rs/hooks)."""


class IntegrateError(TuiMonitorError):
    """A settings file we must not touch (unreadable, not JSON, not the shape we know)."""

    exit_code = 2


def version(text: str) -> tuple[int, int, int] | None:
    """`2.1.80 (Claude Code)` -> (2, 1, 80)."""
    head = text.strip().split(" ", 1)[0].lstrip("v")
    parts = head.split(".")
    if len(parts) < 3 or not all(p.isdigit() for p in parts[:3]):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def hookpost_command(url: str, token_file: Path) -> str:
    """The shell command an agent runs: this Python, without the agent's cwd on its path (a
    project holding a `tui_monitor` folder must not be imported instead: `-P`)."""
    return shlex.join([sys.executable, "-P", "-m", HOOKPOST, url, str(token_file)])


def claude_entries(url: str, token: str, token_file: Path,
                   have: tuple[int, int, int]) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Event -> our hook for the Claude Code version `have`."""
    http = {
        "type": "http",
        "url": url,
        "headers": {"Authorization": f"Bearer {token}"},
        "timeout": HTTP_TIMEOUT,
    }
    out: dict[str, dict[str, Any]] = {
        "SessionStart": {
            "type": "command",
            "command": hookpost_command(url, token_file),
            "timeout": COMMAND_TIMEOUT,
        }
    }
    for event, since in CLAUDE_EVENTS:
        if have >= since:
            out[event] = dict(http)
    return out


def codex_entries(url: str, token_file: Path) -> dict[str, dict[str, Any]]:
    command = hookpost_command(url, token_file)
    return {
        e: {"type": "command", "command": command, "timeout": COMMAND_TIMEOUT} for e in CODEX_EVENTS
    }


def is_ours(hook: object, endpoint: str) -> bool:
    """Whether a hook entry is one of ours (any port or token: an old one is replaced)."""
    if not isinstance(hook, dict):
        return False
    if hook.get("type") == "http" and isinstance(hook.get("url"), str):
        try:
            return urlsplit(hook["url"]).path == endpoint
        except ValueError:
            return False
    command = hook.get("command")
    return isinstance(command, str) and f" {HOOKPOST} " in f" {command} "


@dataclass(slots=True)
class Change:
    """What `integrate` would do to one file."""

    path: Path
    before: str | None
    """The file's text, None when there is none."""
    after: str | None
    """The new text, None to remove the file (nothing of the user's was in it)."""
    private: bool
    """The file holds a secret: written 0600."""
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.after


def read_settings(path: Path) -> tuple[str | None, dict[str, Any]]:
    """The file's text and object; IntegrateError (one line) when it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise IntegrateError(f"{path}: cannot read it: {reason}") from None
    if not text.strip():
        return text, {}
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise IntegrateError(f"{path}: not valid JSON ({str(exc)[:120]}); left as it is") from None
    if not isinstance(doc, dict):
        raise IntegrateError(f"{path}: not a JSON object; left as it is")
    hooks = doc.get("hooks")
    if hooks is not None and not isinstance(hooks, dict):
        raise IntegrateError(f"{path}: `hooks` is not an object; left as it is")
    for event, groups in (hooks or {}).items():
        if not isinstance(groups, list):
            raise IntegrateError(f"{path}: hooks.{event} is not a list; left as it is")
    return text, doc


def remove_ours(doc: dict[str, Any], endpoint: str) -> bool:
    """Take our hooks out, and every group, event list or `hooks` object that held only them
    (what the user wrote stays, empty or not). Whether anything was ours."""
    hooks = doc.get("hooks")
    if not isinstance(hooks, dict):
        return False
    found = False
    for event in list(hooks):
        kept_groups, dropped = [], False
        for group in hooks[event]:
            inner = group.get("hooks") if isinstance(group, dict) else None
            kept = (
                [h for h in inner if not is_ours(h, endpoint)] if isinstance(inner, list) else None
            )
            if kept is None or inner is None or len(kept) == len(inner):
                kept_groups.append(group)
                continue
            dropped = True
            if kept:
                kept_groups.append({**group, "hooks": kept})
        if not dropped:
            continue
        found = True
        if kept_groups:
            hooks[event] = kept_groups
        else:
            del hooks[event]
    if found and not hooks:
        del doc["hooks"]
    return found


def add_ours(doc: dict[str, Any], entries: dict[str, dict[str, Any]]) -> None:
    hooks = doc.setdefault("hooks", {})
    for event, hook in entries.items():
        hooks.setdefault(event, []).append({"hooks": [hook]})


def render(doc: dict[str, Any], like: str | None) -> str:
    """JSON as Claude Code and Codex write it (two-space indent), ending as `like` did."""
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return text + "\n" if like is None or like.endswith("\n") else text


def plan(path: Path, endpoint: str, entries: dict[str, dict[str, Any]] | None,
         *, private: bool) -> Change:  # fmt: skip
    """The change for `path`: ours refreshed (`entries`), or removed (None: a file that held
    only ours is removed, as it was before integrate made it)."""
    before, doc = read_settings(path)
    original = json.loads(json.dumps(doc))
    found = remove_ours(doc, endpoint)
    if entries is not None:
        add_ours(doc, entries)
    elif found and not doc:
        return Change(path, before, None, private)
    if doc == original and before is not None:
        return Change(path, before, before, private)  # the same settings: the user's layout
    if entries is None:
        kept = _backup_holding(path, doc)
        if kept is not None:  # uninstall: the user's own file, byte for byte, as it was
            return Change(path, before, kept, private)
    return Change(path, before, render(doc, before), private)


def _backup_holding(path: Path, doc: dict[str, Any]) -> str | None:
    """The text of the newest backup `write` made of `path` whose settings are `doc`."""
    target = path.resolve() if path.is_symlink() else path
    try:
        backups = sorted(target.parent.glob(f"{glob.escape(target.name)}.bak-*"), reverse=True)
    except OSError:
        return None
    for backup in backups[:20]:
        try:
            text = backup.read_text(encoding="utf-8")
            if json.loads(text) == doc:
                return text
        except (OSError, ValueError):
            continue
    return None


def write(change: Change) -> Path | None:
    """Apply `change` (a symlinked file is written through its link); the backup made first
    (`<name>.bak-<YYYYmmdd-HHMMSS>`), or None when there was no file."""
    target = change.path.resolve() if change.path.is_symlink() else change.path
    backup = None
    if change.before is not None and target.exists():
        backup = target.with_name(f"{target.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while backup.exists():
            n += 1
            backup = backup.with_name(f"{target.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        shutil.copy2(target, backup)
        if change.private:
            os.chmod(backup, 0o600)
    if change.after is None:
        target.unlink(missing_ok=True)
        return backup
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o600 if change.private else _mode(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(change.after)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return backup


def _mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o644 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
