"""Alert rules and their settings: what to watch, how long, and the hysteresis band."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

Metric = Literal[
    "cpu", "host_cpu", "mem", "gpu_temp", "gpu_mem", "errors", "error_rate", "stale", "exited",
    "budget", "needs_input",
]  # fmt: skip
Op = Literal[">", ">=", "<", "<="]
Severity = Literal["warning", "critical"]
Value = float | bool | None
Values = Mapping[tuple[str, str], Value]

AGENT_METRICS = frozenset({"cpu", "mem", "errors", "error_rate", "stale", "exited", "needs_input"})
"""Metrics whose subject is an agent name (the only ones an `agents` filter applies to)."""
BOOL_METRICS = frozenset({"stale", "exited", "needs_input"})
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
    """cpu (% of one core, per agent), host_cpu (%), mem (PSS bytes per agent), gpu_temp (°C
    per GPU), gpu_mem (% of a GPU's memory), errors (unresolved, per agent), error_rate (errors
    per minute per agent), stale, exited, needs_input (per agent, true/false: blocked on its
    user, as a hook said), budget (% spent, per budget)."""
    op: Op = ">"
    """How the value compares with the threshold to be in breach (ignored for stale/exited)."""
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    """The limit; required except for stale/exited/needs_input. For mem a size string such as
    "1GiB", "512MB" or "2G" is accepted (KiB/MiB/GiB and bare K/M/G are 1024-based, KB/MB/GB
    1000)."""
    for_: float = Field(default=0.0, ge=0.0, le=86_400.0, alias="for", allow_inf_nan=False)
    """Seconds the breach must hold, without interruption, before the alert fires."""
    clear: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    """Hysteresis: the value must come back this far past the threshold to clear (">" 80
    with clear 10 clears at 70 or below). Default: 10 points for cpu, 5 for gpu_temp and
    gpu_mem, 10% of the threshold for mem and error_rate, 0 for errors and budget."""
    clear_for: float | None = Field(default=None, ge=0.0, le=86_400.0, allow_inf_nan=False)
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
    """What a first run watches: busy or bloated agents, hot GPUs, errors, silence, agents
    waiting for you, budgets."""
    return [
        _rule({"name": "cpu", "metric": "cpu", "threshold": 80, "for": 30, "clear": 10}),
        _rule({"name": "mem", "metric": "mem", "threshold": "1GiB"}),
        _rule({"name": "gpu-temp", "metric": "gpu_temp", "threshold": 85, "clear": 5}),
        _rule({"name": "errors", "metric": "errors", "threshold": 10}),
        _rule({"name": "stale", "metric": "stale"}),
        _rule({"name": "exited", "metric": "exited"}),
        # An agent blocked on a permission or a question for 2 minutes: `on_alert` can page
        # you (`[[alerts.rules]] name = "needs-input"` changes `for`, or `enabled = false`);
        # it clears as soon as the agent goes on.
        _rule({"name": "needs-input", "metric": "needs_input", "for": 120, "clear_for": 0}),
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
