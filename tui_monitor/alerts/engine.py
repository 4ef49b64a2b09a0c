"""The alert engine: per (rule, subject) state, firing and clearing, and its inputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .. import fmt, safe
from ..models import AgentSample, Snapshot
from .rules import BOOL_METRICS, AlertRule, AlertSettings, Severity, Value, Values

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
    "budget": "budget {}", "stale": "{}", "exited": "{}", "needs_input": "{}",
}  # fmt: skip
_FLIP = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}
_BOOL_WORDS = {
    "stale": ("is stale", "is no longer stale"),
    "exited": ("has exited", "is back"),
    "needs_input": ("needs input", "no longer needs input"),
}


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


def needs_input(a: AgentSample) -> bool:
    """Blocked on its user, as a hook said, while its process (if seen) is alive."""
    s = a.session
    alive = a.status not in ("stopped", "zombie", "exited", "stale")
    return s is not None and s.state == "needs_input" and alive


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
        # A session read from files with no live process never had one we saw go: no alert.
        out["exited", a.name] = exited and a.source != "session"
        out["needs_input", a.name] = needs_input(a)
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
