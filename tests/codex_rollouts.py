"""Codex rollouts written by hand from the public format, and what their model really used.

Nothing here is copied from another project's fixtures; the shapes were learned from:

- `LEGACY` (codex before 0.31, summer 2025): line 1 a bare `SessionMeta` object
  (`{"id", "timestamp", "instructions"}`), then bare response items and `{"record_type":
  "state"}` lines, no usage (openai/codex PR #3380 and its review, which moved to envelopes).
- `V0_31` (September 2025): every line `{"timestamp", "type", "payload"}` (codex-rs
  `RolloutLine`/`RolloutItem`); `token_count` events with `info: {total_token_usage,
  last_token_usage, model_context_window}` or `info: null` (protocol.rs `TokenCountEvent`);
  no `rate_limits` yet; some builds wrote no `turn_context` (ccusage's Codex guide).
- `V0_40`: `rate_limits` as flat `primary_used_percent`/`primary_window_minutes`/... fields
  (protocol.rs `RateLimitSnapshotEvent`, codex core tests of `token_count`).
- `V0_45`: `rate_limits: {primary: {used_percent, window_minutes, resets_in_seconds}, ...}`
  (xiangz19/codex-ratelimit reads this shape).
- `V0_58`: windows with `resets_at` epoch seconds, v7 thread ids, `source: "cli"`, `git`
  (protocol.rs `RateLimitWindow`, `SessionMetaLine`; a 0.58 log in tankygranny05/md-collections).
- `V0_14X` (2026 multi-agent): an `ordinal` on each line, `session_meta` with
  `parent_thread_id`, `forked_from_id`, `thread_source`, `source.subagent.thread_spawn`,
  `subagent_history_start_ordinal`; v7 `turn_id` in `turn_context`; `cache_write_input_tokens`;
  `token_usage_record` and `world_state` lines (codex-village's rollout research, codeburn
  PR #1383, the issues on CodexBar, PokeTokenBar and tokscale about forks).

A fork copies its parent's lines (metas and `token_count` included) either re-stamped at the
fork (`restamp=True`, Codex Desktop forks per ccusage #1370) or with their old times (spawned
subagents per codeburn PR #1383), and its own totals go on from the copied total; a v2
subagent (`Shape.fresh_counter`) copies only the parent's meta and counts from zero (the
PokeTokenBar #132 measurements). Each `Response` is what a model call really used: the tests
add those up with plain Python to get the truth the reader must agree with.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Shape:
    """What one Codex version writes."""

    name: str
    version: str
    envelope: bool = True
    turn_context: bool = True
    limits: str | None = None
    """None, "flat", "relative" or "absolute"."""
    v7: bool = False
    ordinals: bool = False
    turn_ids: bool = False
    cache_write: bool = False
    usage_records: bool = False
    fresh_counter: bool = False
    """A spawned child counts from zero instead of going on from its parent's total."""


LEGACY = Shape("legacy", "0.20.0", envelope=False)
V0_31 = Shape("0.31", "0.31.0")
V0_31_NO_CONTEXT = Shape("0.31-no-context", "0.31.0", turn_context=False)
V0_40 = Shape("0.40", "0.40.0", limits="flat")
V0_45 = Shape("0.45", "0.45.0", limits="relative")
V0_58 = Shape("0.58", "0.58.0", limits="absolute", v7=True)
V0_14X = Shape(
    "0.14x", "0.145.0", limits="absolute", v7=True, ordinals=True, turn_ids=True,
    cache_write=True, usage_records=True,
)  # fmt: skip
V0_14X_V2 = Shape(
    "0.14x-v2", "0.145.0", limits="absolute", v7=True, ordinals=True, turn_ids=True,
    cache_write=True, fresh_counter=True,
)  # fmt: skip
SHAPES = (V0_31, V0_31_NO_CONTEXT, V0_40, V0_45, V0_58, V0_14X, V0_14X_V2)

FIELDS = ("input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens",
          "reasoning_output_tokens")  # fmt: skip


@dataclass(frozen=True)
class Response:
    """What one model call used, in Codex's meaning (cached and cache writes inside input,
    reasoning inside output)."""

    session: str
    ts: float
    model: str
    input: int
    cached: int
    output: int
    reasoning: int = 0
    cache_write: int = 0


def iso(ts: float) -> str:
    """The RFC 3339 form Codex writes: milliseconds and Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_serial = 0


def uuid_at(ts: float, v7: bool = True) -> str:
    """A UUID minted at `ts`: version 7 (time first) or an old-style random-looking v4."""
    global _serial
    _serial += 1
    tail = f"{_serial:012x}"
    if v7:
        head = f"{int(ts * 1000):012x}"
        return f"{head[:8]}-{head[8:]}-7{tail[:3]}-8{tail[3:6]}-{tail}"
    return f"{_serial:08x}-4a4a-4{tail[:3]}-9{tail[3:6]}-{tail}"


def rollout_name(thread: str, ts: float) -> str:
    stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H-%M-%S")
    return f"rollout-{stamp}-{thread}.jsonl"


@dataclass
class Rollout:
    """One rollout file being written, with the responses its own thread really made."""

    shape: Shape
    born: float
    cwd: str = "/home/dev/project"
    model: str = "gpt-5-codex"
    thread: str = ""
    lines: list[dict[str, Any]] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    now: float = 0.0
    total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    start_ordinal: int | None = None

    def __post_init__(self) -> None:
        self.thread = self.thread or uuid_at(self.born, self.shape.v7)
        self.now = self.born

    # -- lines ------------------------------------------------------------------------------

    def add(self, kind: str, payload: dict[str, Any], gap: float = 0.05) -> dict[str, Any]:
        self.now += gap
        line: dict[str, Any] = {"timestamp": iso(self.now)}
        if self.shape.ordinals:
            line["ordinal"] = len(self.lines)
        line["type"] = kind
        line["payload"] = payload
        self.lines.append(line)
        return line

    def meta(self, parent: Rollout | None = None, how: str = "fork", **extra: Any) -> Rollout:
        """The first line. `how`: "fork" (forked_from_id), "spawn" (thread_spawn source),
        "v2" (0.14x: parent_thread_id, thread_source and a history start ordinal)."""
        if not self.shape.envelope:
            self.lines.append({"id": self.thread, "timestamp": iso(self.now), "instructions": "x"})
            return self
        payload: dict[str, Any] = {
            "id": self.thread,
            "timestamp": iso(self.now),
            "cwd": self.cwd,
            "originator": "codex_cli_rs",
            "cli_version": self.shape.version,
            "instructions": None,
            "source": "cli",
            "model_provider": "openai",
        }
        if parent is not None:
            if how == "spawn":
                spawn = {"parent_thread_id": parent.thread, "depth": 1, "agent_role": "default"}
                payload["source"] = {"subagent": {"thread_spawn": spawn}}
            else:
                payload["forked_from_id"] = parent.thread
            if how == "v2":
                payload["parent_thread_id"] = parent.thread
                payload["thread_source"] = "subagent"
                payload["session_id"] = parent.thread
        if self.shape.v7:
            payload["git"] = {"commit_hash": "0" * 40, "branch": "main"}
        payload.update(extra)
        self.add("session_meta", payload, gap=0)
        return self

    def turn(self, model: str | None = None) -> Rollout:
        self.model = model or self.model
        if self.shape.turn_context:
            payload: dict[str, Any] = {
                "cwd": self.cwd,
                "approval_policy": "on-request",
                "sandbox_policy": {"type": "workspace-write"},
                "model": self.model,
                "summary": "auto",
            }
            if self.shape.turn_ids:
                payload["turn_id"] = uuid_at(self.now + 0.05)
            self.add("turn_context", payload)
        return self

    def user(self, words: str = "please fix the failing test") -> Rollout:
        self.add("event_msg", {"type": "user_message", "message": words, "images": None})
        return self

    def agent(self, words: str = "done") -> Rollout:
        self.add("event_msg", {"type": "agent_message", "message": words})
        return self

    def tool(self, name: str, arguments: str = '{"command":["ls"]}', output: str = "ok") -> Rollout:
        call = f"call_{len(self.lines)}"
        self.add("response_item", {"type": "function_call", "name": name,
                                   "arguments": arguments, "call_id": call})  # fmt: skip
        self.add("response_item", {"type": "function_call_output", "call_id": call,
                                   "output": output})  # fmt: skip
        return self

    def done(self) -> Rollout:
        self.add("event_msg", {"type": "task_complete", "last_agent_message": "done"})
        return self

    def respond(
        self,
        input: int,
        cached: int = 0,
        output: int = 100,
        reasoning: int = 0,
        cache_write: int = 0,
        gap: float = 3.0,
        limits: tuple[float, float] = (12.0, 40.0),
    ) -> Rollout:
        """A model response: its usage added to the thread's total, one `token_count`."""
        last = dict(zip(FIELDS, (input, cached, cache_write, output, reasoning), strict=True))
        for name in FIELDS:
            self.total[name] += last[name]
        self._count(last, gap, limits)
        self.responses.append(
            Response(
                self.thread, self.now, self.model, input, cached, output, reasoning, cache_write
            )
        )
        return self

    def repeat(self, gap: float = 0.2) -> Rollout:
        """The same totals again (Codex writes one per rate-limit update)."""
        last = dict.fromkeys(FIELDS, 0)
        self._count(last, gap, (12.0, 40.0), last_as_before=True)
        return self

    def null_count(self) -> Rollout:
        """`info: null`: a thread's first snapshot, before any response."""
        self.add("event_msg", {"type": "token_count", "info": None,
                               "rate_limits": self._limits((10.0, 39.0))})  # fmt: skip
        return self

    def _usage(self, values: dict[str, int]) -> dict[str, int]:
        shown = {k: v for k, v in values.items() if k != "cache_write_input_tokens"}
        if self.shape.cache_write:
            shown["cache_write_input_tokens"] = values["cache_write_input_tokens"]
        shown["total_tokens"] = values["input_tokens"] + values["output_tokens"]
        return shown

    def _count(
        self, last: dict[str, int], gap: float, limits: tuple[float, float],
        last_as_before: bool = False,
    ) -> None:  # fmt: skip
        previous = next(
            (ln for ln in reversed(self.lines) if ln["payload"].get("type") == "token_count"
             and ln["payload"].get("info")), None,
        )  # fmt: skip
        if last_as_before and previous is not None:
            last_usage = previous["payload"]["info"]["last_token_usage"]
        else:
            last_usage = self._usage(last)
        info = {
            "total_token_usage": self._usage(self.total),
            "last_token_usage": last_usage,
            "model_context_window": 272000,
        }
        payload: dict[str, Any] = {"type": "token_count", "info": info}
        if self.shape.limits is not None:
            payload["rate_limits"] = self._limits(limits)
        if self.shape.usage_records:  # written just before the token_count, same figures
            self.add("token_usage_record", {"thread_id": self.thread, "response_id": "r",
                                            "usage": self._usage(last)}, gap=gap)  # fmt: skip
            gap = 0.001
        self.add("event_msg", payload, gap=gap)

    def _limits(self, used: tuple[float, float]) -> dict[str, Any] | None:
        kind = self.shape.limits
        if kind is None:
            return None
        if kind == "flat":
            return {
                "primary_used_percent": used[0],
                "secondary_used_percent": used[1],
                "primary_to_secondary_ratio_percent": 3.0,
                "primary_window_minutes": 300,
                "secondary_window_minutes": 10080,
            }
        windows = []
        for percent, minutes, reset in ((used[0], 300, 3600), (used[1], 10080, 86400)):
            window: dict[str, Any] = {"used_percent": percent, "window_minutes": minutes}
            if kind == "relative":
                window["resets_in_seconds"] = int(self.born + reset - self.now)
            else:
                window["resets_at"] = int(self.born) + reset
            windows.append(window)
        return {"primary": windows[0], "secondary": windows[1], "credits": None,
                "plan_type": "plus"}  # fmt: skip

    # -- forks ------------------------------------------------------------------------------

    def copy_history(self, parent: Rollout, restamp: bool = True, counts: bool = True) -> Rollout:
        """The parent's lines as a fork writes them after its own meta; its totals go on from
        the parent's (unless the shape counts afresh)."""
        for line in parent.lines:
            if not counts and line["type"] != "session_meta":
                continue
            item = copy.deepcopy(line)
            if restamp:
                self.now += 0.0005
                item["timestamp"] = iso(self.now)
            if self.shape.ordinals:
                item["ordinal"] = len(self.lines)
            self.lines.append(item)
        if counts and not self.shape.fresh_counter:
            self.total = dict(parent.total)
        self.start_ordinal = len(self.lines) if self.shape.ordinals else None
        if self.start_ordinal is not None and self.lines[0]["type"] == "session_meta":
            self.lines[0]["payload"]["subagent_history_start_ordinal"] = self.start_ordinal
        return self

    # -- files ------------------------------------------------------------------------------

    def data(self, pretty: bool = False) -> bytes:
        separators = (", ", ": ") if pretty else (",", ":")
        return b"".join(
            json.dumps(line, separators=separators).encode() + b"\n" for line in self.lines
        )

    def write(self, directory: Path, pretty: bool = False) -> Path:
        day = datetime.fromtimestamp(self.born, UTC)
        folder = directory / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / rollout_name(self.thread, self.born)
        path.write_bytes(self.data(pretty))
        return path


def expected(responses: list[Response]) -> dict[str, dict[str, int]]:
    """Per session, the tokens records.py's meaning gives those responses: plain sums."""
    totals: dict[str, dict[str, int]] = {}
    for r in responses:
        t = totals.setdefault(r.session, dict.fromkeys(("input", "output", "read", "write"), 0))
        t["input"] += r.input - r.cached - r.cache_write
        t["output"] += r.output
        t["read"] += r.cached
        t["write"] += r.cache_write
    return totals


class LineReader(Protocol):
    def feed(self, path: str, number: int, data: bytes) -> list[Any]: ...


def feed(reader: LineReader, path: Path) -> list[Any]:
    """Every complete line of a real file, as the follower hands them out (a last line
    without its newline waits)."""
    pieces = path.read_bytes().split(b"\n")
    records: list[Any] = []
    for number, data in enumerate(pieces[:-1], 1):
        records.extend(reader.feed(str(path), number, data))
    return records


def totals(records: list[Any]) -> dict[str, dict[str, int]]:
    """Per session, the tokens of the usage records, in `expected`'s form."""
    found: dict[str, dict[str, int]] = {}
    for r in records:
        if type(r).__name__ == "SessionUsage":
            t = found.setdefault(
                r.session_id, dict.fromkeys(("input", "output", "read", "write"), 0)
            )
            t["input"] += r.input_tokens
            t["output"] += r.output_tokens
            t["read"] += r.cache_read_tokens
            t["write"] += r.cache_write_tokens
    return found
