"""Claude Code transcript lines turned into records: usage, models, activity, errors.

Subagents write `<session>/subagents/agent-<id>.jsonl` (2.x), older versions `agent-<id>.jsonl`
beside the session, and older still inline lines with `isSidechain: true` in the session's
own file. A subagent's usage is kept under its own session id, `<parent>:agent-<id>` (or
`<parent>:sidechain` for inline lines without an agent id), whose `SessionInfo.parent_id` names
the session it rolls up into.

The traps (each has a test in tests/unit/test_claude.py):
- One response is written as several lines (one per content block) sharing `message.id`,
  `output_tokens` growing as it streams: `SessionUsage.key` is `msg:<message.id>` and a copy is
  emitted only when it has more than the last one emitted for that key; the consumer keeps,
  per key, the copy `records.supersedes` prefers (the largest: copies only grow), so the last
  copy counts, once, whatever order files are read in, across restarts and re-reads. The key
  is the message id alone: 2.1 writes copies without `requestId`, and one response seen with
  and without it must stay one.
- The same message in a parent file and a subagent file (or a resumed session's copy of its
  history) has the same key: counted once.
- `usage.iterations[]` repeats parts of the top-level usage: never added.
- `model: "<synthetic>"` lines are written by Claude Code, not billed: never usage; an API
  error (`isApiErrorMessage`) becomes a `SessionError`.
- Unknown line types and fields are skipped; versions 1.0 to 2.1 differ in which exist.

Kept: ids, times, models, token counts, tool names, cwd, git branch, version, API error
texts. Never prompt text, code or tool output: the rest of a line is dropped once parsed.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from .lines import Line
from .records import (
    SessionActivity,
    SessionError,
    SessionInfo,
    SessionRecord,
    SessionUsage,
)

FAMILY: Final = "claude-code"
SYNTHETIC = "<synthetic>"
_COPIES = 1 << 16  # response keys remembered to drop repeated copies (the consumer dedupes too)
_TOOLS = 1 << 14
_ERROR_TEXT = 500
_ERROR_TYPE = 100


# Most bytes are tool output coming back (user lines with tool_result blocks) and bookkeeping
# lines; they say nothing monitoring needs, so they are recognised without parsing. Inside a
# JSON string every quote is escaped, so these byte strings with bare quotes occur only as the
# structure itself, never in text: a line without `"type":"assistant"` is no response, one
# with `"type":"tool_result"` is a tool's output, and the first `"type":"` of a bookkeeping
# line is its own (checked: a line with spaces after the colons is simply parsed).
_ASSISTANT = b'"type":"assistant"'
_TOOL_RESULT = b'"type":"tool_result"'
_TYPE = b'"type":"'
_BOOKKEEPING = tuple(
    b'%s"' % t for t in (b"progress", b"file-history-snapshot", b"queue-operation", b"summary")
)


def _skipped(data: bytes) -> bool:
    at = data.find(_TYPE)
    return at >= 0 and data.startswith(_BOOKKEEPING, at + len(_TYPE))


class ClaudeLines:
    """Turns the lines of every transcript into records; keeps only what dedupes them.

    Args:
        counters: Where "bad_lines", "skipped_types", "usage" and "errors_seen" are counted.
        say: Logs one line for a person (a file's first bad line, naming file and line).
        since: Epoch seconds: older lines give no usage, activity or error records.
    """

    def __init__(
        self, counters: dict[str, int], say: Callable[[str], None], since: float | None = None
    ) -> None:
        self.counters = counters
        counters.update(bad_lines=0, skipped_types=0, usage=0, errors_seen=0)
        self._say = say
        self._since = since
        self._files: dict[str, _FileInfo] = {}
        self._copies: OrderedDict[int, tuple[int, int]] = OrderedDict()
        """Response keys (hashed: a tenth of the strings' memory) -> the rank handed out."""
        self._tools: OrderedDict[str, None] = OrderedDict()
        self._infos: dict[str, tuple[str | None, ...]] = {}
        self._bad_said: set[str] = set()

    def forget(self, path: str) -> None:
        """The file is gone: drop what was kept about it."""
        self._files.pop(path, None)
        self._bad_said.discard(path)

    def known(self) -> list[str]:
        return list(self._files)

    def line(self, item: Line, out: list[SessionRecord]) -> None:
        """Append the records of one transcript line to `out`."""
        data = item.data
        if _ASSISTANT not in data and (_TOOL_RESULT in data or _skipped(data)):
            self.counters["skipped_types"] += 1  # not parsed at all: most of the bytes
            return
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            obj = None
        if not isinstance(obj, dict):
            self.counters["bad_lines"] += 1
            if item.path not in self._bad_said:  # one log line a file, the rest counted
                self._bad_said.add(item.path)
                self._say(f"{item.path}:{item.number}: not a JSON object; skipped")
            return
        kind = obj.get("type")
        if kind not in ("assistant", "user", "system"):
            self.counters["skipped_types"] += 1  # summary, progress, file-history-snapshot, ...
            return
        meta = self._files.get(item.path)
        if meta is None:
            meta = self._files[item.path] = _FileInfo.of(item.path)
        session, parent = meta.session_of(obj)
        ts = _time(obj.get("timestamp"))
        if ts is not None:
            meta.last_ts = ts
        else:
            ts = meta.last_ts
        self._info(obj, session, parent, ts, out)
        if ts is None or (self._since is not None and ts < self._since):
            return
        if kind == "assistant":
            self._assistant(obj, session, ts, item, out)
        elif kind == "user":
            self._user(obj, session, ts, out)
        else:
            self._system(obj, session, ts, out)

    def _info(
        self,
        obj: dict[str, Any],
        session: str,
        parent: str | None,
        ts: float | None,
        out: list[SessionRecord],
    ) -> None:
        old = self._infos.get(session, (None, None, None))
        fields = (obj.get("cwd"), obj.get("gitBranch"), obj.get("version"))
        new = tuple(v if isinstance(v, str) and v else o for v, o in zip(fields, old, strict=True))
        if session in self._infos and new == old:
            return
        self._infos[session] = new
        cwd, branch, version = new
        out.append(SessionInfo(FAMILY, session, parent, cwd, branch, version, ts))

    def _assistant(
        self, obj: dict[str, Any], session: str, ts: float, item: Line, out: list[SessionRecord]
    ) -> None:
        msg = obj.get("message")
        if not isinstance(msg, dict):
            return
        model = msg.get("model")
        if obj.get("isApiErrorMessage") is True:
            self.counters["errors_seen"] += 1
            out.append(SessionError(FAMILY, session, ts, _error_type(obj), _error_text(msg)))
        if model == SYNTHETIC or not isinstance(model, str):
            return  # written by Claude Code itself: nothing billed
        mid = msg.get("id")
        if isinstance(mid, str) and mid:
            key = f"msg:{mid}"
        elif isinstance(obj.get("uuid"), str):
            key = f"line:{obj['uuid']}"
        else:
            key = f"at:{item.path}:{item.number}"
        first = hash(key) not in self._copies
        usage = msg.get("usage")
        grew = first
        if isinstance(usage, dict):
            grew = self._usage(usage, key, model, session, ts, out)
        elif first:
            self._remember(key, (0, 0))
        if first:
            out.append(SessionActivity(FAMILY, session, ts, "assistant"))
        content = msg.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    self._tool(block, session, ts, out)
        if msg.get("stop_reason") == "end_turn" and grew:
            out.append(SessionActivity(FAMILY, session, ts, "turn_end"))

    def _usage(
        self,
        usage: dict[str, Any],
        key: str,
        model: str,
        session: str,
        ts: float,
        out: list[SessionRecord],
    ) -> bool:
        """Hand out this copy if it is further along than any before; whether it was."""
        inp = _int(usage.get("input_tokens"))
        output = _int(usage.get("output_tokens"))
        read = _int(usage.get("cache_read_input_tokens"))
        write = _int(usage.get("cache_creation_input_tokens"))
        split = usage.get("cache_creation")
        w1h = 0
        if isinstance(split, dict):
            w5m, w1h = (
                _int(split.get(k))
                for k in ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")
            )
            write = max(write, w5m + w1h)
        searches = 0
        server = usage.get("server_tool_use")
        if isinstance(server, dict):
            searches = _int(server.get("web_search_requests"))
        rank = (output, inp + read + write + searches)
        old = self._copies.get(hash(key))
        if old is not None:
            self._copies.move_to_end(hash(key))
            if rank <= old:
                return False  # a repeated or earlier copy
        self._remember(key, rank)
        self.counters["usage"] += 1
        out.append(
            SessionUsage(
                FAMILY, session, ts, model, key, inp, output, read, write, min(w1h, write),
                web_search_requests=searches,
            )
        )  # fmt: skip
        return True

    def _remember(self, key: str, rank: tuple[int, int]) -> None:
        self._copies[hash(key)] = rank
        if len(self._copies) > _COPIES:
            self._copies.popitem(last=False)

    def _tool(
        self, block: dict[str, Any], session: str, ts: float, out: list[SessionRecord]
    ) -> None:
        name = block.get("name")
        if not isinstance(name, str):
            return
        tid = block.get("id")
        if isinstance(tid, str):
            if tid in self._tools:
                return  # the same block in a repeated copy
            self._tools[tid] = None
            if len(self._tools) > _TOOLS:
                self._tools.popitem(last=False)
        out.append(SessionActivity(FAMILY, session, ts, "tool", name))

    def _user(self, obj: dict[str, Any], session: str, ts: float, out: list[SessionRecord]) -> None:
        if obj.get("isMeta") is True or obj.get("isCompactSummary") is True:
            return
        msg = obj.get("message")
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            texts: list[object] = [content]
        elif isinstance(content, list):
            if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
                return  # a tool's output coming back: the turn goes on
            texts = [b.get("text") for b in content if isinstance(b, dict)]
        else:
            return
        if any(isinstance(t, str) and t.startswith("[Request interrupted by user") for t in texts):
            out.append(SessionActivity(FAMILY, session, ts, "turn_end"))
        else:
            out.append(SessionActivity(FAMILY, session, ts, "user"))

    def _system(
        self, obj: dict[str, Any], session: str, ts: float, out: list[SessionRecord]
    ) -> None:
        subtype = obj.get("subtype")
        if subtype == "turn_duration":
            out.append(SessionActivity(FAMILY, session, ts, "turn_end"))
        elif subtype == "api_error" or obj.get("level") == "error":
            self.counters["errors_seen"] += 1
            out.append(SessionError(FAMILY, session, ts, _error_type(obj), _error_text(obj)))


class _FileInfo:
    """What a transcript's path says: the session it belongs to, the subagent it is."""

    __slots__ = ("agent", "last_ts", "session")

    def __init__(self, session: str | None, agent: str | None) -> None:
        self.session = session
        self.agent = agent
        self.last_ts: float | None = None

    @classmethod
    def of(cls, path: str) -> _FileInfo:
        p = Path(path)
        stem = p.stem
        if not stem.startswith("agent-"):
            return cls(stem, None)
        agent = stem[len("agent-") :]
        if p.parent.name == "subagents":  # <session>/subagents/agent-<id>.jsonl
            return cls(p.parent.parent.name, agent)
        return cls(None, agent)  # agent-<id>.jsonl beside the session: its lines say whose

    def session_of(self, obj: dict[str, Any]) -> tuple[str, str | None]:
        """(the session a line counts under, the session that rolls it up or None)."""
        sid = obj.get("sessionId")
        if not isinstance(sid, str) or not sid:
            sid = self.session or "unknown"
        agent = obj.get("agentId")
        if not isinstance(agent, str) or not agent:
            agent = self.agent
        if agent is not None:
            return f"{sid}:agent-{agent}", sid
        if obj.get("isSidechain") is True:
            return f"{sid}:sidechain", sid
        return sid, None


def _int(v: object) -> int:
    """A token count as written; anything else (null, text, negative, bool) counts 0."""
    if type(v) is int:
        return v if v > 0 else 0
    if type(v) is float and v.is_integer() and v > 0:
        return int(v)
    return 0


def _time(v: object) -> float | None:
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(v).timestamp()
        except ValueError:
            return None
    if type(v) in (int, float) and v == v:  # epoch seconds or milliseconds (not NaN)
        n = float(v)  # type: ignore[arg-type]
        return n / 1000 if n > 1e11 else n
    return None


def _error_type(obj: dict[str, Any]) -> str:
    err = obj.get("error")
    while isinstance(err, dict):  # {"error": {"type": "error", "error": {"type": ...}}}
        inner = err.get("error")
        err = inner if isinstance(inner, dict) else err.get("type")
    kind = err if isinstance(err, str) and err else "api_error"
    status = obj.get("apiErrorStatus")
    kind = kind[:_ERROR_TYPE]
    return f"{kind} ({status})" if type(status) is int else kind


def _error_text(msg: dict[str, Any]) -> str:
    """The error's own words (Claude Code's, not the user's), bounded."""
    content = msg.get("content")
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                return str(block["text"])[:_ERROR_TEXT]
    if isinstance(content, str):
        return content[:_ERROR_TEXT]
    err = msg.get("error")
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        return str(err["message"])[:_ERROR_TEXT]
    return ""
