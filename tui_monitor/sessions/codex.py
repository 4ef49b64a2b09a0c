"""Codex CLI rollouts: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl` and
`$CODEX_HOME/archived_sessions/` (`CODEX_HOME` defaults to `~/.codex`), read line by line.

Since codex 0.31 (September 2025) each line is `{"timestamp", ["ordinal",] "type", "payload"}`:
`session_meta` (thread id, cwd, cli_version, git, source, and for a fork or subagent the thread
it came from), `turn_context` (model, cwd), `event_msg` (`token_count` with cumulative usage and
rate limits, `user_message`, `agent_message`, `task_complete`, `error`, ...) and
`response_item` (messages, tool calls). Older files (a bare meta object on line 1, then bare
items) carry no usage: their meta is read, the rest skipped. Unknown types are skipped.

Forks and subagents copy their ancestors' history into their own file: `codex_lineage` tells
the file's own lines from the copies, which add nothing. Usage is counted as increases of the
cumulative total (`codex_usage.advance`), keyed by thread and total, so a copy of the same
file (sessions/ and archived_sessions/) or a repeated snapshot counts once. What is kept:
ids, cwd, git branch, version, models, token counts, rate limits, tool names, error messages
(cut to `ERROR_MAX`), times; never prompts, answers, code or tool output.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from .codex_lineage import RolloutState, begin, file_id, inherited, is_int, is_rollout
from .codex_usage import ZERO, Tokens, advance, normalised, tokens, windows
from .fields import PATH_MAX, epoch, text
from .records import (
    Family,
    RateLimit,
    SessionActivity,
    SessionError,
    SessionInfo,
    SessionRecord,
    SessionUsage,
)

__all__ = ["FAMILY", "CodexReader", "codex_home", "is_rollout", "rollout_dirs"]

log = logging.getLogger(__name__)

FAMILY: Family = "codex"
UNKNOWN_MODEL = "unknown"
"""The model of usage written before any `turn_context` said one (some 2025-09 builds)."""
PARSE_MAX = 16 << 20
"""A line this long is not parsed: no line Codex writes that we need comes near it."""
ERROR_MAX = 1000
LOGGED_PER_FILE = 3
COUNTERS = ("lines", "blank", "bad_json", "not_object", "too_long", "skipped", "inherited",
            "duplicates", "no_session", "no_time", "errors")  # fmt: skip

_PREFIX = re.compile(
    rb'\{"timestamp":"([^"\\]{10,40})",(?:"ordinal":(\d{1,18}),)?"type":"([a-z_]{1,40})"'
    rb'(?:,"payload":\{"type":"([a-z_]{1,60})")?'
)
"""The head Codex's serde writes on every line: enough to skip a line without parsing it."""
_TOOLS = {
    "function_call": None, "custom_tool_call": None, "local_shell_call": "local_shell",
    "web_search_call": "web_search", "tool_search_call": "tool_search",
    "image_generation_call": "image_generation",
}  # fmt: skip
"""Tool-call items and the name of those that carry none (None: the item's `name`)."""
_EVENTS = frozenset(("token_count", "user_message", "agent_message", "task_started",
    "turn_started", "task_complete", "turn_complete", "turn_aborted", "error", "stream_error",
    "item_completed", "thread_settings_applied"))  # fmt: skip
Step = Literal["user", "assistant", "tool", "turn_end"]
_STEPS: dict[str, Step] = {
    "user_message": "user", "agent_message": "assistant", "task_complete": "turn_end",
    "turn_complete": "turn_end", "turn_aborted": "turn_end",
}  # fmt: skip
_ITEMS: dict[str, Step] = {"usermessage": "user", "agentmessage": "assistant"}
_PARSED = frozenset(("session_meta", "turn_context", "event_msg", "response_item",
                     "token_usage_record"))  # fmt: skip


def codex_home(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Codex's home: `CODEX_HOME` when set (as codex itself reads it), else `~/.codex`."""
    env = os.environ if environ is None else environ
    if env.get("CODEX_HOME"):
        return Path(env["CODEX_HOME"]).expanduser()
    return (Path.home() if home is None else home) / ".codex"


def rollout_dirs(environ: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    """Where rollouts live: active sessions first, then the archive (files are moved there)."""
    root = codex_home(environ, home)
    return [root / "sessions", root / "archived_sessions"]


class CodexReader:
    """Turns rollout lines into records; one reader for all files (threads span files).

    Feed each complete line once, in order, with its path and 1-based number; a number that
    does not follow the last one starts the file again (truncation, replacement).
    """

    def __init__(self) -> None:
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._files: dict[str, RolloutState] = {}
        self._seen: set[str] = set()
        self._limits: dict[tuple[str, int | None], tuple[float | None, int | None]] = {}
        """The last rate-limit snapshot shown per thread and window (one record per change)."""

    def feed(self, path: str, number: int, data: bytes) -> list[SessionRecord]:
        """The records one line adds. Never raises: a bad line costs a counter and, for the
        first few in a file, one log line naming the file and the line.

        Args:
            path: the file the line is from.
            number: its 1-based line number.
            data: the line without its newline.

        Returns:
            What the line says, possibly nothing.
        """
        st = self._files.get(path)
        if st is None or number <= st.number:
            st = self._files[path] = RolloutState(own=file_id(path))
        st.number = number
        self.counters["lines"] += 1
        try:
            return self._line(path, st, data)
        except Exception:  # a reader bug costs its line, never the recorder
            self._problem(path, st, "errors", "could not be read", exc=True)
            return []

    def forget(self, path: str) -> None:
        """Drop a file that is gone; what it added stays counted."""
        self._files.pop(path, None)

    def export_state(self, path: str) -> dict[str, Any] | None:
        """The file's state as JSON-able data, to keep beside its offset across restarts."""
        st = self._files.get(path)
        return None if st is None else st.to_json()

    def import_state(self, path: str, state: Any) -> None:
        """Resume a file where `export_state` left it (unknown or mistyped values ignored)."""
        self._files[path] = RolloutState.from_json(path, state)

    # -- one line ---------------------------------------------------------------------------

    def _line(self, path: str, st: RolloutState, data: bytes) -> list[SessionRecord]:
        if not data.strip():
            self.counters["blank"] += 1
            return []
        previous = st.last_ts  # the line before's time (a copy is written in one burst)
        head = _PREFIX.match(data)
        if head is not None:
            quick = self._quick(st, head)
            if quick is not None:
                return quick
        if len(data) > PARSE_MAX:
            self._problem(path, st, "too_long", f"is {len(data)} bytes long, not read")
            return []
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            self._problem(path, st, "bad_json", "is not JSON")
            return []
        if not isinstance(obj, dict):
            self._problem(path, st, "not_object", "is not a JSON object")
            return []
        ts = epoch(obj.get("timestamp"))
        if ts is not None:
            st.last_ts = ts
        kind, payload = obj.get("type"), obj.get("payload")
        if not isinstance(payload, dict):
            if kind is None and not st.meta_seen and text(obj.get("id")):
                return self._meta(st, obj, ts, None)  # before 0.31: a bare meta on line 1
            self.counters["skipped"] += 1
            return []
        ordinal = obj.get("ordinal")
        ordinal = ordinal if is_int(ordinal) else None
        if kind == "session_meta":
            return self._meta(st, payload, ts, ordinal)
        if kind not in _PARSED:
            self.counters["skipped"] += 1
            return []
        counted = kind == "event_msg" and payload.get("type") == "token_count"
        gap = ts - previous if counted and ts is not None and previous is not None else None
        if inherited(st, ts, ordinal, payload, gap):
            self.counters["inherited"] += 1
            if kind == "turn_context":
                self._context(st, payload, None, own=False)
            elif counted:
                self._count(st, payload, None, own=False)
            return []
        if kind == "turn_context":
            return self._context(st, payload, ts, own=True)
        if kind == "response_item":
            return self._tool(st, payload, ts)
        if kind == "event_msg":
            return self._event(st, payload, ts)
        return []  # token_usage_record: the same figures as token_count, never counted twice

    def _quick(self, st: RolloutState, head: re.Match[bytes]) -> list[SessionRecord] | None:
        """Lines settled by their head alone: skipped kinds, and the user and assistant steps
        (whose text we must not keep, so need not parse); None when the line needs parsing."""
        kind, sub = head[3].decode(), head[4].decode() if head[4] else None
        ts = epoch(head[1].decode())
        if ts is not None:
            st.last_ts = ts
        if kind not in _PARSED:
            self.counters["skipped"] += 1
            return []
        if sub is None:
            return None
        if (kind == "response_item" and sub not in _TOOLS) or (
            kind == "event_msg" and sub not in _EVENTS
        ):
            self.counters["skipped"] += 1
            return []
        if kind != "event_msg" or sub not in ("user_message", "agent_message"):
            return None
        ordinal = int(head[2]) if head[2] else None
        if inherited(st, ts, ordinal, {}):
            self.counters["inherited"] += 1
            return []
        return self._step(st, _STEPS[sub], ts)

    # -- kinds of lines -----------------------------------------------------------------------

    def _meta(
        self, st: RolloutState, payload: dict[str, Any], ts: float | None, ordinal: int | None
    ) -> list[SessionRecord]:
        learned = begin(st, payload, ts, ordinal)
        if learned != "own":
            return _info(st, ts) if learned == "parent" else []
        st.cwd = text(payload.get("cwd"), PATH_MAX)
        git = payload.get("git")
        st.branch = text(git.get("branch")) if isinstance(git, dict) else None
        st.version = text(payload.get("cli_version"))
        return _info(st, ts or st.birth)

    def _context(
        self, st: RolloutState, payload: dict[str, Any], ts: float | None, own: bool
    ) -> list[SessionRecord]:
        st.model = text(payload.get("model")) or st.model
        cwd = text(payload.get("cwd"), PATH_MAX)
        if not own or cwd is None or cwd == st.cwd:
            return []
        st.cwd = cwd
        return _info(st, ts or st.last_ts)

    def _event(
        self, st: RolloutState, payload: dict[str, Any], ts: float | None
    ) -> list[SessionRecord]:
        kind = payload.get("type")
        if kind == "token_count":
            return self._count(st, payload, ts, own=True)
        if isinstance(kind, str) and kind in _STEPS:
            return self._step(st, _STEPS[kind], ts)
        if kind == "item_completed":
            item = payload.get("item")
            step = _ITEMS.get(str(item.get("type")).lower()) if isinstance(item, dict) else None
            return self._step(st, step, ts) if step else []
        if kind == "thread_settings_applied":
            settings = payload.get("thread_settings")
            if isinstance(settings, dict):
                st.model = text(settings.get("model")) or st.model
            return []
        when = ts or st.last_ts
        if kind not in ("error", "stream_error"):
            self.counters["skipped"] += 1  # read, and nothing we keep
        if kind in ("error", "stream_error") and st.own is not None and when is not None:
            message = payload.get("message")
            return [
                SessionError(
                    family=FAMILY,
                    session_id=st.own,
                    ts=when,
                    error_type=_error_kind(payload.get("codex_error_info")) or str(kind),
                    message=text(message[:ERROR_MAX] if isinstance(message, str) else None) or "",
                )
            ]
        return []

    def _count(
        self, st: RolloutState, payload: dict[str, Any], ts: float | None, own: bool
    ) -> list[SessionRecord]:
        """A `token_count` line. A copied one only raises the counter's mark."""
        found: list[SessionRecord] = []
        info = payload.get("info")  # null before the first response of a thread
        if isinstance(info, dict):
            total = tokens(info.get("total_token_usage"))
            last = tokens(info.get("last_token_usage"))
            mark = Tokens(*st.mark) if st.mark else None
            if total is None and last is not None:  # a per-response figure only
                total = last.plus(mark or ZERO)
            key = None if total is None else f"codex:{st.own}:" + ":".join(map(str, total))
            if own and key in self._seen:
                self.counters["duplicates"] += 1  # a repeat, or a stale copy: the mark stays
            elif total is not None and key is not None:
                step, new_mark = advance(mark, total, last)
                st.mark = tuple(new_mark)
                if own and any(step):
                    found.extend(self._usage(st, key, step, ts or st.last_ts))
        when = ts or st.last_ts
        if own and st.own is not None and when is not None:
            for window in windows(payload.get("rate_limits"), when):
                slot = (st.own, window.window_minutes)
                # a reset given as "in N seconds" moves by a second or two between lines
                minute = None if window.resets_at is None else round(window.resets_at / 60)
                if self._limits.get(slot) != (window.used_percent, minute):
                    self._limits[slot] = (window.used_percent, minute)
                    found.append(RateLimit(FAMILY, st.own, when, *window))
        return found

    def _usage(
        self, st: RolloutState, key: str, step: Tokens, ts: float | None
    ) -> list[SessionRecord]:
        if st.own is None or ts is None:
            self.counters["no_session" if st.own is None else "no_time"] += 1
            return []
        self._seen.add(key)
        tokens_ = normalised(step)
        return [
            SessionUsage(
                family=FAMILY,
                session_id=st.own,
                ts=ts,
                model=st.model or UNKNOWN_MODEL,
                key=key,
                input_tokens=tokens_.input_tokens,
                output_tokens=tokens_.output_tokens,
                cache_read_tokens=tokens_.cache_read_tokens,
                cache_write_tokens=tokens_.cache_write_tokens,
            )
        ]

    def _tool(
        self, st: RolloutState, payload: dict[str, Any], ts: float | None
    ) -> list[SessionRecord]:
        kind = payload.get("type")
        if not isinstance(kind, str) or kind not in _TOOLS:
            self.counters["skipped"] += 1
            return []
        return self._step(st, "tool", ts, _TOOLS[kind] or text(payload.get("name")) or kind)

    def _step(
        self, st: RolloutState, kind: Step, ts: float | None, tool: str | None = None
    ) -> list[SessionRecord]:
        when = ts or st.last_ts
        if st.own is None or when is None:
            self.counters["no_session" if st.own is None else "no_time"] += 1
            return []
        return [SessionActivity(FAMILY, st.own, when, kind, tool)]

    def _problem(
        self, path: str, st: RolloutState, counter: str, reason: str, exc: bool = False
    ) -> None:
        self.counters[counter] += 1
        st.logged += 1
        if st.logged <= LOGGED_PER_FILE:
            more = "; more in this file are only counted" if st.logged == LOGGED_PER_FILE else ""
            log.warning("codex rollout %r line %d %s%s", path, st.number, reason, more,
                        exc_info=exc)  # fmt: skip


def _error_kind(info: Any) -> str | None:
    """`codex_error_info` as a short kind: `"usage_limit_exceeded"` or `{"rate_limited": ...}`."""
    if isinstance(info, dict) and len(info) == 1:
        info = next(iter(info))
    return text(info, 80)


def _info(st: RolloutState, ts: float | None) -> list[SessionRecord]:
    """All the file knows about its thread, as one record (the latest wins)."""
    if st.own is None:
        return []
    return [
        SessionInfo(
            family=FAMILY,
            session_id=st.own,
            parent_id=st.parent,
            cwd=st.cwd,
            git_branch=st.branch,
            version=st.version,
            ts=ts,
        )
    ]
