"""Threshold alerts with a duration and hysteresis, and the `on_alert` hook.

A rule fires once its condition has held for `for` seconds, and clears only after the value
has come back past `threshold - clear` (for ">") for `clear_for` seconds, so a value hovering
around its threshold raises one alert, not one per tick. The engine is pure: it sees a
(metric, subject) -> value mapping and a clock reading per tick, nothing else.
"""

from .engine import ActiveAlert, AlertChange, AlertEngine, describe, subject_label, values_from
from .hook import alert_env, run_on_alert, run_on_alert_async
from .rules import AlertRule, AlertSettings, default_rules, parse_size

__all__ = [
    "ActiveAlert",
    "AlertChange",
    "AlertEngine",
    "AlertRule",
    "AlertSettings",
    "alert_env",
    "default_rules",
    "describe",
    "parse_size",
    "run_on_alert",
    "run_on_alert_async",
    "subject_label",
    "values_from",
]
