"""Threshold alerts with a duration and hysteresis, and the `on_alert` hook.

A rule fires once its condition has held for `for` seconds, and clears only after the value
has come back past `threshold - clear` (for ">") for `clear_for` seconds, so a value hovering
around its threshold raises one alert, not one per tick. The engine is pure: it sees a
(metric, subject) -> value mapping and a clock reading per tick, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from . import fmt, safe
from .models import Snapshot

Metric = Literal[
    "cpu", "host_cpu", "mem", "gpu_temp", "gpu_mem", "errors", "error_rate", "stale", "exited",
    "budget",
]  # fmt: skip
Op = Literal[">", ">=", "<", "<="]
Severity = Literal["warning", "critical"]
Value = float | bool | None
Values = Mapping[tuple[str, str], Value]

AGENT_METRICS = frozenset({"cpu", "mem", "errors", "error_rate", "stale", "exited"})
"""Metrics whose subject is an agent name (the only ones an `agents` filter applies to)."""
BOOL_METRICS = frozenset({"stale", "exited"})
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgtp]?)(i?)(b?)\s*$", re.IGNORECASE)
# Default hysteresis per metric: (absolute margin, fraction of the threshold).
_CLEAR: dict[str, tuple[float, float]] = {
    "cpu": (10.0, 0.0), "host_cpu": (10.0, 0.0), "gpu_mem": (5.0, 0.0), "gpu_temp": (5.0, 0.0),
    "mem": (0.0, 0.1), "error_rate": (0.0, 0.1), "errors": (0.0, 0.0), "budget": (0.0, 0.0),
}  # fmt: skip


def parse_size(text: str) -> float:
    """'512MB', '1.5GiB', '2G' -> bytes. KiB/MiB/GiB and bare K/M/G are powers of 1024
    (as in ps and free); KB/MB/GB are powers of 1000; case does not matter."""
    m = _SIZE_RE.match(text)
    if not m or (m.group(3) and not m.group(2)):
        raise ValueError(f"{text!r} is not a size such as 512MiB, 1.5GiB or 2GB")
    number, prefix, binary, byte = m.groups()
    power = " kmgtp".index(prefix.lower()) if prefix else 0
    base = 1000 if byte and not binary else 1024
    return float(number) * float(base) ** power


class AlertRule(BaseModel):
    """An `[[alerts.rules]]` entry: one condition on one metric, checked for every subject."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    """Unique id of the rule, shown with each alert (letters, digits, '_', '.', ':', '-')."""
    metric: Metric
    """cpu (% of one core, per agent), host_cpu (%), mem (RSS bytes per agent), gpu_temp (°C
    per GPU), gpu_mem (% of a GPU's memory), errors (unresolved, per agent), error_rate (errors
    per minute per agent), stale, exited (per agent, true/false), budget (% spent, per budget)."""
    op: Op = ">"
    """How the value compares with the threshold to be in breach (ignored for stale/exited)."""
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    """The limit; required except for stale/exited. For mem a size string such as "1GiB",
    "512MB" or "2G" is accepted (KiB/MiB/GiB and bare K/M/G are 1024-based, KB/MB/GB 1000)."""
    for_: float = Field(default=0.0, ge=0.0, alias="for", allow_inf_nan=False)
    """Seconds the breach must hold, without interruption, before the alert fires."""
    clear: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    """Hysteresis: the value must come back this far past the threshold to clear (">" 80
    with clear 10 clears at 70 or below). Default: 10 points for cpu, 5 for gpu_temp and
    gpu_mem, 10% of the threshold for mem and error_rate, 0 for errors and budget."""
    clear_for: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    """Seconds the value must stay clear before the alert clears (default: `for`)."""
    severity: Severity = "warning"
    """warning or critical."""
    agents: list[str] | None = None
    """Only these agents (names or globs such as "worker#*"); per-agent metrics only."""
    enabled: bool = True
    """Switch the rule off without deleting it."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("must be 1-64 letters, digits, '_', '.', ':' or '-'")
        return v

    @field_validator("threshold", "clear", mode="before")
    @classmethod
    def _sizes(cls, v: Any, info: ValidationInfo) -> Any:
        if isinstance(v, str) and info.data.get("metric") == "mem":
            return parse_size(v)
        return v

    @field_validator("agents")
    @classmethod
    def _globs(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not all(v):
            raise ValueError("agent names or globs must not be empty")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> AlertRule:
        if self.agents is not None and self.metric not in AGENT_METRICS:
            raise ValueError(f"agents only applies to per-agent metrics, not {self.metric}")
        if self.metric in BOOL_METRICS:
            return self
        if self.threshold is None:
            raise ValueError(f"threshold is required for metric {self.metric}")
        if self.op[0] == ">" and self.clear_margin > max(self.threshold, 0.0):
            raise ValueError("clear must not exceed threshold, or the alert could never clear")
        return self

    @property
    def clear_margin(self) -> float:
        """The hysteresis in use: `clear`, or the metric's default (never below 0 for ">")."""
        if self.metric in BOOL_METRICS or self.threshold is None:
            return 0.0
        if self.clear is not None:
            return self.clear
        margin, fraction = _CLEAR[self.metric]
        value = margin + fraction * abs(self.threshold)
        return min(value, max(self.threshold, 0.0)) if self.op[0] == ">" else value

    @property
    def clear_seconds(self) -> float:
        return self.for_ if self.clear_for is None else self.clear_for

    def applies_to(self, subject: str) -> bool:
        return self.agents is None or any(fnmatch.fnmatchcase(subject, g) for g in self.agents)

    def breached(self, value: float | bool) -> bool:
        return _compare(self, value, 0.0)

    def cleared(self, value: float | bool) -> bool:
        """Past the clear level: the breach test with the threshold moved by `clear`, negated."""
        return not _compare(self, value, self.clear_margin)


def _compare(rule: AlertRule, value: float | bool, shift: float) -> bool:
    if rule.metric in BOOL_METRICS or rule.threshold is None:
        return bool(value)
    v, t = float(value), rule.threshold
    match rule.op:
        case ">":
            return v + shift > t
        case ">=":
            return v + shift >= t
        case "<":
            return v - shift < t
        case _:
            return v - shift <= t


def _rule(data: dict[str, Any]) -> AlertRule:
    return AlertRule.model_validate(data)


def default_rules() -> list[AlertRule]:
    """What a first run watches: busy or bloated agents, hot GPUs, errors, silence, budgets."""
    return [
        _rule({"name": "cpu", "metric": "cpu", "threshold": 80, "for": 30, "clear": 10}),
        _rule({"name": "mem", "metric": "mem", "threshold": "1GiB"}),
        _rule({"name": "gpu-temp", "metric": "gpu_temp", "threshold": 85, "clear": 5}),
        _rule({"name": "errors", "metric": "errors", "threshold": 10}),
        _rule({"name": "stale", "metric": "stale"}),
        _rule({"name": "exited", "metric": "exited"}),
        _rule({"name": "budget-80", "metric": "budget", "op": ">=", "threshold": 80}),
        _rule({"name": "budget-100", "metric": "budget", "op": ">=", "threshold": 100,
               "severity": "critical"}),
    ]  # fmt: skip


class AlertSettings(BaseModel):
    """The `[alerts]` table: rules, and how a firing or clearing alert is announced."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Evaluate alert rules at all."""
    rules: list[AlertRule] | None = None
    """Your rules. Given, they replace the built-in ones unless `defaults = true`."""
    defaults: bool | None = None
    """Built-in rules: unset = only when `rules` is not given; true = always, merged with
    yours (a rule of yours with a built-in's name replaces it); false = never."""
    bell: bool = False
    """Ring the terminal bell when an alert fires."""
    toast: bool = True
    """Show a notification in the UI when an alert fires or clears."""
    on_alert: list[str] | None = None
    """A command run on every firing and clearing, as an argv list (never through a shell),
    e.g. ["notify-send", "tui-monitor"]; details arrive in TUI_MONITOR_ALERT_* variables."""
    on_alert_timeout: float = Field(default=10.0, gt=0.0, le=600.0)
    """Seconds the command may run before it is killed."""

    @field_validator("rules")
    @classmethod
    def _unique(cls, v: list[AlertRule] | None) -> list[AlertRule] | None:
        seen: set[str] = set()
        for rule in v or ():
            if rule.name in seen:
                raise ValueError(f"alert rule name {rule.name!r} is defined twice")
            seen.add(rule.name)
        return v

    @field_validator("on_alert", mode="before")
    @classmethod
    def _argv(cls, v: Any) -> Any:
        if isinstance(v, str):
            raise ValueError('must be a list of arguments such as ["notify-send", "alert"]')
        if isinstance(v, list) and (not v or not v[0]):
            raise ValueError("needs a program as its first element")
        if isinstance(v, list) and any(isinstance(a, str) and "\0" in a for a in v):
            raise ValueError("arguments must not contain NUL characters")
        return v

    def effective_rules(self) -> list[AlertRule]:
        """The enabled rules the engine runs, defaults merged as `defaults` says."""
        if not self.enabled:
            return []
        mine = list(self.rules or [])
        use_defaults = self.rules is None if self.defaults is None else self.defaults
        if use_defaults:
            names = {r.name for r in mine}
            mine = [r for r in default_rules() if r.name not in names] + mine
        return [r for r in mine if r.enabled]


# -- the engine ------------------------------------------------------------------------


class AlertChange(BaseModel):
    """An alert fired or cleared: stored, logged, toasted and handed to `on_alert`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    subject: str = Field(description="agent name, GPU index, budget name, or '' for the host")
    metric: str
    state: Literal["firing", "cleared"]
    value: Value = Field(description="the reading that caused the change (last known if gone)")
    threshold: float | None = Field(description="None for stale/exited")
    severity: Severity
    since: float = Field(description="epoch s the breach (firing) or the clear (cleared) began")
    at: float = Field(description="epoch s of the change")
    reason: Literal["value", "gone"] = "value"
    message: str


class ActiveAlert(BaseModel):
    """A firing alert as the UI lists it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    subject: str
    metric: str
    severity: Severity
    value: Value
    threshold: float | None
    since: float = Field(description="epoch s the breach began")
    message: str


@dataclass(slots=True)
class _State:
    value: float | bool
    pending: float | None = None  # first sample of the current, unbroken breach
    firing: bool = False
    clearing: float | None = None  # first sample of the current run past the clear level
    gone: bool = False


class AlertEngine:
    """Turns per-tick values into firing/cleared changes, keeping state per (rule, subject).

    `values` must hold every subject each tick: a (rule, subject) whose key is missing is
    gone (an agent that left, a GPU no longer listed). A gone subject counts as clear: its
    alert clears with reason "gone" once it has been missing for `clear_for` seconds (at
    once for the default of `for` = 0), so a subject missing for one tick does not flap.
    A None value means no reading: nothing changes, timers keep running.
    """

    def __init__(self, settings: AlertSettings | Sequence[AlertRule]) -> None:
        rules = settings.effective_rules() if isinstance(settings, AlertSettings) else settings
        self.rules: tuple[AlertRule, ...] = tuple(r for r in rules if r.enabled)
        self._states: dict[tuple[str, str], tuple[AlertRule, _State]] = {}

    def evaluate(self, now: float, values: Values) -> list[AlertChange]:
        by_metric: dict[str, list[tuple[str, Value]]] = {}
        for (metric, subject), value in values.items():
            by_metric.setdefault(metric, []).append((subject, value))
        seen: set[tuple[str, str]] = set()
        changes: list[AlertChange] = []
        for rule in self.rules:
            for subject, value in by_metric.get(rule.metric, ()):
                if not rule.applies_to(subject):
                    continue
                key = (rule.name, subject)
                seen.add(key)
                if value is None:
                    continue
                entry = self._states.get(key)
                if entry is None:
                    if not rule.breached(value):
                        continue
                    entry = self._states[key] = (rule, _State(value))
                change = self._step(rule, subject, entry[1], now, value)
                if change is not None:
                    changes.append(change)
        for key in [k for k in self._states if k not in seen]:
            rule, state = self._states[key]
            change = self._step(rule, key[1], state, now, None)
            if change is not None:
                changes.append(change)
        return changes

    def _step(
        self, rule: AlertRule, subject: str, st: _State, now: float, value: float | bool | None
    ) -> AlertChange | None:
        key = (rule.name, subject)
        st.gone = value is None
        if value is not None:
            st.value = value
        if not st.firing:
            if value is None or not rule.breached(value):
                del self._states[key]
                return None
            st.pending = now if st.pending is None else st.pending
            if now - st.pending < rule.for_:
                return None
            st.firing, st.clearing = True, None
            return self._change(rule, subject, st, "firing", st.pending, now)
        if value is not None and not rule.cleared(value):
            st.clearing = None
            return None
        st.clearing = now if st.clearing is None else st.clearing
        if now - st.clearing < rule.clear_seconds:
            return None
        del self._states[key]
        return self._change(rule, subject, st, "cleared", st.clearing, now)

    def _change(
        self, rule: AlertRule, subject: str, st: _State, state: Literal["firing", "cleared"],
        since: float, now: float,
    ) -> AlertChange:  # fmt: skip
        return AlertChange(
            rule=rule.name,
            subject=subject,
            metric=rule.metric,
            state=state,
            value=st.value,
            threshold=None if rule.metric in BOOL_METRICS else rule.threshold,
            severity=rule.severity,
            since=since,
            at=now,
            reason="gone" if st.gone else "value",
            message=describe(rule, subject, st.value, state, now - since, gone=st.gone),
        )

    def active(self) -> list[ActiveAlert]:
        """Firing alerts, critical first, then oldest first."""
        out = [
            ActiveAlert(
                rule=rule.name,
                subject=subject,
                metric=rule.metric,
                severity=rule.severity,
                value=st.value,
                threshold=None if rule.metric in BOOL_METRICS else rule.threshold,
                since=st.pending if st.pending is not None else 0.0,
                message=describe(rule, subject, st.value, "firing", 0.0),
            )
            for (_, subject), (rule, st) in self._states.items()
            if st.firing
        ]
        out.sort(key=lambda a: (a.severity != "critical", a.since, a.rule, a.subject))
        return out


# -- messages --------------------------------------------------------------------------

_LABELS = {
    "cpu": "{} cpu", "host_cpu": "host cpu", "mem": "{} mem", "gpu_temp": "GPU {} temperature",
    "gpu_mem": "GPU {} memory", "errors": "{} unresolved errors", "error_rate": "{} error rate",
    "budget": "budget {}", "stale": "{}", "exited": "{}",
}  # fmt: skip
_FLIP = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}
_BOOL_WORDS = {"stale": ("is stale", "is no longer stale"), "exited": ("has exited", "is back")}


def _number(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:.1f}"


def format_value(metric: str, v: float | bool) -> str:
    """A reading as people read it: 93%, 1.2 GiB, 88°C, 3.5/min."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if metric == "mem":
        return fmt.size(v)
    if metric == "gpu_temp":
        return f"{_number(v)}°C"
    if metric == "error_rate":
        return f"{_number(v)}/min"
    return _number(v) + ("%" if metric in ("cpu", "host_cpu", "gpu_mem", "budget") else "")


def subject_label(metric: str, subject: str) -> str:
    """Who an alert is about, safe to print: an agent name, "GPU 0", "budget daily", "host"."""
    name = safe.name(subject)
    if metric.startswith("gpu_"):
        return f"GPU {name}"
    return "host" if metric == "host_cpu" else f"budget {name}" if metric == "budget" else name


def describe(
    rule: AlertRule,
    subject: str,
    value: float | bool,
    state: str,
    held: float,
    *,
    gone: bool = False,
) -> str:
    """One line such as "planner cpu 93% > 80% for 30s" (subject made safe to print)."""
    label = _LABELS[rule.metric].format(safe.name(subject))
    after = f" for {fmt.duration(held)}" if held >= 1 else ""
    if gone:
        text = f"{subject_label(rule.metric, subject)} is gone; {rule.name} alert cleared"
    elif rule.metric in BOOL_METRICS:
        fired, back = _BOOL_WORDS[rule.metric]
        text = f"{label} {fired}{after}" if state == "firing" else f"{label} {back}{after}"
    elif state == "firing":
        text = f"{label} {format_value(rule.metric, value)} {rule.op} "
        text += format_value(rule.metric, rule.threshold or 0.0) + after
    else:
        level = (rule.threshold or 0.0) + (-1 if rule.op[0] == ">" else 1) * rule.clear_margin
        text = f"{label} back to {format_value(rule.metric, value)} "
        text += f"({_FLIP[rule.op]} {format_value(rule.metric, level)}){after}"
    return safe.clean(text, 512)


# -- inputs ----------------------------------------------------------------------------


def values_from(
    snapshot: Snapshot,
    *,
    unresolved: Mapping[str, int],
    error_rate: Mapping[str, float],
    budgets: Sequence[tuple[str, float]],
) -> dict[tuple[str, str], Value]:
    """One tick's alert inputs. An exited agent uses no CPU or memory (0, so those alerts
    clear); error counts cover every agent in the snapshot (0 when absent) and every agent
    that has any, present or not."""
    out: dict[tuple[str, str], Value] = {("host_cpu", ""): snapshot.host.cpu_utilization}
    names: list[str] = []
    for a in snapshot.agents:
        names.append(a.name)
        exited = a.status == "exited"
        out["cpu", a.name] = 0.0 if exited else a.cpu_utilization
        out["mem", a.name] = 0.0 if exited else a.ram_used
        out["stale", a.name] = a.status == "stale"
        out["exited", a.name] = exited
    for name in [*names, *unresolved, *error_rate]:
        out["errors", name] = unresolved.get(name, 0)
        out["error_rate", name] = error_rate.get(name, 0.0)
    for g in snapshot.gpu.gpus:
        out["gpu_temp", str(g.index)] = g.gpu_temperature
        used, total = g.gpu_memory_used, g.gpu_memory_total
        out["gpu_mem", str(g.index)] = 100.0 * used / total if used is not None and total else None
    for name, percent in budgets:
        out["budget", name] = percent
    return out


# -- the on_alert command --------------------------------------------------------------

ENV_PREFIX = "TUI_MONITOR_ALERT_"
_TAIL = 4096


def _env_number(v: Value) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(int(v)) if float(v).is_integer() else f"{v:.3f}".rstrip("0")


def alert_env(change: AlertChange) -> dict[str, str]:
    """The TUI_MONITOR_ALERT_* variables; every value one printable line, no NUL bytes."""
    raw = {
        "RULE": change.rule, "STATE": change.state, "SUBJECT": change.subject,
        "METRIC": change.metric, "VALUE": _env_number(change.value),
        "THRESHOLD": _env_number(change.threshold), "SEVERITY": change.severity,
        "MESSAGE": change.message, "SINCE": f"{change.since:.3f}", "AT": f"{change.at:.3f}",
        "REASON": change.reason,
    }  # fmt: skip
    return {ENV_PREFIX + k: safe.clean(v, 1024).replace("\0", "") for k, v in raw.items()}


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: its pid is the group id
    with contextlib.suppress(ProcessLookupError):
        proc.kill()  # in case it left its group


async def _tail(stream: asyncio.StreamReader, buf: bytearray) -> None:
    while chunk := await stream.read(65536):
        buf += chunk
        del buf[:-_TAIL]


async def run_on_alert_async(
    argv: Sequence[str], change: AlertChange, *, timeout: float
) -> str | None:
    """Run `argv` (no shell) with the alert in its environment; None, or one problem line.

    Never raises for the child's sake: a missing program, a failure exit or a timeout (the
    child's whole process group is killed) come back as text for the event log. stderr is
    our own pipe, not asyncio's: on 3.11 `Process.wait` also waits for its pipes to close,
    which a daemonised grandchild holding stderr would postpone forever.
    """
    if not argv or not argv[0]:
        return "on_alert: no command configured"
    name = safe.name(argv[0])
    rfd, wfd = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=wfd,
            env={**os.environ, **alert_env(change)},
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        os.close(rfd)
        why = f"cannot start: {safe.clean(exc, 200)}"
        if isinstance(exc, FileNotFoundError | PermissionError):
            why = "program not found" if isinstance(exc, FileNotFoundError) else "permission denied"
        return f"on_alert: {name}: {why}"
    finally:
        os.close(wfd)
    stream = asyncio.StreamReader()
    pipe = os.fdopen(rfd, "rb", buffering=0)
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stream), pipe
    )
    err = bytearray()
    reader = asyncio.ensure_future(_tail(stream, err))
    rc: int | None = None
    try:
        rc = await asyncio.wait_for(proc.wait(), timeout)
        with contextlib.suppress(TimeoutError):  # stderr may outlive the child; never wait long
            await asyncio.wait_for(asyncio.shield(reader), 1.0)
    except TimeoutError:
        _kill_group(proc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5.0)
    except BaseException:  # cancelled with the app: take the child down too
        _kill_group(proc)
        raise
    finally:
        reader.cancel()
        transport.close()
    if rc is None:
        return f"on_alert: {name}: still running after {timeout:g} s, killed"
    if rc == 0:
        return None
    lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    last = f": {safe.clean(lines[-1].strip(), 200)}" if lines else ""
    how = f"was killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
    return f"on_alert: {name} {how}{last}"


def run_on_alert(argv: Sequence[str], change: AlertChange, *, timeout: float) -> str | None:
    """`run_on_alert_async` for a worker thread (it runs its own event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_on_alert_async(argv, change, timeout=timeout))
    return "on_alert: run_on_alert called on an event loop; use run_on_alert_async"
