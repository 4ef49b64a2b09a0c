"""Claude Code transcripts written by hand for tests, in the shapes of several versions.

Our own fixtures, written from the public descriptions of the format (what public parsers and
their issues say each version writes: ccusage issue 938 and tokscale PR 563 for the repeated
response lines with growing output tokens and 2.1's missing requestId; chitragupt's subagent
spec for `<session>/subagents/agent-<id>.jsonl`, `agentId` and `isSidechain`; public
transcripts quoted in parsers' tests for `usage.iterations`, `cache_creation`, `turn_duration`
and the `<synthetic>` API error lines). No line is copied from anywhere.

Versions imitated (`Shape`):
- "1.0.17": no `gitBranch`, no `cache_creation` split, subagent lines inline with
  `isSidechain: true`, `requestId` on every assistant line, `summary` lines.
- "1.0.80": `gitBranch`, `cache_creation` 5m/1h split, `server_tool_use`.
- "2.0.30": subagents in `agent-<id>.jsonl` beside the session (lines carry `agentId`),
  `file-history-snapshot` and `system` lines.
- "2.1.9": subagents in `<session>/subagents/`, some copies without `requestId`,
  `usage.iterations` (a list, or null), `system`/`turn_duration`, `progress` lines and other
  new types, `isApiErrorMessage` lines with model `<synthetic>`.

`Ledger` keeps what was really used (each response's final usage, once), so a test can check
the reader against what the fixture meant, not against another parse of the same lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SECRET_PROMPT = "PROMPT-SECRET please refactor billing.py"
SECRET_OUTPUT = "TOOL-OUTPUT-SECRET def charge(card): ..."
SECRET_TEXT = "ANSWER-SECRET here is the code"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(ts * 1000) % 1000:03d}Z"
    )


@dataclass
class Used:
    """One response's real usage, as the fixture meant it."""

    root: str  # the top-level session it rolls up into
    input: int
    output: int
    cache_read: int
    cache_write: int
    cache_write_1h: int


@dataclass
class Ledger:
    used: dict[str, Used] = field(default_factory=dict)  # by message id

    def totals(self) -> dict[str, tuple[int, int, int, int, int]]:
        out: dict[str, list[int]] = {}
        for u in self.used.values():
            t = out.setdefault(u.root, [0, 0, 0, 0, 0])
            for i, v in enumerate(
                (u.input, u.output, u.cache_read, u.cache_write, u.cache_write_1h)
            ):
                t[i] += v
        return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in out.items()}


class Transcript:
    """Appends lines to one transcript file in the shape of `version`."""

    def __init__(
        self,
        path: Path,
        session: str,
        *,
        version: str = "2.1.9",
        cwd: str = "/home/dev/project",
        branch: str | None = "main",
        agent: str | None = None,
        sidechain: bool = False,
        ledger: Ledger | None = None,
        start: float = 1_767_261_600.0,  # 2026-01-01T10:00:00Z
    ) -> None:
        self.path = path
        self.session = session
        self.version = version
        self.cwd = cwd
        self.branch = branch
        self.agent = agent
        self.sidechain = sidechain or agent is not None
        self.ledger = ledger if ledger is not None else Ledger()
        self.ts = start
        self.n = 0
        path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def old(self) -> bool:
        return self.version.startswith("1.0.") and self.version < "1.0.50"

    def _base(self, kind: str, sidechain: bool | None = None) -> dict[str, Any]:
        self.n += 1
        self.ts += 1.25
        d: dict[str, Any] = {
            "parentUuid": f"{self.session}-{self.n - 1}" if self.n > 1 else None,
            "isSidechain": self.sidechain if sidechain is None else sidechain,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session,
            "version": self.version,
        }
        if self.branch is not None and not self.old:
            d["gitBranch"] = self.branch
        if self.agent is not None:
            d["agentId"] = self.agent
        d["type"] = kind
        d["uuid"] = f"{self.session}-{self.agent}-{self.n}"
        d["timestamp"] = iso(self.ts)
        return d

    def write(self, *objs: dict[str, Any] | bytes) -> None:
        with self.path.open("ab") as f:
            for o in objs:
                f.write(o if isinstance(o, bytes) else json.dumps(o).encode() + b"\n")

    def user(self, text: str = SECRET_PROMPT, *, sidechain: bool | None = None) -> None:
        d = self._base("user", sidechain)
        d["message"] = {
            "role": "user",
            "content": text if self.old else [{"type": "text", "text": text}],
        }
        self.write(d)

    def tool_result(self, tool_id: str) -> None:
        d = self._base("user")
        d["message"] = {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": SECRET_OUTPUT}],
        }
        d["toolUseResult"] = {"stdout": SECRET_OUTPUT, "stderr": "", "interrupted": False}
        self.write(d)

    def response(
        self,
        msg_id: str,
        *,
        model: str = "claude-sonnet-4-5-20250929",
        input: int = 3,
        output: int = 120,
        cache_read: int = 0,
        cache_write: int = 0,
        cache_write_1h: int = 0,
        tools: tuple[str, ...] = (),
        copies: int = 2,
        end_turn: bool = False,
        root: str | None = None,
        count: bool = True,
        sidechain: bool | None = None,
        iterations: object = "auto",
        searches: int = 0,
    ) -> None:
        """One response written as `copies` lines (one per content block), output growing;
        the last copy carries the final figures."""
        blocks: list[dict[str, Any]] = [{"type": "text", "text": SECRET_TEXT}]
        blocks += [
            {
                "type": "tool_use",
                "id": f"toolu_{msg_id}_{i}",
                "name": name,
                "input": {"command": SECRET_OUTPUT},
            }
            for i, name in enumerate(tools)
        ]
        copies = max(copies, len(blocks))
        for c in range(copies):
            last = c == copies - 1
            usage: dict[str, Any] = {
                "input_tokens": input,
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
                "output_tokens": output if last else max(1, output * c // copies),
            }
            if not self.old:
                usage["cache_creation"] = {
                    "ephemeral_5m_input_tokens": cache_write - cache_write_1h,
                    "ephemeral_1h_input_tokens": cache_write_1h,
                }
                usage["server_tool_use"] = {
                    "web_search_requests": searches,
                    "web_fetch_requests": 0,
                }
            usage["service_tier"] = "standard"
            if self.version.startswith("2.1"):
                # A part of the response again: adding it would count twice.
                usage["iterations"] = (
                    [
                        {
                            "input_tokens": input,
                            "output_tokens": usage["output_tokens"],
                            "type": "message",
                        }
                    ]
                    if iterations == "auto"
                    else iterations
                )
            d = self._base("assistant", sidechain)
            d["message"] = {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [blocks[min(c, len(blocks) - 1)]],
                "stop_reason": ("end_turn" if end_turn else "tool_use" if tools else None)
                if last
                else None,
                "stop_sequence": None,
                "usage": usage,
            }
            if not (self.version.startswith("2.1") and c % 2 == 1):  # 2.1 drops it on some
                d["requestId"] = f"req_{msg_id}"
            self.write(d)
        if count:
            self.ledger.used[msg_id] = Used(
                root or self.session, input, output, cache_read, cache_write, cache_write_1h
            )

    def api_error(
        self, text: str = "API Error: 529 Overloaded", error: object = "server_error"
    ) -> None:
        d = self._base("assistant")
        d["message"] = {
            "id": f"synthetic-{self.n}",
            "model": "<synthetic>",
            "role": "assistant",
            "type": "message",
            "content": [{"type": "text", "text": text}],
            "usage": {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
        d["isApiErrorMessage"] = True
        d["error"] = error
        d["apiErrorStatus"] = 529
        self.write(d)

    def no_response(self) -> None:
        """What 2.x writes when a turn is interrupted: synthetic, not an error, not usage."""
        d = self._base("assistant")
        d["message"] = {
            "id": f"synthetic-{self.n}",
            "model": "<synthetic>",
            "role": "assistant",
            "content": [{"type": "text", "text": "No response requested."}],
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        self.write(d)

    def turn_end(self) -> None:
        d = self._base("system")
        d.update(subtype="turn_duration", durationMs=5400, isMeta=False)
        self.write(d)

    def others(self) -> None:
        """Lines of the types a reader must skip, old and new."""
        self.write(
            {"type": "summary", "summary": SECRET_TEXT, "leafUuid": "x"},
            {
                "type": "file-history-snapshot",
                "messageId": "m",
                "snapshot": {"trackedFileBackups": {}},
            },
            {"type": "progress", "data": {"type": "hook_progress"}, "timestamp": iso(self.ts)},
            {"type": "queue-operation", "operation": "enqueue", "content": SECRET_PROMPT},
            {"type": "a-type-from-the-future", "payload": [1, 2, 3]},
        )
