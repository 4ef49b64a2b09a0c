"""Gemini CLI chat recordings written by hand from the public format, with the truth.

Learned from gemini-cli's `chatRecordingService.ts` and `chatRecordingTypes.ts` (no fixture
text copied): a `ConversationRecord` `{sessionId, projectHash, startTime, lastUpdated,
messages, kind?, directories?}`, written as one pretty-printed `.json` document rewritten on
every change (2025 versions), or as `.jsonl` (2026): the metadata first, then each message
appended whole every time it changes (the `gemini` message again once its `tokens` arrive,
again when a tool call is added), `{"$set": {...}}` updates and `{"$rewindTo": id}`. Tokens are
`usageMetadata`'s: `input` (promptTokenCount, cache included), `output` (candidates),
`cached`, `thoughts`, `tool` (toolUsePromptTokenCount), `total`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.codex_rollouts import iso


@dataclass(frozen=True)
class Call:
    """One model call's usage, in Gemini's meaning."""

    session: str
    input: int
    output: int
    cached: int = 0
    thoughts: int = 0
    tool: int = 0


@dataclass
class Recording:
    session: str
    start: float
    kind: str | None = None
    model: str = "gemini-2.5-pro"
    lines: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    now: float = 0.0
    serial: int = 0

    def __post_init__(self) -> None:
        self.now = self.start
        meta: dict[str, Any] = {
            "sessionId": self.session,
            "projectHash": "ab" * 32,
            "startTime": iso(self.start),
            "lastUpdated": iso(self.start),
        }
        if self.kind:
            meta["kind"] = self.kind
            meta["directories"] = ["/work/sub"]
        self.lines.append(meta)

    def _push(self, message: dict[str, Any]) -> None:
        self.messages[message["id"]] = message
        self.lines.append(json.loads(json.dumps(message)))
        self.lines.append({"$set": {"lastUpdated": iso(self.now)}})

    def user(self, words: str = "refactor the parser") -> str:
        self.now += 5
        self.serial += 1
        mid = f"{self.session}-u{self.serial}"
        self._push({"id": mid, "timestamp": iso(self.now), "type": "user",
                    "content": [{"text": words}]})  # fmt: skip
        return mid

    def answer(self, call: Call | None, tools: tuple[str, ...] = (), words: str = "ok") -> str:
        """A `gemini` message: first without tokens, then again with them, then with each
        tool call (as the recorder appends it)."""
        self.now += 3
        self.serial += 1
        mid = f"{self.session}-g{self.serial}"
        message: dict[str, Any] = {
            "id": mid, "timestamp": iso(self.now), "type": "gemini", "content": words,
            "thoughts": [], "model": self.model,
        }  # fmt: skip
        self._push(message)
        if call is not None:
            self.calls.append(call)
            message = dict(message, tokens={
                "input": call.input, "output": call.output, "cached": call.cached,
                "thoughts": call.thoughts, "tool": call.tool,
                "total": call.input + call.output + call.thoughts + call.tool,
            })  # fmt: skip
            self._push(message)
        for n, name in enumerate(tools):
            calls = [*message.get("toolCalls", []), {
                "id": f"{mid}-t{n}", "name": name, "args": {"path": "/secret/file"},
                "result": [{"text": "SECRET tool output"}], "status": "success",
                "timestamp": iso(self.now + n),
            }]  # fmt: skip
            message = dict(message, toolCalls=calls)
            self._push(message)
        return mid

    def error(self, words: str) -> None:
        self.serial += 1
        self._push({"id": f"{self.session}-e{self.serial}", "timestamp": iso(self.now),
                    "type": "error", "content": words})  # fmt: skip

    def rewind(self, mid: str) -> None:
        self.lines.append({"$rewindTo": mid})
        keep = list(self.messages)[: list(self.messages).index(mid)]
        self.messages = {k: self.messages[k] for k in keep}

    def rewrite_all(self) -> None:
        """`updateMessagesFromHistory`: every message again, in one `$set`."""
        self.lines.append({"$set": {"messages": list(self.messages.values())}})

    def jsonl(self) -> bytes:
        return b"".join(json.dumps(line).encode() + b"\n" for line in self.lines)

    def document(self) -> bytes:
        meta = dict(self.lines[0], lastUpdated=iso(self.now), messages=list(self.messages.values()))
        return json.dumps(meta, indent=2).encode()


def gemini_expected(calls: list[Call]) -> dict[str, dict[str, int]]:
    """Per session, records.py's meaning: cache out of input, the tool prompt in it, thoughts
    billed as output."""
    totals: dict[str, dict[str, int]] = {}
    for c in calls:
        t = totals.setdefault(c.session, dict.fromkeys(("input", "output", "read", "write"), 0))
        t["input"] += c.input - c.cached + c.tool
        t["output"] += c.output + c.thoughts
        t["read"] += c.cached
    return totals


def chats(root: Path, project: str = "proj", cwd: str | None = "/work/proj") -> Path:
    """A project directory under `~/.gemini/tmp` with its `chats/` (and the `.project_root`
    newer versions keep)."""
    folder = root / ".gemini" / "tmp" / project / "chats"
    folder.mkdir(parents=True)
    if cwd is not None:
        (folder.parent / ".project_root").write_text(cwd)
    return folder
