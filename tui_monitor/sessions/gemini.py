"""Gemini CLI chat recordings: `~/.gemini/tmp/<project>/chats/` (`GEMINI_CLI_HOME` replaces
the home directory), the only Gemini CLI files that carry token usage.

Gemini CLI (gemini-cli `packages/core/src/services/chatRecordingService.ts`) records every
session as `chats/session-<YYYY-MM-DDTHH-MM>-<first 8 of id>.json` since mid-2025: one pretty-
printed document `{sessionId, projectHash, startTime, lastUpdated, messages: [...]}` rewritten
whole on each change. Newer versions append instead, to `.jsonl`: a first line with the
metadata, then message records (a message is written again, whole, each time it changes: when
its tokens or tool calls arrive), `{"$set": {...}}` metadata updates (`$set.messages` rewrites
the whole list) and `{"$rewindTo": id}`; a resumed `.json` is carried over into a `.jsonl` with
the same message ids. Subagents write `chats/<parent session id>/<session id>.jsonl` with
`kind: "subagent"`. A `gemini` message holds the model and `tokens: {input, output, cached,
thoughts, tool, total}` from that response's `usageMetadata`: `cached` is part of `input`
(`promptTokenCount`), `thoughts` and `tool` are not part of anything else. So a message counts
once, by session and message id, and a rewind does not take back what was spent.

Not read: `logs.json` (the user's prompts, no usage), `checkpoint-*.json` (`/chat save`: API
`Content` history, no usage), `checkpoints/` (git snapshots), `tool-outputs/`, and the
telemetry outfile (usage only when the user turns telemetry on, and the same responses again).
The files name no cwd: newer versions keep it in `<project>/.project_root`; older project
directories are the sha256 of the cwd (`projectHash`), which only a known cwd can match.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .fields import PATH_MAX, count, epoch, text
from .records import (
    Family,
    SessionActivity,
    SessionError,
    SessionInfo,
    SessionRecord,
    SessionUsage,
)

__all__ = ["FAMILY", "GeminiReader", "chat_dirs", "is_chat", "project_root"]

log = logging.getLogger(__name__)

FAMILY: Family = "gemini"
UNKNOWN_MODEL = "unknown"
PARSE_MAX = 64 << 20
"""A `$set.messages` line holds the whole conversation; past this it is not parsed."""
ERROR_MAX = 1000
LOGGED_PER_FILE = 3
COUNTERS = ("lines", "blank", "bad_json", "not_object", "too_long", "skipped", "duplicates",
            "no_session", "no_time", "errors")  # fmt: skip


def chat_dirs(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Where project directories live: `$GEMINI_CLI_HOME/.gemini/tmp`, else `~/.gemini/tmp`;
    each holds `chats/` (and `chats/<parent id>/` for subagents)."""
    env = os.environ if environ is None else environ
    base = Path(env["GEMINI_CLI_HOME"]) if env.get("GEMINI_CLI_HOME") else home or Path.home()
    return base.expanduser() / ".gemini" / "tmp"


def is_chat(name: str) -> bool:
    """Whether a file under `chats/` is a recording: `.jsonl` lines (`feed`) or a whole
    `.json` document (`read_document`)."""
    return name.endswith((".jsonl", ".json"))


def project_root(chat: str) -> str | None:
    """The cwd a recording belongs to, from the `.project_root` file newer Gemini CLI keeps in
    the project directory above `chats/`; None when there is none or it cannot be read."""
    parent = Path(chat).parent
    while parent.name and parent.name != "chats":
        parent = parent.parent
    if not parent.name:
        return None
    try:
        with open(parent.parent / ".project_root", "rb") as marker:
            raw = marker.read(PATH_MAX + 1)
    except OSError:
        return None
    try:
        return text(raw.decode().strip(), PATH_MAX)
    except UnicodeDecodeError:
        return None


@dataclass
class _Chat:
    """What one recording has said so far."""

    session: str | None = None
    parent: str | None = None
    cwd: str | None = None
    last_ts: float | None = None
    number: int = 0
    logged: int = 0


class GeminiReader:
    """Turns Gemini CLI recordings into records; one reader for all files (a resumed `.json`
    goes on in a `.jsonl`, and its messages count once).

    Args:
        cwd_of: how to find a recording's cwd from its path (default: `project_root`).
    """

    def __init__(self, cwd_of: Callable[[str], str | None] = project_root) -> None:
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._cwd_of = cwd_of
        self._chats: dict[str, _Chat] = {}
        self._seen: set[str] = set()
        """Message ids already stepped, tool-call ids already shown, usage keys counted."""

    def feed(self, path: str, number: int, data: bytes) -> list[SessionRecord]:
        """The records one `.jsonl` line adds; never raises (see `CodexReader.feed`)."""
        chat = self._chats.get(path)
        if chat is None or number <= chat.number:
            chat = self._chats[path] = _Chat()
        chat.number = number
        self.counters["lines"] += 1
        if not data.strip():
            self.counters["blank"] += 1
            return []
        obj = self._parse(path, chat, data)
        try:
            return [] if obj is None else self._record(path, chat, obj)
        except Exception:  # a reader bug costs its line, never the recorder
            self._problem(path, chat, "errors", "could not be read", exc=True)
            return []

    def read_document(self, path: str, data: bytes) -> list[SessionRecord]:
        """The records a whole `.json` recording adds (read it again whenever it changes:
        messages already counted are not counted again)."""
        chat = self._chats[path] = _Chat(number=1)
        self.counters["lines"] += 1
        obj = self._parse(path, chat, data)
        try:
            if obj is None:
                return []
            found = self._record(path, chat, obj)
            messages = obj.get("messages")
            if isinstance(messages, list):
                found.extend(self._messages(chat, messages))
            return found
        except Exception:
            self._problem(path, chat, "errors", "could not be read", exc=True)
            return []

    def forget(self, path: str) -> None:
        """Drop a file that is gone; what it added stays counted."""
        self._chats.pop(path, None)

    def export_state(self, path: str) -> dict[str, Any] | None:
        """What a `.jsonl` recording has said so far (its session above all: only the first
        line names it), to keep beside its offset across restarts."""
        chat = self._chats.get(path)
        return None if chat is None else asdict(chat)

    def import_state(self, path: str, state: Any) -> None:
        """Resume a file where `export_state` left it (unknown or mistyped values ignored)."""
        chat = self._chats[path] = _Chat()
        if not isinstance(state, dict):
            return
        for name in ("session", "parent", "cwd"):
            value = state.get(name)
            setattr(chat, name, text(value, PATH_MAX) if isinstance(value, str) else None)
        ts = state.get("last_ts")
        chat.last_ts = float(ts) if isinstance(ts, int | float) and ts == ts else None
        for name in ("number", "logged"):
            value = state.get(name)
            setattr(chat, name, value if type(value) is int and value >= 0 else 0)

    # -- records --------------------------------------------------------------------------

    def _parse(self, path: str, chat: _Chat, data: bytes) -> dict[str, Any] | None:
        if len(data) > PARSE_MAX:
            self._problem(path, chat, "too_long", f"is {len(data)} bytes long, not read")
            return None
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            self._problem(path, chat, "bad_json", "is not JSON")
            return None
        if not isinstance(obj, dict):
            self._problem(path, chat, "not_object", "is not a JSON object")
            return None
        return obj

    def _record(self, path: str, chat: _Chat, obj: dict[str, Any]) -> list[SessionRecord]:
        """One line's object, in the order Gemini CLI's own loader tells them apart."""
        if "$rewindTo" in obj:
            self.counters["skipped"] += 1  # what was spent stays spent
            return []
        if isinstance(obj.get("id"), str):
            return self._messages(chat, [obj])
        update = obj.get("$set")
        if isinstance(update, dict):
            found = self._metadata(path, chat, update) if "sessionId" in update else []
            messages = update.get("messages")
            if isinstance(messages, list):
                found.extend(self._messages(chat, messages))
            return found
        if "sessionId" in obj:
            return self._metadata(path, chat, obj)
        self.counters["skipped"] += 1
        return []

    def _metadata(self, path: str, chat: _Chat, meta: dict[str, Any]) -> list[SessionRecord]:
        session = text(meta.get("sessionId"))
        if session is None:
            return []
        chat.session = session
        folder = os.path.basename(os.path.dirname(path))
        if meta.get("kind") == "subagent" and folder != "chats" and folder != session:
            chat.parent = text(folder)
        chat.cwd = chat.cwd or self._cwd_of(path)
        if chat.cwd is None and meta.get("kind") == "subagent":
            dirs = meta.get("directories")
            chat.cwd = text(dirs[0], PATH_MAX) if isinstance(dirs, list) and dirs else None
        ts = epoch(meta.get("startTime")) or epoch(meta.get("lastUpdated"))
        chat.last_ts = chat.last_ts or ts
        return [SessionInfo(FAMILY, session, parent_id=chat.parent, cwd=chat.cwd, ts=ts)]

    def _messages(self, chat: _Chat, messages: Iterable[Any]) -> list[SessionRecord]:
        found: list[SessionRecord] = []
        for message in messages:
            if isinstance(message, dict) and text(message.get("id")):
                found.extend(self._message(chat, message))
        return found

    def _message(self, chat: _Chat, msg: dict[str, Any]) -> list[SessionRecord]:
        session, mid, kind = chat.session, str(msg["id"]), msg.get("type")
        ts = epoch(msg.get("timestamp"))
        chat.last_ts = ts or chat.last_ts
        ts = ts or chat.last_ts
        if session is None or ts is None:
            self.counters["no_session" if session is None else "no_time"] += 1
            return []
        found: list[SessionRecord] = []
        first = self._once(f"step:{session}:{mid}")
        if kind == "user" and first:
            found.append(SessionActivity(FAMILY, session, ts, "user"))
        elif kind == "error" and first:
            found.append(SessionError(FAMILY, session, ts, "error", _words(msg.get("content"))))
        elif kind == "gemini":
            if first:
                found.append(SessionActivity(FAMILY, session, ts, "assistant"))
            calls = msg.get("toolCalls")
            for call in calls if isinstance(calls, list) else ():
                if isinstance(call, dict) and self._once(f"tool:{session}:{call.get('id')}"):
                    name = text(call.get("name")) or "tool"
                    when = epoch(call.get("timestamp")) or ts
                    found.append(SessionActivity(FAMILY, session, when, "tool", name))
            usage = self._usage(session, mid, msg, ts)
            found.extend(usage)
        return found

    def _usage(self, session: str, mid: str, msg: dict[str, Any], ts: float) -> list[SessionRecord]:
        tokens = msg.get("tokens")  # null until the response's usage arrives
        if not isinstance(tokens, dict):
            return []
        prompt, cached = count(tokens.get("input")), count(tokens.get("cached"))
        output = count(tokens.get("output")) + count(tokens.get("thoughts"))
        tool = count(tokens.get("tool"))
        if not (prompt or output or tool):
            return []
        key = f"gemini:{session}:{mid}"
        if not self._once(key):
            self.counters["duplicates"] += 1
            return []
        cached = min(cached, prompt)
        return [
            SessionUsage(
                family=FAMILY,
                session_id=session,
                ts=ts,
                model=text(msg.get("model")) or UNKNOWN_MODEL,
                key=key,
                input_tokens=prompt - cached + tool,
                output_tokens=output,
                cache_read_tokens=cached,
            )
        ]

    def _once(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def _problem(
        self, path: str, chat: _Chat, counter: str, reason: str, exc: bool = False
    ) -> None:
        self.counters[counter] += 1
        chat.logged += 1
        if chat.logged <= LOGGED_PER_FILE:
            more = "; more in this file are only counted" if chat.logged == LOGGED_PER_FILE else ""
            log.warning("gemini recording %r line %d %s%s", path, chat.number, reason, more,
                        exc_info=exc)  # fmt: skip


def _words(content: Any) -> str:
    """An error message's text (a string, or parts with `text`), cut to `ERROR_MAX`."""
    if isinstance(content, list):
        content = "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    if not isinstance(content, str):
        return ""
    return text(content[:ERROR_MAX], ERROR_MAX) or ""
